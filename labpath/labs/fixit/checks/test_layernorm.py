"""LayerNorm: each position normalised alone, GPT-2's statistics, a plain start."""

import torch
from probes import B, C, T, build, load
from torch.nn import functional as F

from labpath.checks import kit


def _random_ln(blk, g):
    ln = build(blk.LayerNorm, C, True)
    w = 1 + 0.5 * torch.randn(C, generator=g, dtype=torch.float64)
    b = 0.5 * torch.randn(C, generator=g, dtype=torch.float64)
    load(ln, "LayerNorm", {"weight": w, "bias": b})
    return ln, w, (b if "bias" in dict(ln.named_parameters()) else None)


def test_layernorm_normalises_each_position_alone(blk):
    # Changing the input at one (batch, position) must leave every other output
    # bit-identical.
    g = torch.Generator().manual_seed(21)
    ln, _, _ = _random_ln(blk, g)
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    with torch.no_grad():
        base = ln(x).double()
        for b, t in ((0, 0), (1, 3), (2, T - 1)):
            x2 = x.clone()
            x2[b, t] = x2[b, t] * 3 + 1
            out = ln(x2).double()
            other = torch.ones(B, T, dtype=torch.bool)
            other[b, t] = False
            if not torch.equal(out[other], base[other]):
                diff = (out - base).abs().amax(-1)
                diff[b, t] = 0
                where = [int(i) for i in torch.nonzero(diff)[0]]
                kit.fail(f"changing the input at (b={b}, t={t}) changed LayerNorm's output at "
                         f"(b={where[0]}, t={where[1]})", yours=float(diff[tuple(where)]),
                         expected=0.0,
                         hint="the mean and variance are over the features of one position")


def test_layernorm_matches_the_reference(blk):
    # Rows of C features (a 2-D input), ordinary and low-variance ones, against
    # torch's layer_norm with eps = 1e-5.
    g = torch.Generator().manual_seed(23)
    ln, w, b = _random_ln(blk, g)
    for what, x in (("N(0, 1) inputs", torch.randn(5, C, generator=g, dtype=torch.float64)),
                    ("inputs 3 + N(0, 0.01^2)",
                     3 + 0.01 * torch.randn(5, C, generator=g, dtype=torch.float64))):
        with torch.no_grad():
            try:
                y = ln(x).double()
            except Exception:  # a LayerNorm written for (B, T, C) only
                y = ln(x.unsqueeze(0)).double().squeeze(0)
        kit.close(y, F.layer_norm(x, (C,), w, b, 1e-5), f"LayerNorm on {what}", rtol=1e-6,
                  atol=1e-6, dims="N C",
                  hint="(x - mean) / sqrt(var + eps) with the population variance, eps 1e-5")


def test_fresh_layernorm_is_the_plain_normalisation(blk):
    ln = build(blk.LayerNorm, C, True)
    block = build(blk.Block, n_head=2)
    for what, m in (("LayerNorm(12, bias=True)", ln), ("Block.ln_1", block.ln_1),
                    ("Block.ln_2", block.ln_2)):
        w = getattr(m, "weight", None)
        b = getattr(m, "bias", None)
        if not isinstance(w, torch.Tensor):
            kit.fail(f"your {what} has no weight")
        kit.close(w, torch.ones(C), f"a fresh {what}'s weight", atol=0, rtol=0)
        if isinstance(b, torch.Tensor):
            kit.close(b, torch.zeros(C), f"a fresh {what}'s bias", atol=0, rtol=0)
