"""
A hierarchical, WaveNet-style character model: instead of squashing all 8 context
characters into one hidden layer at once, fuse them in a tree, two neighbours at a
time: 8 embeddings -> 4 pairs -> 2 quads -> 1 vector of the whole context.

The layers are the batchnorm lab's (Linear, BatchNorm1d, Tanh) plus Embedding,
FlattenConsecutive and a Sequential container; BatchNorm1d now also takes 3-D input.

References:
- Neural Networks: Zero to Hero, lecture 6 (makemore part 5: building a WaveNet),
  https://karpathy.ai/zero-to-hero.html
- van den Oord et al. 2016, WaveNet: A Generative Model for Raw Audio,
  https://arxiv.org/abs/1609.03499
"""

import torch
import torch.nn.functional as F

# ---- the batchnorm lab's layers --------------------------------------------------------


class Linear:
    """y = x @ W (+ b), W of shape (fan_in, fan_out); works on (B, C) and (B, T, C)."""

    def __init__(self, fan_in, fan_out, bias=True):
        self.weight = torch.randn((fan_in, fan_out)) / fan_in**0.5  # Kaiming-style scale
        self.bias = torch.zeros(fan_out) if bias else None

    def __call__(self, x):
        # matmul treats every leading dim as a batch dim: (B, T, fan_in) -> (B, T, fan_out)
        self.out = x @ self.weight
        if self.bias is not None:
            self.out = self.out + self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    def __init__(self, dim, eps=1e-5, momentum=0.1):
        self.eps = eps
        self.momentum = momentum
        self.training = True
        self.gamma = torch.ones(dim)
        self.beta = torch.zeros(dim)
        self.running_mean = torch.zeros(dim)
        self.running_var = torch.ones(dim)

    def __call__(self, x):
        if self.training:
            # (B, C): statistics over the batch. (B, T, C): the T groups of one example
            # are more samples of the same C features, so average over B and T together;
            # over dim 0 alone there would be separate statistics per position (and
            # running buffers of shape (1, T, C)), lecture 6's "bug in batchnorm".
            if x.ndim == 2:
                dim = 0
            elif x.ndim == 3:
                dim = (0, 1)
            else:
                raise ValueError(f"BatchNorm1d expects 2-D or 3-D input, got {tuple(x.shape)}")
            xmean = x.mean(dim, keepdim=True)  # (1, C) or (1, 1, C)
            xvar = x.var(dim, keepdim=True)  # unbiased, as in the lecture
        else:
            xmean = self.running_mean
            xvar = self.running_var
        xhat = (x - xmean) / torch.sqrt(xvar + self.eps)
        self.out = self.gamma * xhat + self.beta
        if self.training:
            with torch.no_grad():  # buffers are bookkeeping, not part of the graph
                m = self.momentum
                # flatten (1, 1, C) to (C,) so the buffers keep one shape whatever the input
                self.running_mean = (1 - m) * self.running_mean + m * xmean.view(-1)
                self.running_var = (1 - m) * self.running_var + m * xvar.view(-1)
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Tanh:
    def __call__(self, x):
        self.out = torch.tanh(x)
        return self.out

    def parameters(self):
        return []


# ---- new in this lab ------------------------------------------------------------------


class Embedding:
    """A learned vector per token: (B, T) indices -> (B, T, embedding_dim)."""

    def __init__(self, num_embeddings, embedding_dim):
        self.weight = torch.randn((num_embeddings, embedding_dim))

    def __call__(self, IX):
        self.out = self.weight[IX]
        return self.out

    def parameters(self):
        return [self.weight]


class FlattenConsecutive:
    """Concatenate every n consecutive vectors: (B, T, C) -> (B, T // n, C * n).

    With row-major memory, x[b, t] for t = 2k and 2k+1 sit next to each other, so a
    view groups them without copying: out[b, k] = cat(x[b, 2k], x[b, 2k+1]).
    When a single group is left the time dim is dropped: (B, 1, C*n) -> (B, C*n).
    """

    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        B, T, C = x.shape
        x = x.view(B, T // self.n, C * self.n)
        if x.shape[1] == 1:
            x = x.squeeze(1)
        self.out = x
        return self.out

    def parameters(self):
        return []


class Sequential:
    """Call layers in order; parameters() lists every layer's parameters in order."""

    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        self.out = x
        return self.out

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def build_model(vocab_size=27, block_size=8, n_embd=24, n_hidden=128):
    """The hierarchical model: embed, then 3 x (pair up, Linear, BatchNorm1d, Tanh), out.

    Shapes for a batch of B contexts of 8 characters:
    (B, 8) -> (B, 8, E) -> (B, 4, 2E) -> (B, 4, H) -> (B, 2, 2H) -> (B, 2, H)
           -> (B, 2H) -> (B, H) -> (B, V).
    Parameters: V*E + 2E*H + 2H + 2 * (2H*H + 2H) + H*V + V (76,579 for 27/24/128).
    """
    assert block_size == 8, "three pairings fuse exactly 2**3 = 8 characters"
    model = Sequential([
        Embedding(vocab_size, n_embd),
        # Linear layers feeding BatchNorm have no bias: beta does that job
        FlattenConsecutive(2), Linear(n_embd * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, vocab_size),
    ])
    with torch.no_grad():
        model.layers[-1].weight *= 0.1  # a less confident output at init: loss ~ ln V
    for p in model.parameters():
        p.requires_grad = True
    return model


if __name__ == "__main__":
    import random

    words = open("names.txt").read().splitlines()
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    random.seed(42)
    random.shuffle(words)

    def build(ws, block_size=8):
        X, Y = [], []
        for w in ws:
            ctx = [0] * block_size
            for ch in w + ".":
                X.append(ctx)
                Y.append(stoi[ch])
                ctx = ctx[1:] + [stoi[ch]]
        return torch.tensor(X), torch.tensor(Y)

    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    (Xtr, Ytr), (Xdv, Ydv) = build(words[:n1]), build(words[n1:n2])
    torch.manual_seed(42)
    model = build_model(len(stoi))
    print("params:", sum(p.nelement() for p in model.parameters()))  # 76579 for V=27
    for i in range(20000):
        ix = torch.randint(0, Xtr.shape[0], (32,))
        loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix])
        for p in model.parameters():
            p.grad = None
        loss.backward()
        lr = 0.1 if i < 15000 else 0.01
        for p in model.parameters():
            p.data += -lr * p.grad
    for layer in model.layers:
        layer.training = False
    with torch.no_grad():
        print("dev", F.cross_entropy(model(Xdv), Ydv).item())
