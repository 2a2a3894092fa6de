"""Reference machinery for the transformer checks.

- attention and multi-head attention written out with switches for the classic mistakes
  (wrong scale, softmax axis, mask polarity, head split), used to name a learner's bug;
- an adapter that reads the projection weights out of the learner's MultiHeadAttention
  whatever the layout (w_q/w_k/w_v/w_o, q_proj/.../out_proj, linears[0..3], a fused qkv,
  per-head query/key/value) so torch.nn.MultiheadAttention can be given the same weights;
- tripwires that fail a check when the learner's code calls torch's own attention.
"""

import math
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from labpath.checks import kit

# ---- small helpers ------------------------------------------------------------------


def unwrap(out):
    """The annotated transformer's attention returns (out, p_attn): take the output."""
    if isinstance(out, (tuple, list)) and len(out) >= 1 and torch.is_tensor(out[0]):
        return out[0]
    return out


def allclose(a, b, rtol=1e-6, atol=1e-8):
    a, b = unwrap(a), unwrap(b)
    if not (torch.is_tensor(a) and torch.is_tensor(b)) or a.shape != b.shape:
        return False
    return torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol, equal_nan=True)


def first_match(yours, variants):
    """The sentence of the first wrong variant that the learner's output equals."""
    for sentence, fn in variants:
        try:
            if allclose(yours, fn()):
                return sentence
        except Exception:  # a variant that cannot be built says nothing
            continue
    return None


def build(cls, *args, dropout=0.0):
    """Construct a learner module with dropout off; accept a constructor without it."""
    try:
        module = cls(*args, dropout=dropout)
    except TypeError:
        module = cls(*args)
    return module.double().eval()


# ---- attention with switches for the classic mistakes -------------------------------


def attention(
    q,
    k,
    v,
    mask=None,
    scale=None,
    softmax_dim=-1,
    fill=float("-inf"),
    invert=False,
    after_softmax=False,
):
    """softmax(q k^T * scale + mask) v; scale None = 1/sqrt(d) (the correct one)."""
    d = q.size(-1)
    scale = 1 / math.sqrt(d) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None and invert:
        mask = ~mask
    if mask is not None and not after_softmax:
        scores = scores.masked_fill(~mask, fill)
    p = scores.softmax(dim=softmax_dim)
    if mask is not None and after_softmax:
        p = p * mask  # masking the weights afterwards, without renormalising
    return p @ v


def attention_variants(q, k, v, mask=None):
    """(sentence, thunk) for each classic mistake in scaled_dot_product_attention."""
    d = q.size(-1)
    out = [
        (
            "your output equals attention with no scaling: divide the scores by sqrt(d), "
            f"here sqrt({d})",
            lambda: attention(q, k, v, mask, scale=1.0),
        ),
        (
            f"your output equals attention scaled by 1/d = 1/{d} instead of 1/sqrt(d) = 1/sqrt({d})",
            lambda: attention(q, k, v, mask, scale=1 / d),
        ),
        (
            f"your output equals attention multiplied by sqrt(d) instead of divided by sqrt({d})",
            lambda: attention(q, k, v, mask, scale=math.sqrt(d)),
        ),
        (
            "your softmax runs over the query axis (dim=-2); each query's weights must sum to 1 "
            "over the keys (dim=-1)",
            lambda: attention(q, k, v, mask, softmax_dim=-2),
        ),
    ]
    if mask is not None:
        out += [
            (
                "your mask polarity is inverted: True must mean 'may attend' (as in "
                "F.scaled_dot_product_attention); you blocked the True positions",
                lambda: attention(q, k, v, mask, invert=True),
            ),
            (
                "your mask polarity is inverted (with -1e9): True must mean 'may attend'",
                lambda: attention(q, k, v, mask, invert=True, fill=-1e9),
            ),
            (
                "you multiply the softmax weights by the mask afterwards, so the rows no longer "
                "sum to 1: fill the blocked scores with -inf (or -1e9) before the softmax",
                lambda: attention(q, k, v, mask, after_softmax=True),
            ),
            (
                "you fill the blocked scores with 0 before the softmax; exp(0) = 1 still gives "
                "them weight: use -inf (or -1e9)",
                lambda: attention(q, k, v, mask, fill=0.0),
            ),
        ]
    return out


# ---- the learner's projection weights -----------------------------------------------

