"""Checks for filter_logits and sample_next against labpath's reference sampling rules.

Logits are float64 with distinct values (no ties at the top-k or top-p boundary, and
no cumulative mass within 1e-6 of top_p, where float rounding would decide).
"""

import math

import torch
from serve_ref import filtered

from labpath.checks import kit

V = 13  # vocabulary size of these checks: distinct from every other size used


def logits_batch(n, seed, spread=2.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, V, generator=g, dtype=torch.float64) * spread


def as_tensor(x):
    return torch.as_tensor(x, dtype=torch.float64)


def compare_kept(yours, expected, what, diagnose=None, hint=None):
    """Same kept set (finite entries), the kept values equal, -inf elsewhere."""
    yours = as_tensor(yours)
    if yours.shape != expected.shape:
        kit.fail(f"{what}: wrong shape", yours=tuple(yours.shape),
                 expected=tuple(expected.shape))
    kept_y, kept_e = torch.isfinite(yours), torch.isfinite(expected)
    if not torch.equal(kept_y, kept_e) or (yours[~kept_y] > 0).any():
        n = expected.shape[-1]
        rows = (kept_y != kept_e).reshape(-1, n).any(-1).nonzero().flatten().tolist()
        row = rows[0] if rows else 0
        kit.fail(f"{what}: the kept tokens differ (row {row}: kept ids)",
                 yours=kept_y.reshape(-1, n)[row].nonzero().flatten().tolist(),
                 expected=kept_e.reshape(-1, n)[row].nonzero().flatten().tolist(),
                 hint=hint, diagnosis=diagnose(yours) if diagnose else None)
    kit.close(yours.masked_fill(~kept_y, 0), expected.masked_fill(~kept_e, 0),
              f"{what}: the kept logits", rtol=1e-12, atol=1e-12,
              hint="kept tokens keep logit / temperature")


def zero_fill(yours, expected):
    """The fingerprint of masking with 0 instead of -inf."""
    removed = ~torch.isfinite(expected)
    if removed.any() and (yours[removed] == 0).all():
        return ("the dropped tokens are set to 0, not -inf: after the softmax they still "
                "have probability, so they are still sampled")
    return None


def test_filter_logits_divides_by_the_temperature(serve):
    """With no top-k or top-p, filter_logits returns logits / temperature."""
    x = logits_batch(4, kit.seed())
    for T in (0.7, 1.0, 1.6):
        for row in x:
            kit.close(serve.filter_logits(row.clone(), T), row / T,
                      f"filter_logits(logits, temperature={T})", rtol=1e-12, atol=1e-12,
                      hint="divide the logits by the temperature, nothing else")


def test_filter_logits_top_k_keeps_the_k_largest(serve):
    """top_k keeps exactly the k largest logits (divided by T) and sets the rest to -inf."""
    x = logits_batch(6, kit.seed() + 1)
    for T, k in ((0.7, 3), (1.0, 1), (1.3, 5), (1.0, V)):
        for row in x:
            yours = serve.filter_logits(row.clone(), T, top_k=k)
            expected = filtered(row, T, top_k=k)
            compare_kept(yours, expected, f"filter_logits(temperature={T}, top_k={k})",
                         diagnose=lambda y, e=expected: zero_fill(y, e),
                         hint="fill everything below the k-th largest with float('-inf')")


def top_p_mistake(yours, logits, T, p, k=None):
    """Name a known top-p mistake when the kept set is exactly what it produces."""
    kept = torch.isfinite(yours)
    probs = torch.softmax(logits.double() / T, -1)
    n, mass = int(kept.sum()), float(probs[kept].sum())
    crossing = filtered(logits, T, top_k=k, top_p=p)
    if n == int(torch.isfinite(crossing).sum()) - 1 and mass < p:
        return (f"kept {n} tokens ({mass:.2f} of the mass) for top_p {p}: the token "
                "that crosses the threshold must stay, so the kept mass is >= top_p")
    raw = torch.isfinite(filtered(logits, 1.0, top_k=k, top_p=p))
    if T != 1.0 and torch.equal(kept, raw):
        return ("top-p was computed on the probabilities before the temperature: "
                "divide by the temperature first (then top-k, then top-p)")
    return None


def test_filter_logits_top_p_keeps_the_token_that_crosses(serve):
    """top_p keeps the smallest set of likeliest tokens whose mass reaches top_p."""
    # the brief's example: probabilities 0.50, 0.30, 0.15, 0.03, 0.02; top_p 0.9 keeps three
    # (0.95 would put the fourth token's mass-before exactly on the threshold)
    five = torch.log(torch.tensor([0.03, 0.50, 0.02, 0.15, 0.30], dtype=torch.float64))
    cases = [(five, 1.0, 0.9), (five, 1.0, 0.6), (five, 1.0, 1.0)]
    x = logits_batch(8, kit.seed() + 2)
    cases += [(row, 1.0, p) for row in x for p in (0.5, 0.9)]
    for logits, T, p in cases:
        yours = serve.filter_logits(logits.clone(), T, top_p=p)
        expected = filtered(logits, T, top_p=p)
        compare_kept(yours, expected, f"filter_logits(temperature={T}, top_p={p}) on "
                     f"probabilities {[round(v, 3) for v in torch.softmax(logits, -1).tolist()]}",
                     diagnose=lambda y, lg=logits, T=T, p=p: top_p_mistake(y, lg, T, p),
                     hint="sort descending, keep a token while the mass before it is < top_p")


