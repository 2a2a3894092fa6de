"""The checks' own reference for the mlp-lm lab, written independently of solution/."""

import inspect
import math
import random

import torch
import torch.nn.functional as F


def ref_vocab(words):
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    return stoi


def ref_dataset(words, stoi, block_size, lag=False):
    """Contexts and targets; lag=True is the 'slid before recording' mistake."""
    xs, ys = [], []
    for w in words:
        ctx = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            if lag:
                ctx = ctx[1:] + [ix]
            xs.append(list(ctx))
            ys.append(ix)
            if not lag:
                ctx = ctx[1:] + [ix]
    return torch.tensor(xs, dtype=torch.long).view(-1, block_size), torch.tensor(ys, dtype=torch.long)


def call_build_dataset(mlp, words, stoi, block_size):
    """Call build_dataset(words, stoi, block_size) or, without a stoi parameter,
    build_dataset(words, block_size)."""
    params = inspect.signature(mlp.build_dataset).parameters
    if "stoi" in params or len(params) >= 3:
        return mlp.build_dataset(words, stoi, block_size)
    return mlp.build_dataset(words, block_size)


def ref_forward(C, W1, b1, W2, b2, X):
    """Lecture layout: W1 (block*E, H), W2 (H, V)."""
    emb = C[X]
    h = torch.tanh(emb.reshape(X.shape[0], -1) @ W1 + b1)
    return h @ W2 + b2


def param_layout(mlp, V, block, E, H):
    """'in_out' (lecture: x @ W) or 'out_in' (nn.Linear: x @ W.T), from the learner's
    init_params shapes; None when the shapes fit neither."""
    ps = list(mlp.init_params(V, block, E, H))
    if len(ps) != 5:
        return None, ps
    shapes = [tuple(p.shape) for p in ps]
    if shapes == [(V, E), (block * E, H), (H,), (H, V), (V,)]:
        return "in_out", ps
    if shapes == [(V, E), (H, block * E), (H,), (V, H), (V,)]:
        return "out_in", ps
    return None, ps


def ln(x):
    return math.log(x)


def shuffled_copy(words, seed):
    w = list(words)
    random.Random(seed).shuffle(w)
    return w


def double_softmax_loss(logits, Y):
    return F.cross_entropy(F.softmax(logits, dim=1), Y)
