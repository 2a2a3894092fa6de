"""Causal self-attention, one behaviour per check, each blind to the others' faults."""

import math

import torch
from probes import B, C, T, attention_probs, build, load, ones_hot, scores, softmax_fit

from labpath.checks import kit

HINT = "print the attention weights of one head on a tiny input and look at them"


def _random_qk(symmetric: bool, scale=0.45):
    g = torch.Generator().manual_seed(7)
    Wq = torch.randn(C, C, generator=g, dtype=torch.float64) * scale
    Wk = Wq.clone() if symmetric else torch.randn(C, C, generator=g, dtype=torch.float64) * scale
    extra = torch.randn(B, T, C - T, generator=g, dtype=torch.float64)
    return Wq, Wk, ones_hot(extra)


def _diagonal_probe(blk, L=100.0):
    """Scores L on the diagonal and -L elsewhere: every query matches only itself."""
    S = L * (2 * torch.eye(T) - torch.ones(T, T))
    Wq, Wk = torch.zeros(C, C), torch.zeros(C, C)
    Wq[:T, :T] = S.T
    Wk[:T, :T] = torch.eye(T)
    return attention_probs(blk.CausalSelfAttention, Wq, Wk, ones_hot())


def test_attention_temperature_depends_on_head_size_only(blk):
    # The same head inside a 1-head model of width 6 and inside a 2-head model of
    # width 12 (the second head silent): the head size is 6 in both, so the outputs
    # must be the same values (compared sorted, whatever the channel layout).
    g = torch.Generator().manual_seed(11)
    hs = 6
    Wq, Wk, Wv = (torch.randn(hs, hs, generator=g, dtype=torch.float64) * 0.6 for _ in range(3))
    x6 = torch.randn(B, T, hs, generator=g, dtype=torch.float64)
    small = build(blk.CausalSelfAttention, n_embd=hs, n_head=1)
    load(small, "CausalSelfAttention", {"c_attn.weight": torch.cat([Wq, Wk, Wv]),
                                        "c_proj.weight": torch.eye(hs)})
    big = build(blk.CausalSelfAttention, n_embd=2 * hs, n_head=2)
    W = torch.zeros(6 * hs, 2 * hs)
    W[0:hs, :hs], W[2 * hs:3 * hs, :hs], W[4 * hs:5 * hs, :hs] = Wq, Wk, Wv
    load(big, "CausalSelfAttention", {"c_attn.weight": W, "c_proj.weight": torch.eye(2 * hs)})
    with torch.no_grad():
        a = small(x6).double().flatten()
        b = big(torch.cat([x6, torch.zeros_like(x6)], dim=-1)).double().flatten()
    a = torch.cat([a, torch.zeros_like(a)]).sort().values
    kit.close(b.sort().values, a, "a head's outputs (sorted) in an n_embd=12, n_head=2 model "
              "vs the same head alone in an n_embd=6, n_head=1 model", rtol=1e-7, atol=1e-9,
              hint="the scores of a head depend on its head size, not on the model's width")


def test_attention_weights_are_a_softmax_over_the_keys(blk):
    # Symmetric scores (W_q = W_k): log P[i, j] must be tau * S[i, j] plus a constant
    # per query row, which holds for a softmax over the keys and for nothing else.
    Wq, Wk, x = _random_qk(symmetric=True)
    P = attention_probs(blk.CausalSelfAttention, Wq, Wk, x)
    _, resid = softmax_fit(P, scores(Wq, Wk, x), columns=False)
    if not resid < 1e-6:
        kit.fail("the attention weights of each query are not a softmax of its scores over "
                 "the keys", yours=f"worst misfit {resid:.3g}", expected="0", hint=HINT)


def test_a_future_value_never_reaches_the_past(blk):
    # Queries and keys read channels 0..5 only, values 6..11: changing a later
    # position's value channels must leave every earlier output bit-identical.
    g = torch.Generator().manual_seed(13)
    attn = build(blk.CausalSelfAttention, n_head=1)
    half = C // 2
    Wq, Wk, Wv = (torch.randn(C, C, generator=g, dtype=torch.float64) * 0.5 for _ in range(3))
    Wq[:, half:] = 0
    Wk[:, half:] = 0
    Wv[:, :half] = 0
    load(attn, "CausalSelfAttention", {
        "c_attn.weight": torch.cat([Wq, Wk, Wv]),
        "c_proj.weight": torch.randn(C, C, generator=g, dtype=torch.float64)})
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    with torch.no_grad():
        base = attn(x).double()
        for t in range(1, T):
            x2 = x.clone()
            x2[:, t, half:] += torch.randn(B, C - half, generator=g, dtype=torch.float64)
            out = attn(x2).double()
            if not torch.equal(out[:, :t], base[:, :t]):
                bad = (out[:, :t] - base[:, :t]).abs().amax(dim=(0, 2))
                s = int(torch.nonzero(bad).max())
                kit.fail(f"changing the value at position {t} changed the output at position {s}",
                         yours=float(bad[s]), expected=0.0,
                         hint="a position may read itself and earlier positions only")


def test_each_query_normalises_over_the_visible_keys_only(blk):
    # Equal scores everywhere: whatever the axis of the softmax, the weights of the
    # visible entries add up to T (one per row, or one per column). The overall scale
    # comes from the diagonal probe, so this check does not judge the scale.
    P0 = attention_probs(blk.CausalSelfAttention, torch.zeros(C, C), torch.zeros(C, C), ones_hot())
    scale = float(torch.diagonal(_diagonal_probe(blk), dim1=-2, dim2=-1).sum()) / (B * T)
    total = float(P0.sum()) / B
    kit.close(total, T * scale, "the sum of all attention weights of a sequence with equal "
              "scores (T = 7 queries)", rtol=1e-7, atol=1e-9,
              hint="hide the future before normalising: a masked key must not share the weight")


