"""
The building blocks of a deep MLP written as small classes with the shape of
torch.nn's API (`__call__` and `parameters()`), so every activation can be inspected:
Linear with a fan-in-scaled init, BatchNorm1d with running statistics, and Tanh.

References:
- Neural Networks: Zero to Hero, lecture 4 (makemore part 3: activations, gradients,
  BatchNorm), https://karpathy.ai/zero-to-hero.html
- Ioffe and Szegedy 2015, Batch Normalization, https://arxiv.org/abs/1502.03167
- He et al. 2015, Delving Deep into Rectifiers (Kaiming init), https://arxiv.org/abs/1502.01852
- torch.nn.BatchNorm1d, https://docs.pytorch.org/docs/stable/generated/torch.nn.BatchNorm1d.html
"""

import torch


class Linear:
    """y = x @ W + b, with W stored (fan_in, fan_out) as in the lecture."""

    def __init__(self, fan_in, fan_out, bias=True, generator=None):
        # Each output sums fan_in products; with unit-variance inputs and weights of
        # std 1/sqrt(fan_in) the sum keeps unit variance, so activations neither blow up
        # nor die as layers stack (Kaiming init; a tanh gain of 5/3 can be applied on top).
        self.weight = torch.randn((fan_in, fan_out), generator=generator) / fan_in**0.5
        self.bias = torch.zeros(fan_out) if bias else None

    def __call__(self, x):
        self.out = x @ self.weight  # (B, fan_out); kept for the activation plots
        if self.bias is not None:
            self.out = self.out + self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    """Normalise each feature over the batch, then scale by gamma and shift by beta."""

    def __init__(self, dim, eps=1e-5, momentum=0.1):
        self.eps = eps
        self.momentum = momentum
        self.training = True
        # trained with backprop: start as the identity transform
        self.gamma = torch.ones(dim)
        self.beta = torch.zeros(dim)
        # buffers: exponential moving averages of the batch statistics, used at eval
        # time when there may be a single example and no batch to take statistics of
        self.running_mean = torch.zeros(dim)
        self.running_var = torch.ones(dim)

    def __call__(self, x):
        # x: (B, dim)
        if self.training:
            xmean = x.mean(0)  # (dim,) mean over the batch, per feature
            # The lecture uses x.var(0): the unbiased estimate (divides by B - 1).
            # torch.nn.BatchNorm1d normalises with the biased one (divides by B); the
            # two differ by a factor B / (B - 1) and both work.
            xvar = x.var(0)  # (dim,)
        else:
            xmean = self.running_mean
            xvar = self.running_var
        xhat = (x - xmean) / torch.sqrt(xvar + self.eps)  # eps guards a constant feature
        self.out = self.gamma * xhat + self.beta  # (B, dim)
        if self.training:
            # Running statistics are bookkeeping, not part of the model's computation:
            # under no_grad they do not drag the whole graph of every batch along.
            with torch.no_grad():
                m = self.momentum
                self.running_mean = (1 - m) * self.running_mean + m * xmean
                # torch tracks the unbiased variance here whatever it normalises with
                self.running_var = (1 - m) * self.running_var + m * x.var(0)
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Tanh:
    def __call__(self, x):
        self.out = torch.tanh(x)
        return self.out

    def parameters(self):
        return []


def deep_bn_mlp(vocab_size=27, n_embd=10, block_size=3, n_hidden=100, generator=None):
    """The lecture's deep network: C plus 5 x (Linear, BatchNorm1d, Tanh) and an output
    Linear + BatchNorm1d whose gamma is shrunk so the first predictions are near-uniform.
    Returns (C, layers); every parameter has requires_grad=True."""
    C = torch.randn((vocab_size, n_embd), generator=generator)
    dims = [n_embd * block_size] + [n_hidden] * 5
    layers = []
    for a, b in zip(dims, dims[1:]):
        # no bias: BatchNorm's beta right after makes it redundant
        layers += [Linear(a, b, bias=False, generator=generator), BatchNorm1d(b), Tanh()]
    layers += [Linear(n_hidden, vocab_size, bias=False, generator=generator), BatchNorm1d(vocab_size)]
    with torch.no_grad():
        layers[-1].gamma *= 0.1  # less confident output at init
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
