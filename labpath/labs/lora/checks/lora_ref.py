"""labpath's reference for the lora checks, and an adapter over the public LoRA layouts.

The adapter finds the learner's two factors and the frozen Linear whatever the layout:
`lora_A`/`lora_B` or `A`/`B`, each a Parameter, a bias-free nn.Linear (peft) or a
per-adapter dict holding one; A as (r, in) and B as (out, r) (loralib, peft) or the
transposed (in, r) / (r, out) (LLMs-from-scratch). Every check uses in != out != r, so
the shapes alone tell the layouts apart.
"""

import torch
from torch import nn

from labpath.checks import kit

IN, OUT, R, ALPHA = 12, 20, 3, 6.0  # scaling alpha / r = 2
LEAD = (5, 7)  # leading shape of the inputs (batch, time)

FACTOR_NAMES = (("lora_A", "lora_B"), ("A", "B"))
BASE_NAMES = ("base", "base_layer", "linear")


def _tensor(obj):
    """A factor held as a Parameter, an nn.Linear, or a dict of adapters holding one."""
    if torch.is_tensor(obj):
        return obj
    if isinstance(obj, (nn.ModuleDict, nn.ParameterDict, dict)):
        keys = list(obj.keys())
        if "default" in keys:
            return _tensor(obj["default"])
        if len(keys) == 1:
            return _tensor(obj[keys[0]])
        return None
    w = getattr(obj, "weight", None)
    return w if torch.is_tensor(w) else None


def one_adapter(value):
    """peft keeps r and scaling per adapter name ({"default": 2.0}); take that one."""
    if isinstance(value, dict):
        return value["default"] if "default" in value else next(iter(value.values()))
    return value


def factors(m):
    """(A, B, layout) of a learner's LoRA module; layout is 'standard' or 'transposed'."""
    for a_name, b_name in FACTOR_NAMES:
        if hasattr(m, a_name) and hasattr(m, b_name):
            A, B = _tensor(getattr(m, a_name)), _tensor(getattr(m, b_name))
            if A is not None and B is not None:
                return A, B, _layout(m, A, B, a_name, b_name)
    kit.fail(f"your {type(m).__name__} has no lora_A / lora_B factors",
             hint="store the factors as self.lora_A (r, in_features) and self.lora_B "
             "(out_features, r), as nn.Parameter")


def _layout(m, A, B, a_name, b_name):
    W = base_of(m).weight
    out, inn = W.shape
    a, b = tuple(A.shape), tuple(B.shape)
    if A.dim() == 2 and B.dim() == 2 and a[1] == inn and b[0] == out and a[0] == b[1]:
        return "standard"
    if A.dim() == 2 and B.dim() == 2 and a[0] == inn and b[1] == out and a[1] == b[0]:
        return "transposed"
    kit.fail(f"shapes of {a_name} and {b_name} for a Linear({inn}, {out})",
             yours=f"{a_name} {a}, {b_name} {b}",
             expected=f"{a_name} (r, {inn}) and {b_name} ({out}, r)",
             hint="A reads the input and B writes the output: delta W = B @ A has the "
             "frozen weight's shape (out_features, in_features)")


def base_of(m):
    """The frozen Linear inside a LoRA module (or the module itself, loralib style)."""
    for name in BASE_NAMES:
        inner = getattr(m, name, None)
        if isinstance(inner, nn.Module) and torch.is_tensor(
            getattr(inner, "weight", None)
        ):
            return inner
    if isinstance(m, nn.Linear):
        return m
    kit.fail(f"your {type(m).__name__} keeps no wrapped Linear as self.base",
             hint="store the nn.Linear you were given as self.base and call it in forward")


def rank(m):
    A, _, layout = factors(m)  # from the shapes, so an r stored per adapter is fine
    return A.shape[0] if layout == "standard" else A.shape[1]


def standard(m):
    """(A (r, in), B (out, r)) as plain tensors, whatever the learner's layout."""
    A, B, layout = factors(m)
    if layout == "transposed":
        return A.detach().T, B.detach().T
    return A.detach(), B.detach()


@torch.no_grad()
def set_factors(m, A, B):
    """Write A (r, in) and B (out, r) into the learner's module in its own layout."""
    a, b, layout = factors(m)
    if layout == "transposed":
        A, B = A.T, B.T
    a.copy_(A.to(a.dtype))
    b.copy_(B.to(b.dtype))


def uniform(shape, gen, dtype=torch.float64, lo=-0.5, hi=0.5):
    return torch.rand(shape, generator=gen, dtype=dtype) * (hi - lo) + lo


def make_base(seed, dtype=torch.float64, inn=IN, out=OUT, bias=True):
    """An nn.Linear(in, out) with random weights of order one (torch's init is smaller)."""
    gen = torch.Generator().manual_seed(seed)
    base = nn.Linear(inn, out, bias=bias).to(dtype)
    with torch.no_grad():
        base.weight.copy_(uniform((out, inn), gen, dtype, -1, 1))
        if bias:
            base.bias.copy_(uniform((out,), gen, dtype, -1, 1))
    return base


def lora_path(x, A, B):
    """The unscaled update x A^T B^T, (..., out)."""
    return x @ A.T @ B.T


def forward(x, W, b, A, B, scaling):
    """h = x W^T + b + scaling * x A^T B^T (the paper's h = W0 x + (alpha / r) B A x)."""
    y = x @ W.T
    if b is not None:
        y = y + b
    return y + scaling * lora_path(x, A, B)


def scaling_mistake(delta, path, r, alpha):
    """Name the scaling whose update equals the learner's delta, if one does."""
    s = alpha / r
    variants = [
        (
            alpha,
            f"your update is r = {r} times too large: you scale by alpha, not alpha / r",
        ),
        (
            alpha / r**0.5,
            "you scale by alpha / sqrt(r) (rsLoRA); the contract's scaling is alpha / r",
        ),
        (r / alpha, "your scaling is inverted: r / alpha instead of alpha / r"),
        (s * s, "the scaling is applied twice: (alpha / r)^2"),
        (1.0, "the update is not scaled at all: multiply B A x by alpha / r"),
        (-s, "the update has the wrong sign: h = W0 x + (alpha / r) B A x"),
    ]
    for c, name in variants:
        if torch.allclose(delta, c * path, rtol=1e-9, atol=1e-10):
            return name
    return None