def test_each_head_writes_its_own_channels(blk):
    # With head 1's values zero (and c_proj = I), channels 6..11 of every position must be
    # exactly zero; with head 0's values zero, channels 0..5.
    g = torch.Generator().manual_seed(17)
    attn = build(blk.CausalSelfAttention, n_head=2)
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    Wq, Wk, Wv = (torch.randn(C, C, generator=g, dtype=torch.float64) * 0.5 for _ in range(3))
    hs = C // 2
    for silent in (1, 0):
        W = Wv.clone()
        W[silent * hs:(silent + 1) * hs] = 0
        load(attn, "CausalSelfAttention", {"c_attn.weight": torch.cat([Wq, Wk, W]),
                                           "c_proj.weight": torch.eye(C)})
        with torch.no_grad():
            y = attn(x).double()
        part = y[..., silent * hs:(silent + 1) * hs]
        if not bool((part == 0).all()):
            where = torch.nonzero(part)[0].tolist()
            kit.fail(f"with head {silent}'s values set to zero, its channels "
                     f"{silent * hs}..{(silent + 1) * hs - 1} of the output are not zero",
                     yours=float(part[tuple(where)]), expected=0.0,
                     where=f"[b={where[0]}, t={where[1]}]",
                     hint="check the shapes on the way back from (B, nh, T, hs) to (B, T, C)")


def test_queries_and_keys_come_in_gpt2_order(blk):
    # Asymmetric scores: log P[i, j] must be tau * (q_i . k_j) plus a constant per row and
    # one per column (which a softmax over either axis gives), not tau * (k_i . q_j).
    Wq, Wk, x = _random_qk(symmetric=False)
    P = attention_probs(blk.CausalSelfAttention, Wq, Wk, x)
    _, resid = softmax_fit(P, scores(Wq, Wk, x), columns=True)
    if not resid < 1e-6:
        _, swapped = softmax_fit(P, scores(Wk, Wq, x), columns=True)
        kit.fail("the attention weights do not follow the scores q_i . k_j with c_attn read as "
                 "(q, k, v)", yours=f"worst misfit {resid:.3g}", expected="0",
                 hint="GPT-2's fused projection is laid out q, k, v"
                 + (" (yours fits k_i . q_j)" if swapped < 1e-6 else ""))


def test_attention_dropout_drops_probabilities(blk):
    # Train mode, dropout 0.5 (the residual dropout held off): each weight is either
    # dropped to 0 or kept and scaled by 1 / (1 - p) = 2, and about half are dropped.
    Wq, Wk, x = _random_qk(symmetric=False)
    P = attention_probs(blk.CausalSelfAttention, Wq, Wk, x, dropout=0.5)
    torch.manual_seed(kit.seed() + 1)
    D = attention_probs(blk.CausalSelfAttention, Wq, Wk, x, train=True, dropout=0.5)
    live = P > 0
    dropped = (D == 0) & live
    kept = ~dropped & live
    ratio = D[kept] / P[kept]
    bad = (ratio - 2.0).abs() > 1e-7
    if bool(bad.any()) or bool((D[~live] != 0).any()):
        kit.fail("in train mode, an attention weight is neither 0 nor twice its eval value",
                 yours=float(ratio[bad][0]) if bool(bad.any()) else "a nonzero masked weight",
                 expected="0 or 2 (dropout p = 0.5)",
                 hint="attn_dropout acts on the attention probabilities, after the softmax")
    frac = float(dropped.sum()) / float(live.sum())
    if not 0.2 <= frac <= 0.8:
        kit.fail("in train mode with attention dropout 0.5, the share of dropped attention "
                 "weights", yours=round(frac, 3), expected="about 0.5",
                 hint="attn_dropout = nn.Dropout(config.dropout), applied to att in forward")


def test_attention_weights_are_the_projections_only(blk):
    attn = build(blk.CausalSelfAttention, n_head=2)
    allowed = {"c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"}
    extra = sorted(set(dict(attn.named_parameters())) - allowed)
    if extra:
        kit.fail("your CausalSelfAttention has parameters besides c_attn and c_proj",
                 yours=extra, expected=sorted(allowed),
                 hint="anything constant belongs in a buffer: register_buffer")


def test_attention_scales_the_scores_before_the_softmax(blk):
    # (1) Each query matches only itself: the weights are the identity, so the diagonal
    # sums to T. (2) The temperature fitted on random scores is 1 / sqrt(head size).
    P = _diagonal_probe(blk)
    trace = float(torch.diagonal(P, dim1=-2, dim2=-1).sum()) / B
    kit.close(trace, float(T), "the attention weights' diagonal sum when every query matches "
              "only itself", rtol=1e-7, atol=1e-9,
              hint="a softmax row sums to 1; scale the scores, not the probabilities")
    Wq, Wk, x = _random_qk(symmetric=True)
    P = attention_probs(blk.CausalSelfAttention, Wq, Wk, x)
    tau, resid = softmax_fit(P, scores(Wq, Wk, x), columns=True)
    if resid < 1e-6:
        kit.close(tau, 1 / math.sqrt(C), "the factor the scores q . k are multiplied by before "
                  "the softmax (one head of size 12)", rtol=1e-6,
                  hint="scaled dot-product attention divides q . k by sqrt(head size)")