ROLE_NAMES = {
    "q": {
        "w_q",
        "wq",
        "q_proj",
        "query",
        "w_query",
        "q",
        "to_q",
        "q_linear",
        "linear_q",
        "fc_q",
        "proj_q",
        "query_proj",
        "q_lin",
        "queries",
        "w_qs",
        "wquery",
    },
    "k": {
        "w_k",
        "wk",
        "k_proj",
        "key",
        "w_key",
        "k",
        "to_k",
        "k_linear",
        "linear_k",
        "fc_k",
        "proj_k",
        "key_proj",
        "k_lin",
        "keys",
        "w_ks",
        "wkey",
    },
    "v": {
        "w_v",
        "wv",
        "v_proj",
        "value",
        "w_value",
        "v",
        "to_v",
        "v_linear",
        "linear_v",
        "fc_v",
        "proj_v",
        "value_proj",
        "v_lin",
        "values",
        "w_vs",
        "wvalue",
    },
    "o": {
        "w_o",
        "wo",
        "out_proj",
        "o_proj",
        "proj",
        "c_proj",
        "out",
        "to_out",
        "fc_out",
        "w_out",
        "linear_out",
        "o",
        "output",
        "dense",
        "out_lin",
        "projection",
        "fc",
        "o_linear",
        "linear_o",
        "fc_o",
        "proj_o",
        "w_0",
        "output_proj",
    },
}
ACCEPTED = (
    "four nn.Linear(d_model, d_model) named w_q/w_k/w_v/w_o, q_proj/k_proj/v_proj/"
    "out_proj, query/key/value/proj or linears[0..3]; or a fused nn.Linear(d_model, "
    "3*d_model) (c_attn, qkv) plus one output nn.Linear(d_model, d_model); or "
    "per-head nn.Linear(d_model, d_head) named query/key/value plus an output Linear"
)


class Weights:
    """Wq, bq, Wk, bk, Wv, bv, Wo, bo of one multi-head attention, torch (out, in) layout."""

    def __init__(self, Wq, bq, Wk, bk, Wv, bv, Wo, bo, layout):
        self.Wq, self.bq, self.Wk, self.bk, self.Wv, self.bv = Wq, bq, Wk, bk, Wv, bv
        self.Wo, self.bo, self.layout = Wo, bo, layout


def _wb(lin):
    W = lin.weight.detach()
    b = (
        lin.bias.detach()
        if lin.bias is not None
        else torch.zeros(W.size(0), dtype=W.dtype)
    )
    return W, b


def _role(name, index_in_list=None):
    m = re.search(r"(?:^|\.)linears\.(\d)$", name)
    if m:
        return "qkvo"[int(m.group(1))] if int(m.group(1)) < 4 else None
    last = name.split(".")[-1].lower()
    for role, names in ROLE_NAMES.items():
        if last in names:
            return role
    return None