def test_filter_logits_applies_temperature_then_top_k_then_top_p(serve):
    """Temperature comes first: it changes which tokens top-p keeps."""
    x = logits_batch(12, kit.seed() + 3, spread=1.5)
    found = 0
    for row in x:
        for T, k, p in ((0.5, None, 0.8), (1.8, None, 0.8), (1.8, 6, 0.7)):
            expected = filtered(row, T, top_k=k, top_p=p)
            if torch.equal(torch.isfinite(expected), torch.isfinite(filtered(row, 1.0, k, p))):
                continue  # this case cannot tell the orders apart
            found += 1
            yours = serve.filter_logits(row.clone(), T, top_k=k, top_p=p)
            compare_kept(yours, expected,
                         f"filter_logits(temperature={T}, top_k={k}, top_p={p})",
                         diagnose=lambda y, r=row, T=T, p=p, k=k: top_p_mistake(y, r, T, p, k),
                         hint="divide by the temperature first, then top-k, then top-p")
    if found < 3:
        raise kit.HarnessError("too few logit vectors where the order matters")


def test_filter_logits_works_row_by_row_on_a_batch(serve):
    """On a (B, V) batch every row is filtered on its own (the vocabulary is the last axis)."""
    x = logits_batch(5, kit.seed() + 4)
    for T, k, p in ((0.8, 4, None), (1.0, None, 0.7), (1.2, 6, 0.8)):
        yours = serve.filter_logits(x.clone(), T, top_k=k, top_p=p)
        expected = filtered(x, T, top_k=k, top_p=p)
        compare_kept(yours, expected, f"filter_logits on a (B, V) = (5, {V}) batch, "
                     f"temperature={T}, top_k={k}, top_p={p}",
                     hint="topk, sort, softmax and cumsum all along dim=-1")


def test_temperature_zero_is_argmax(serve):
    """sample_next with temperature 0 returns the argmax, whatever top_k and top_p say."""
    x = logits_batch(50, kit.seed() + 5)
    for i, row in enumerate(x):
        try:
            got = serve.sample_next(row.clone(), 0, top_k=None, top_p=None,
                                    generator=torch.Generator().manual_seed(i))
        except RuntimeError as e:
            kit.fail(f"sample_next(logits, temperature=0) raised {type(e).__name__}: {e}",
                     diagnosis="temperature 0 divides the logits by zero (inf - inf = NaN): "
                     "temperature 0 means greedy, return the argmax",
                     hint="if temperature == 0: return int(torch.argmax(logits))")
        if int(got) != int(torch.argmax(row)):
            kit.fail("sample_next(logits, temperature=0) is not the argmax",
                     yours=int(got), expected=int(torch.argmax(row)), where=f"vector {i}")
        got = serve.sample_next(row.clone(), 0, top_k=3, top_p=0.5,
                                generator=torch.Generator().manual_seed(i))
        if int(got) != int(torch.argmax(row)):
            kit.fail("sample_next(logits, 0, top_k=3, top_p=0.5) is not the argmax",
                     yours=int(got), expected=int(torch.argmax(row)), where=f"vector {i}")


def chi_square_p(counts, probs, n):
    """Upper tail of Pearson's chi-square statistic (Wilson-Hilferty approximation)."""
    stat = sum((c - n * p) ** 2 / (n * p) for c, p in zip(counts, probs))
    k = len(probs) - 1
    z = ((stat / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return 0.5 * math.erfc(z / math.sqrt(2))


def test_samples_follow_the_filtered_distribution(serve):
    """Draws at T=1 stay in the kept set and match the renormalised probabilities."""
    logits = torch.tensor([0.3, 1.2, -0.5, 0.9, 2.0, -1.0, 0.1, 1.5, -0.2, 0.0, 0.6, -2.0, 1.0],
                          dtype=torch.float64)
    n = 3000
    for k, p in ((3, None), (None, 0.6)):
        expected = filtered(logits, 1.0, top_k=k, top_p=p)
        probs = torch.softmax(expected, -1)
        kept = torch.isfinite(expected).nonzero().flatten().tolist()
        g = torch.Generator().manual_seed(kit.seed())
        draws = [int(serve.sample_next(logits.clone(), 1.0, top_k=k, top_p=p, generator=g))
                 for _ in range(n)]
        outside = sorted(set(draws) - set(kept))
        if outside:
            kit.fail(f"sample_next(top_k={k}, top_p={p}) drew tokens outside the kept set",
                     yours=outside, expected=kept,
                     diagnosis="dropped tokens are still sampled" if k else None)
        counts = [draws.count(i) for i in kept]
        pv = chi_square_p(counts, [float(probs[i]) for i in kept], n)
        if pv < 1e-4:
            kit.fail(f"sample_next(top_k={k}, top_p={p}): {n} draws do not follow "
                     f"softmax of the kept logits (chi-square p = {pv:.2g})",
                     yours=dict(zip(kept, counts)),
                     expected={i: round(n * float(probs[i])) for i in kept},
                     hint="softmax over the filtered logits, then torch.multinomial")


def test_sampling_uses_the_given_generator(serve):
    """The same generator seed gives the same draws, whatever the global RNG does."""
    logits = logits_batch(1, kit.seed() + 6)[0]
    runs = []
    for reseed in (1, 2):
        torch.manual_seed(reseed)  # a different global state each time
        g = torch.Generator().manual_seed(kit.seed())
        runs.append([int(serve.sample_next(logits.clone(), 1.0, generator=g))
                     for _ in range(40)])
    if runs[0] != runs[1]:
        kit.fail("sample_next with generators seeded alike drew different tokens",
                 yours=runs[1][:12], expected=runs[0][:12],
                 hint="pass generator= to torch.multinomial: a request's draws must come "
                 "from its own generator, never the global one")
