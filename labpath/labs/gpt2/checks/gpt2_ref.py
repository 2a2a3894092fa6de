"""labpath's own GPT-2 for the gpt2 checks: a plain function over a nanoGPT state_dict.

It shares no code with the learner's model. `variant` switches on one known mistake at a
time, so a mismatch can be explained ("your output equals post-norm blocks").
"""

import math

import torch
from torch.nn import functional as F

# GPT-2 small, as published (tied embeddings, biases everywhere).
GPT2_SMALL = dict(block_size=1024, vocab_size=50257, n_layer=12, n_head=12, n_embd=768,
                  dropout=0.0, bias=True)
GPT2_SMALL_PARAMS = 124_439_808  # shared wte/lm_head counted once
GPT2_SMALL_NON_EMBEDDING = 123_653_376  # minus wpe (1024 x 768)

# A tiny config with a distinct size per dimension: V=11, T<=8, L=2, H=2, C=12 (hs=6, 4C=48).
TINY = dict(
    block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=12, dropout=0.0, bias=True
)


def param_shapes(block_size, vocab_size, n_layer, n_head, n_embd, bias=True, **_):
    """Every parameter nanoGPT's GPT has, by state_dict key, with its shape."""
    C, V = n_embd, vocab_size
    shapes = {
        "transformer.wte.weight": (V, C),
        "transformer.wpe.weight": (block_size, C),
    }
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        layer = {
            "ln_1.weight": (C,), "ln_1.bias": (C,),
            "attn.c_attn.weight": (3 * C, C), "attn.c_attn.bias": (3 * C,),
            "attn.c_proj.weight": (C, C), "attn.c_proj.bias": (C,),
            "ln_2.weight": (C,), "ln_2.bias": (C,),
            "mlp.c_fc.weight": (4 * C, C), "mlp.c_fc.bias": (4 * C,),
            "mlp.c_proj.weight": (C, 4 * C), "mlp.c_proj.bias": (C,),
        }
        for k, s in layer.items():
            if bias or not k.endswith(".bias"):
                shapes[p + k] = s
    shapes["transformer.ln_f.weight"] = (C,)
    if bias:
        shapes["transformer.ln_f.bias"] = (C,)
    shapes["lm_head.weight"] = (V, C)
    return shapes


def random_state(cfg, seed, dtype=torch.float64):
    """Random weights large enough that every mistake shows (activations of order 1).

    nanoGPT's own init (std 0.02) makes the network nearly linear, which would hide a
    wrong activation or scale; these weights do not. wte and lm_head get one tensor.
    """
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, shape in param_shapes(**cfg).items():
        if name == "lm_head.weight":
            sd[name] = sd["transformer.wte.weight"]
        elif (
            name.endswith("ln_1.weight")
            or name.endswith("ln_2.weight")
            or name.endswith("ln_f.weight")
        ):
            sd[name] = 1.0 + 0.2 * torch.randn(shape, generator=g, dtype=dtype)
        elif name.endswith(".bias"):
            sd[name] = 0.2 * torch.randn(shape, generator=g, dtype=dtype)
        elif "wte" in name or "wpe" in name:
            sd[name] = torch.randn(shape, generator=g, dtype=dtype)
        else:  # a Linear (out, in): unit-variance outputs for unit-variance inputs
            sd[name] = torch.randn(shape, generator=g, dtype=dtype) / math.sqrt(shape[1])
    return sd


def _ln(x, sd, name):
    return F.layer_norm(
        x, x.shape[-1:], sd[name + ".weight"], sd.get(name + ".bias"), 1e-5
    )


def _lin(x, sd, name):
    return F.linear(x, sd[name + ".weight"], sd.get(name + ".bias"))


