"""
Lab - batchnorm: activations, gradients and BatchNorm by hand (lecture 4).

Write the layers of a deep MLP as small classes with torch.nn's shape (`__call__`,
`parameters()`), so you can look inside every layer: Linear with a fan-in-scaled init,
BatchNorm1d with running statistics, and Tanh.
Read README.md in this folder first; check your work with `labpath check batchnorm`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import torch


class Linear:
    """y = x @ W + b. Store W as (fan_in, fan_out) like the lecture (or (fan_out, fan_in)
    like torch.nn.Linear, with x @ W.T)."""

    def __init__(self, fan_in, fan_out, bias=True, generator=None):
        # TODO: self.weight from torch.randn(..., generator=generator), scaled so that a
        # unit-variance input gives a unit-variance output; self.bias zeros or None.
        raise NotImplementedError("Linear.__init__")

    def __call__(self, x):
        # TODO: compute, store in self.out (handy for plots) and return the output.
        raise NotImplementedError("Linear.__call__")

    def parameters(self):
        # TODO: the trainable tensors themselves, [weight] or [weight, bias].
        raise NotImplementedError("Linear.parameters")


class BatchNorm1d:
    """Normalise each feature over the batch, then scale by gamma and shift by beta."""

    def __init__(self, dim, eps=1e-5, momentum=0.1):
        # TODO: eps, momentum, training = True; gamma (ones) and beta (zeros) are trained;
        # running_mean (zeros) and running_var (ones) are buffers.
        raise NotImplementedError("BatchNorm1d.__init__")

    def __call__(self, x):
        # TODO: x is (B, dim). In training mode use the batch's mean and variance over
        # dim 0 and update the running buffers (without tracking gradients); in eval mode
        # use the running buffers and leave them alone.
        raise NotImplementedError("BatchNorm1d.__call__")

    def parameters(self):
        # TODO: [gamma, beta]
        raise NotImplementedError("BatchNorm1d.parameters")


class Tanh:
    def __call__(self, x):
        # TODO
        raise NotImplementedError("Tanh.__call__")

    def parameters(self):
        return []


def deep_bn_mlp(vocab_size=27, n_embd=10, block_size=3, n_hidden=100, generator=None):
    """The lecture's deep network: C plus 5 x (Linear, BatchNorm1d, Tanh) and an output
    Linear + BatchNorm1d whose gamma is shrunk so the first predictions are near-uniform.
    Returns (C, layers); every parameter has requires_grad=True. (Written for you.)"""
    C = torch.randn((vocab_size, n_embd), generator=generator)
    dims = [n_embd * block_size] + [n_hidden] * 5
    layers = []
    for a, b in zip(dims, dims[1:]):
        layers += [Linear(a, b, bias=False, generator=generator), BatchNorm1d(b), Tanh()]
    layers += [Linear(n_hidden, vocab_size, bias=False, generator=generator), BatchNorm1d(vocab_size)]
    with torch.no_grad():
        layers[-1].gamma *= 0.1
    params = [C] + [p for layer in layers for p in layer.parameters()]
    for p in params:
        p.requires_grad = True
    return C, layers


if __name__ == "__main__":
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(2147483647)
    C, layers = deep_bn_mlp(generator=g)
    params = [C] + [p for layer in layers for p in layer.parameters()]
    print("params:", sum(p.nelement() for p in params))  # 47024 for the lecture's sizes
    X = torch.randint(0, 27, (32, 3), generator=g)
    Y = torch.randint(0, 27, (32,), generator=g)
    x = C[X].view(32, -1)
    for layer in layers:
        x = layer(x)
    print("loss at init:", F.cross_entropy(x, Y).item())  # about ln 27 = 3.30
    for i, layer in enumerate(layers):
        if isinstance(layer, Tanh):
            t = layer.out
            print(f"layer {i}: std {t.std():.2f}, saturated {(t.abs() > 0.97).float().mean():.2%}")