def mha_weights(mha, d_model, n_heads):
    """Read the learner's projections; fail with what was found if the layout is unknown."""
    d, dh = d_model, d_model // n_heads
    linears = [(n, m) for n, m in mha.named_modules() if isinstance(m, nn.Linear)]
    square = [(n, m) for n, m in linears if tuple(m.weight.shape) == (d, d)]
    fused = [(n, m) for n, m in linears if tuple(m.weight.shape) == (3 * d, d)]
    per_head = [(n, m) for n, m in linears if tuple(m.weight.shape) == (dh, d)]
    in_proj = getattr(mha, "in_proj_weight", None)
    if in_proj is not None and tuple(in_proj.shape) == (3 * d, d) and len(square) == 1:
        b = getattr(mha, "in_proj_bias", None)
        b = torch.zeros(3 * d, dtype=in_proj.dtype) if b is None else b.detach()
        Wq, Wk, Wv = in_proj.detach().split(d, dim=0)
        bq, bk, bv = b.split(d)
        return Weights(
            Wq, bq, Wk, bk, Wv, bv, *_wb(square[0][1]), "in_proj_weight + out_proj"
        )
    if len(fused) == 1 and len(square) == 1:
        W, b = _wb(fused[0][1])
        Wq, Wk, Wv = W.split(d, dim=0)  # nanoGPT's order: q, k, v
        bq, bk, bv = b.split(d)
        return Weights(
            Wq,
            bq,
            Wk,
            bk,
            Wv,
            bv,
            *_wb(square[0][1]),
            f"fused {fused[0][0]} (q, k, v in that order) + {square[0][0]}",
        )
    if len(square) == 4:
        roles = {}
        for n, m in square:
            r = _role(n)
            if r is not None and r not in roles:
                roles[r] = (n, m)
        if len(roles) == 4:
            layout = ", ".join(roles[r][0] for r in "qkvo")
        else:  # unknown names: fall back to the order they were created in
            roles = dict(zip("qkvo", square, strict=True))
            layout = (", ".join(n for n, _ in square)
                      + " (names not recognised; taken as q, k, v, out in creation order)")
        return Weights(
            *_wb(roles["q"][1]),
            *_wb(roles["k"][1]),
            *_wb(roles["v"][1]),
            *_wb(roles["o"][1]),
            layout,
        )
    if len(per_head) == 3 * n_heads and len(square) == 1:
        groups = {"q": [], "k": [], "v": []}
        for n, m in per_head:
            r = _role(n)
            if r in groups:
                groups[r].append(m)
        if all(len(g) == n_heads for g in groups.values()):
            cat = {
                r: [torch.cat(x) for x in zip(*[_wb(m) for m in g], strict=True)]
                for r, g in groups.items()
            }
            return Weights(
                *cat["q"],
                *cat["k"],
                *cat["v"],
                *_wb(square[0][1]),
                "per-head query/key/value + output Linear",
            )
    found = (
        ", ".join(f"{n or '(self)'}: {tuple(m.weight.shape)}" for n, m in linears)
        or "none"
    )
    kit.fail(
        "could not find the projections of your MultiHeadAttention",
        hint=f"the checks accept {ACCEPTED}",
        diagnosis=f"nn.Linear layers found: {found}",
    )


def torch_mha(W, n_heads, query, key, value, mask=None):
    """torch.nn.MultiheadAttention given the learner's weights; mask True = may attend."""
    d = query.size(-1)
    ref = nn.MultiheadAttention(d, n_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([W.Wq, W.Wk, W.Wv]))
        ref.in_proj_bias.copy_(torch.cat([W.bq, W.bk, W.bv]))
        ref.out_proj.weight.copy_(W.Wo)
        ref.out_proj.bias.copy_(W.bo)
    attn_mask = None
    if mask is not None:
        B, Tq, Tk = query.size(0), query.size(1), key.size(1)
        # torch's own polarity is the opposite: True = NOT allowed; one mask per (batch, head)
        attn_mask = (~mask.expand(B, Tq, Tk)).repeat_interleave(n_heads, dim=0)
    with torch.no_grad():
        out, _ = ref(query, key, value, attn_mask=attn_mask, need_weights=False)
    return out


def mha(
    W,
    H,
    query,
    key,
    value,
    mask=None,
    scale="head",
    softmax_dim=-1,
    invert=False,
    split="ok",
    merge="ok",
    out_proj=True,
):
    """Multi-head attention by hand, with switches for the classic mistakes."""
    B, Tq, C = query.shape
    Tk = key.size(1)
    dh = C // H

    def heads(x, Wt, b, T):
        y = x @ Wt.T + b
        if split == "view":  # (B, T, C) viewed straight as (B, H, T, dh): mixes positions
            return y.reshape(B, H, T, dh)
        return y.view(B, T, H, dh).transpose(1, 2)

    q, k, v = (
        heads(query, W.Wq, W.bq, Tq),
        heads(key, W.Wk, W.bk, Tk),
        heads(value, W.Wv, W.bv, Tk),
    )
    s = {"head": 1 / math.sqrt(dh), "model": 1 / math.sqrt(C), "none": 1.0}[scale]
    m = None if mask is None else mask.unsqueeze(1)
    y = attention(q, k, v, m, scale=s, softmax_dim=softmax_dim, invert=invert)  # (B, H, Tq, dh)
    y = y.reshape(B, Tq, C) if merge == "view" else y.transpose(1, 2).reshape(B, Tq, C)
    return y @ W.Wo.T + W.bo if out_proj else y


