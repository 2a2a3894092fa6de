"""
Lab - wavenet: a hierarchical, WaveNet-style character model (lecture 6).

Grow the context to 8 characters and fuse it in a tree, two neighbours at a time,
with the layers of the batchnorm lab plus Embedding, FlattenConsecutive and Sequential.
Read README.md in this folder first; check your work with `labpath check wavenet`.

This file holds every layer the model needs. Start by pasting your Linear, BatchNorm1d
and Tanh from the batchnorm lab over the TODOs below (drop a `generator` argument if
yours has one, or keep it optional), then extend BatchNorm1d to 3-D input.
Every gap is marked TODO and raises NotImplementedError until you fill it in.
"""

import torch
import torch.nn.functional as F

# ---- the batchnorm lab's layers (paste yours) -----------------------------------------


class Linear:
    """y = x @ W (+ b), W of shape (fan_in, fan_out); must work on (B, C) and (B, T, C)."""

    def __init__(self, fan_in, fan_out, bias=True):
        # TODO: from the batchnorm lab
        raise NotImplementedError("Linear.__init__")

    def __call__(self, x):
        # TODO: from the batchnorm lab (x @ W broadcasts over leading dims)
        raise NotImplementedError("Linear.__call__")

    def parameters(self):
        # TODO: from the batchnorm lab
        raise NotImplementedError("Linear.parameters")


class BatchNorm1d:
    def __init__(self, dim, eps=1e-5, momentum=0.1):
        # TODO: from the batchnorm lab (gamma, beta, running_mean, running_var, training)
        raise NotImplementedError("BatchNorm1d.__init__")

    def __call__(self, x):
        # TODO: from the batchnorm lab, then: for 3-D input (B, T, C) take the batch
        # statistics over dims (0, 1) together, so there is one mean and one variance
        # per channel C (and the running buffers keep C numbers).
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


# ---- new in this lab ------------------------------------------------------------------


class Embedding:
    """A learned vector per token: (B, T) indices -> (B, T, embedding_dim)."""

    def __init__(self, num_embeddings, embedding_dim):
        # TODO: self.weight of shape (num_embeddings, embedding_dim), randn
        raise NotImplementedError("Embedding.__init__")

    def __call__(self, IX):
        # TODO
        raise NotImplementedError("Embedding.__call__")

    def parameters(self):
        return [self.weight]


class FlattenConsecutive:
    """Concatenate every n consecutive vectors: (B, T, C) -> (B, T // n, C * n), and
    (B, C * n) when a single group is left."""

    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        # TODO
        raise NotImplementedError("FlattenConsecutive.__call__")

    def parameters(self):
        return []


class Sequential:
    """Call layers in order; parameters() lists every layer's parameters in order."""

    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        # TODO
        raise NotImplementedError("Sequential.__call__")

    def parameters(self):
        # TODO
        raise NotImplementedError("Sequential.parameters")


def build_model(vocab_size=27, block_size=8, n_embd=24, n_hidden=128):
    """The hierarchical model as a Sequential: Embedding, then 3 x (FlattenConsecutive(2),
    Linear(bias=False), BatchNorm1d, Tanh), then Linear(n_hidden, vocab_size) whose weight
    is scaled by 0.1; every parameter with requires_grad=True.
    76,579 parameters for 27/8/24/128."""
    # TODO
    raise NotImplementedError("build_model")


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
