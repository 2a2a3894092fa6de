"""The checks' own helpers for the batchnorm lab: reading the learner's layers in either
naming/layout convention, and reference BatchNorm variants (written independently of
solution/)."""

import torch

from labpath.checks import kit


def affine(bn):
    """(gamma, beta) attribute names: the lecture's gamma/beta or torch's weight/bias."""
    if hasattr(bn, "gamma") and hasattr(bn, "beta"):
        return "gamma", "beta"
    if hasattr(bn, "weight") and hasattr(bn, "bias"):
        return "weight", "bias"
    kit.fail("BatchNorm1d has no gamma/beta (or weight/bias) attributes",
             hint="self.gamma = torch.ones(dim); self.beta = torch.zeros(dim)")


def as_float64(bn, gamma=None, beta=None):
    """Give a learner BatchNorm1d float64 parameters and buffers (same shapes as theirs)."""
    g, b = affine(bn)
    for name, value in ((g, gamma), (b, beta)):
        old = getattr(bn, name)
        new = old.detach().double().clone() if value is None else value.double().reshape(old.shape).clone()
        setattr(bn, name, new.requires_grad_(True))
    for name in ("running_mean", "running_var"):
        if not hasattr(bn, name):
            kit.fail(f"BatchNorm1d has no attribute {name}",
                     hint=f"self.{name} = torch.{'zeros' if 'mean' in name else 'ones'}(dim)")
        setattr(bn, name, getattr(bn, name).detach().double().clone())
    return bn


def flat(t):
    return torch.as_tensor(t).detach().reshape(-1)


def ref_bn(x, gamma, beta, eps=1e-5, unbiased=False, dims=(0,)):
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, unbiased=unbiased)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def bn_variants(x, gamma, beta, eps=1e-5):
    """Known wrong versions of the training-mode output, for the report."""
    mean, var = x.mean(0, keepdim=True), x.var(0, keepdim=True)
    return {
        "you normalised each example across its features (dim 1): that is LayerNorm; "
        "BatchNorm takes statistics over the batch (dim 0)":
            gamma * (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, keepdim=True) + eps) + beta,
        "eps is added to the standard deviation, outside the square root: use sqrt(var + eps)":
            gamma * (x - mean) / (x.std(0, keepdim=True) + eps) + beta,
        "you divide by the variance, not by its square root":
            gamma * (x - mean) / (var + eps) + beta,
        "gamma and beta are not applied": (x - mean) / torch.sqrt(var + eps),
    }


def call_layers(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def set_eval(layers):
    for layer in layers:
        if hasattr(layer, "training"):
            layer.training = False