def mha_variants(W, H, query, key, value, mask=None):
    C = query.size(-1)
    dh = C // H
    out = [
        (
            f"your output equals attention scaled by 1/sqrt(d_model) = 1/sqrt({C}) instead of "
            f"1/sqrt(d_head) = 1/sqrt({dh}): scale by the width of one head",
            lambda: mha(W, H, query, key, value, mask, scale="model"),
        ),
        (
            "your output equals attention with no 1/sqrt(d_head) scaling",
            lambda: mha(W, H, query, key, value, mask, scale="none"),
        ),
        (
            "your softmax runs over the query axis; it must run over the keys (the last axis)",
            lambda: mha(W, H, query, key, value, mask, softmax_dim=-2),
        ),
        (
            "you split the heads with view(B, H, T, d_head) directly; view as (B, T, H, d_head) "
            "and then transpose(1, 2)",
            lambda: mha(W, H, query, key, value, mask, split="view"),
        ),
        (
            "you merge the heads with view(B, T, C) straight from (B, H, T, d_head); "
            "transpose(1, 2) first (and .contiguous())",
            lambda: mha(W, H, query, key, value, mask, merge="view"),
        ),
        (
            "your output is the concatenated heads without the output projection (w_o)",
            lambda: mha(W, H, query, key, value, mask, out_proj=False),
        ),
    ]
    if mask is not None:
        out.append(
            (
                "your mask polarity is inverted: True must mean 'may attend'",
                lambda: mha(W, H, query, key, value, mask, invert=True),
            )
        )
    return out


# ---- positional encoding and label smoothing ----------------------------------------


def positional_encoding(max_len, d, variant="ok"):
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(d, dtype=torch.float64)
    two_i = j - j % 2  # the 2i of the pair each channel belongs to
    if variant == "j":  # exponent j/d for every channel instead of 2i/d
        two_i = j
    if variant == "2j":  # 2i read as 2 * channel index
        two_i = 2 * j
    if variant == "i":  # the pair index i where 2i belongs
        two_i = (j - j % 2) / 2
    angle = pos / 10000 ** (two_i / d)
    even = j % 2 == 0
    if variant == "swapped":
        return torch.where(even, torch.cos(angle), torch.sin(angle))
    if variant == "halves":  # [sin of every frequency..., cos of every frequency...]
        a = pos / 10000 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
        return torch.cat([torch.sin(a), torch.cos(a)], dim=1)
    return torch.where(even, torch.sin(angle), torch.cos(angle))


def pe_variants(max_len, d):
    return [
        (
            "sin and cos are swapped: sin goes on the even channels (2i), cos on the odd (2i+1)",
            lambda: positional_encoding(max_len, d, "swapped"),
        ),
        (
            "your exponent uses the channel index j instead of 2i (the even index of the pair): "
            "channels 2i and 2i+1 must share one frequency",
            lambda: positional_encoding(max_len, d, "j"),
        ),
        (
            "your exponent is 2j/d with j the channel index; it is 2i/d where 2i is the even "
            "channel of the pair",
            lambda: positional_encoding(max_len, d, "2j"),
        ),
        (
            "your exponent is i/d (the pair index) instead of 2i/d: the frequencies fall off "
            "half as fast as the paper's",
            lambda: positional_encoding(max_len, d, "i"),
        ),
        (
            "you concatenated [all sines, all cosines] (the tensor2tensor layout); the paper "
            "interleaves them: sin on even channels, cos on odd",
            lambda: positional_encoding(max_len, d, "halves"),
        ),
    ]


