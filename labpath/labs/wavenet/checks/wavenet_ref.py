"""The checks' own helpers for the wavenet lab (written independently of solution/)."""

import random

import torch

from labpath.checks import kit


def affine(bn):
    if hasattr(bn, "gamma") and hasattr(bn, "beta"):
        return "gamma", "beta"
    if hasattr(bn, "weight") and hasattr(bn, "bias"):
        return "weight", "bias"
    kit.fail("BatchNorm1d has no gamma/beta (or weight/bias) attributes")


def as_float64(bn, gamma, beta):
    g, b = affine(bn)
    for name, value in ((g, gamma), (b, beta)):
        old = getattr(bn, name)
        setattr(
            bn, name, value.double().reshape(old.shape).clone().requires_grad_(True)
        )
    for name in ("running_mean", "running_var"):
        setattr(bn, name, getattr(bn, name).detach().double().clone())
    return bn


def ref_bn(x, gamma, beta, dims, unbiased, eps=1e-5):
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, unbiased=unbiased)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def matches_bn(y, x, gamma, beta, dims):
    """'biased'/'unbiased' when y is BatchNorm over dims with that variance, else None."""
    y = torch.as_tensor(y).detach()
    for unbiased in (False, True):
        ref = ref_bn(x, gamma, beta, dims, unbiased)
        if y.shape == ref.shape and torch.allclose(y, ref, rtol=1e-6, atol=1e-8):
            return "unbiased" if unbiased else "biased"
    return None


def flat(t):
    return torch.as_tensor(t).detach().reshape(-1)


def dataset(words, block=8):
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    ws = list(words)
    random.Random(42).shuffle(ws)
    n1, n2 = int(0.8 * len(ws)), int(0.9 * len(ws))

    def build(part):
        xs, ys = [], []
        for w in part:
            ctx = [0] * block
            for ch in w + ".":
                xs.append(ctx)
                ys.append(stoi[ch])
                ctx = ctx[1:] + [stoi[ch]]
        return torch.tensor(xs), torch.tensor(ys)

    return len(stoi), build(ws[:n1]), build(ws[n1:n2])


def hierarchical_params(V, E, H):
    """The parameter count of the lecture's model, from its formula."""
    return V * E + (2 * E * H + 2 * H) + 2 * (2 * H * H + 2 * H) + (H * V + V)


def expected_shapes(B, V, E, H):
    """Output shape of every layer of the hierarchical model for B contexts of 8."""
    return [
        (B, 8, E),
        (B, 4, 2 * E), (B, 4, H), (B, 4, H), (B, 4, H),
        (B, 2, 2 * H), (B, 2, H), (B, 2, H), (B, 2, H),
        (B, 2 * H), (B, H), (B, H), (B, H),
        (B, V),
    ]