def forward(sd, idx, n_layer, n_head, gelu="erf", variant=None):
    """Logits (B, T, V) of GPT-2 with weights sd; variant names one deliberate mistake."""
    B, T = idx.shape
    wte = sd["transformer.wte.weight"]
    x = wte[idx]  # (B, T, C)
    if variant != "no_pos":
        x = x + sd["transformer.wpe.weight"][:T]
    C = x.shape[-1]
    hs = C // n_head
    act = {
        "erf": lambda h: F.gelu(h),
        "tanh": lambda h: F.gelu(h, approximate="tanh"),
    }[gelu]
    if variant == "relu":
        act = F.relu
    for i in range(n_layer):
        p = f"transformer.h.{i}."

        def attn(h, p=p):
            qkv = _lin(h, sd, p + "attn.c_attn")
            q, k, v = qkv.split(C, dim=-1)
            if variant == "kqv":  # the fused projection read in the wrong order
                k, q = q, k
            q, k, v = (t.reshape(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))
            scale = {"embd_scale": 1 / math.sqrt(C), "no_scale": 1.0}.get(
                variant, 1 / math.sqrt(hs)
            )
            att = q @ k.transpose(-2, -1) * scale  # (B, nh, T, T)
            diagonal = 1 if variant == "mask_off_by_one" else 0
            allowed = torch.ones(T, T, dtype=torch.bool).tril(diagonal)
            if variant != "no_mask":
                att = att.masked_fill(~allowed, float("-inf"))
            att = att.softmax(dim=-2 if variant == "softmax_dim" else -1)
            att = torch.nan_to_num(att)  # a column softmax over a fully masked column
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            return _lin(y, sd, p + "attn.c_proj")

        def mlp(h, p=p):
            return _lin(act(_lin(h, sd, p + "mlp.c_fc")), sd, p + "mlp.c_proj")

        if variant == "post_norm":  # the 2017 Transformer's order: normalise after adding
            x = _ln(x + attn(x), sd, p + "ln_1")
            x = _ln(x + mlp(x), sd, p + "ln_2")
        elif variant == "no_residual":
            x = attn(_ln(x, sd, p + "ln_1"))
            x = mlp(_ln(x, sd, p + "ln_2"))
        else:
            x = x + attn(_ln(x, sd, p + "ln_1"))
            x = x + mlp(_ln(x, sd, p + "ln_2"))
    if variant != "no_ln_f":
        x = _ln(x, sd, "transformer.ln_f")
    return x @ sd["lm_head.weight"].T  # (B, T, V)


# Known mistakes the fingerprint tries, and how the report names them.
VARIANTS = {
    "post_norm": "your blocks normalise after the residual add (post-norm, x = ln(x + f(x))); "
    "GPT-2 normalises the input of each sub-block: x = x + f(ln(x))",
    "no_residual": "your blocks have no residual connection (x = f(ln(x)) instead of x = x + f(ln(x)))",
    "embd_scale": "your attention scores are divided by sqrt(n_embd); divide by sqrt(head size)",
    "no_scale": "your attention scores are not scaled; multiply by 1/sqrt(head size)",
    "softmax_dim": "your attention softmax runs over the query axis (dim=-2); it must run over keys (dim=-1)",
    "no_pos": "your model ignores the position embeddings (add wpe(pos) to the token embeddings)",
    "kqv": "you read the fused c_attn output as (k, q, v); GPT-2's order is q, k, v",
    "relu": "your MLP uses ReLU; GPT-2 uses GELU",
    "no_mask": "your attention has no causal mask",
    "mask_off_by_one": "your causal mask lets position t see t+1 (tril with diagonal=1)",
    "no_ln_f": "your model skips the final LayerNorm ln_f before lm_head",
}


def fingerprint(yours, sd, idx, n_layer, n_head, atol=1e-6):
    """The known mistake whose output equals yours, as a sentence, or None."""
    yours = torch.as_tensor(yours).detach().to(torch.float64)
    for variant, sentence in VARIANTS.items():
        for gelu in ("erf", "tanh"):
            ref = forward(sd, idx, n_layer, n_head, gelu=gelu, variant=variant)
            if ref.shape == yours.shape and torch.allclose(
                yours, ref, rtol=1e-6, atol=atol
            ):
                return sentence
    return None