def smoothing_variants(logits, targets, eps):
    K = logits.size(-1)
    logp = logits.double().log_softmax(-1)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    others = (-logp.sum(-1) - nll) / (K - 1)  # mean of -log p over the K-1 wrong classes

    def annotated(reduce):
        # The Annotated Transformer's LabelSmoothing: eps / (K - 2) over the classes that are
        # neither the target nor padding (class 0), padding rows dropped
        q = torch.full_like(logp, eps / (K - 2))
        q.scatter_(1, targets.unsqueeze(1), 1 - eps)
        q[:, 0] = 0
        q[targets == 0] = 0
        kl = (q * (torch.log(q.clamp_min(1e-300)) - logp)).sum(-1)
        ce = -(q * logp).sum(-1)
        return {"kl_sum": kl.sum(), "ce_mean": ce.mean(), "kl_mean": kl.mean()}[reduce]

    annotated_note = (
        "you used The Annotated Transformer's convention (eps/(K-2) over the "
        "classes other than the target and padding 0); this lab follows "
        "F.cross_entropy(label_smoothing=eps): eps/K over all K classes, mean "
        "cross-entropy"
    )
    return [
        (annotated_note, lambda: annotated("ce_mean")),
        (annotated_note, lambda: annotated("kl_sum")),
        (annotated_note, lambda: annotated("kl_mean")),
        (
            f"you spread eps over the K-1 = {K - 1} wrong classes (eps/(K-1) each); "
            f"F.cross_entropy(label_smoothing=eps) spreads eps/K over all K = {K} classes, the "
            "true one included",
            lambda: ((1 - eps) * nll + eps * others).mean(),
        ),
        (
            "your loss is summed over the rows; it must be the mean",
            lambda: ((1 - eps) * nll + eps * (-logp.mean(-1))).sum(),
        ),
        ("your loss ignores eps: this is plain cross-entropy", lambda: nll.mean()),
        (
            "you mix the wrong way round: eps * nll + (1 - eps) * uniform",
            lambda: (eps * nll + (1 - eps) * (-logp.mean(-1))).mean(),
        ),
    ]


# ---- tripwires against torch's own attention ----------------------------------------

ORIGINAL_SDPA = F.scaled_dot_product_attention
ORIGINAL_MHA_FN = F.multi_head_attention_forward
ORIGINAL_MHA_FORWARD = nn.MultiheadAttention.forward


def _from_learner():
    """'file.py:LINE in func' of the learner's frame on the call stack, or None."""
    root = kit.target()
    f = sys._getframe(2)
    while f is not None:
        try:
            Path(f.f_code.co_filename).resolve().relative_to(root)
            return (
                f"{Path(f.f_code.co_filename).name}:{f.f_lineno} in {f.f_code.co_name}"
            )
        except ValueError:
            f = f.f_back
    return None


def _tripwire(original, name):
    def wrapper(*args, **kwargs):
        where = _from_learner()
        if where:
            kit.fail(
                f"your code called {name} ({where})",
                hint="this lab is about writing attention yourself: compute "
                "softmax(q k^T / sqrt(d)) v with matmuls and a softmax",
                diagnosis=f"{name} is forbidden in transformer.py (see lab.yaml and the README)",
            )
        return original(*args, **kwargs)

    return wrapper


@contextmanager
def tripwires(monkeypatch):
    """Patch torch's attention entry points so a call from the learner's code fails."""
    sdpa = _tripwire(ORIGINAL_SDPA, "torch.nn.functional.scaled_dot_product_attention")
    mhaf = _tripwire(
        ORIGINAL_MHA_FN, "torch.nn.functional.multi_head_attention_forward"
    )
    fwd = _tripwire(ORIGINAL_MHA_FORWARD, "torch.nn.MultiheadAttention")
    monkeypatch.setattr(F, "scaled_dot_product_attention", sdpa)
    monkeypatch.setattr(F, "multi_head_attention_forward", mhaf)
    monkeypatch.setattr(nn.MultiheadAttention, "forward", fwd)
    # `from torch.nn.functional import scaled_dot_product_attention` binds the original
    # into the learner's module: patch those names too
    root = kit.target()
    for mod in list(sys.modules.values()):
        file = getattr(mod, "__file__", None)
        if not file:
            continue
        try:
            Path(file).resolve().relative_to(root)
        except ValueError:
            continue
        for attr, value in list(vars(mod).items()):
            if value is ORIGINAL_SDPA:
                monkeypatch.setattr(mod, attr, sdpa)
            elif value is ORIGINAL_MHA_FN:
                monkeypatch.setattr(mod, attr, mhaf)
    yield


FORBIDDEN_MODULES = (
    nn.MultiheadAttention,
    nn.Transformer,
    nn.TransformerEncoder,
    nn.TransformerDecoder,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
)


def forbidden_submodules(module):
    return [
        f"{n or '(self)'}: {type(m).__module__}.{type(m).__name__}"
        for n, m in module.named_modules()
        if isinstance(m, FORBIDDEN_MODULES)
    ]


def need(module, name):
    """The learner's function or class `name`; a clear failure if transformer.py lacks it."""
    obj = getattr(module, name, None)
    if obj is None:
        kit.fail(
            f"your transformer.py defines no `{name}`",
            hint="keep the names of the starter file; the README lists the interface",
        )
    return obj
