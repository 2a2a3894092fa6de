"""
Lab - mlp-lm: the Bengio et al. 2003 MLP language model (lecture 3).

Predict the next character from the previous `block_size` characters: look each one
up in an embedding table C, concatenate, one tanh hidden layer, logits over the vocab.
Read README.md in this folder first; check your work with `labpath check mlp-lm`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import random  # noqa: F401  (for the shuffle in split_words)

import torch
import torch.nn.functional as F  # noqa: F401

# ---- data ----------------------------------------------------------------------------


def build_vocab(words):
    """stoi/itos for the characters in words, with '.' (start and end) as index 0 and the
    letters in sorted order from 1. Returns (stoi, itos)."""
    # TODO: chars = sorted(set(...)); '.' -> 0, then 'a' -> 1, 'b' -> 2, ...
    raise NotImplementedError("build_vocab")


def build_dataset(words, stoi, block_size=3):
    """Every (context, next character) pair of every word.

    Returns X of shape (N, block_size) and Y of shape (N,), both int64 (torch.long).
    For "emma" and block_size 3: ... -> e, ..e -> m, .em -> m, emm -> a, mma -> .
    """
    # TODO: start each word with a context of block_size zeros ('.'), go through the
    # characters of w + '.', record (context, ix), then slide the context by one.
    raise NotImplementedError("build_dataset")


def split_words(words, seed=42):
    """Shuffle the words with a fixed seed and cut them 80% / 10% / 10%.

    Returns (train_words, dev_words, test_words).
    """
    # TODO: shuffle (reproducibly), then n1 = int(0.8 * n) and n2 = int(0.9 * n).
    raise NotImplementedError("split_words")


# ---- model -----------------------------------------------------------------------------


def init_params(vocab_size=27, block_size=3, n_embd=10, n_hidden=200, generator=None):
    """[C, W1, b1, W2, b2], each with requires_grad=True.

    Shapes: C (V, E), W1 (block_size*E, H), b1 (H,), W2 (H, V), b2 (V,).
    The train loss at step 0 must be close to ln(V) (3.30 for V = 27).
    """
    # TODO: torch.randn(..., generator=generator) for each tensor; then scale them so
    # the first predictions are near-uniform and tanh is not saturated (see README).
    raise NotImplementedError("init_params")


def forward(params, X):
    """Logits (N, V) for a batch of contexts X (N, block_size)."""
    # TODO: embed with C, concatenate each example's vectors, tanh hidden layer, logits.
    raise NotImplementedError("forward")


def loss_fn(logits, Y):
    """Mean cross-entropy of the targets Y (N,) under the logits (N, V)."""
    # TODO: one line.
    raise NotImplementedError("loss_fn")


# ---- training --------------------------------------------------------------------------


def train(params, X, Y, steps, batch_size=32, lr=0.1, decay_at=None, generator=None):
    """Mini-batch SGD on (X, Y) for `steps` steps; the learning rate becomes lr / 10 from
    step decay_at on (never when decay_at is None). Returns the list of batch losses."""
    # TODO: sample a mini-batch with torch.randint(..., generator=generator), forward,
    # loss, reset the gradients, backward, update every parameter in place.
    raise NotImplementedError("train")


def lr_sweep(params, X, Y, steps=1000, lo=-3.0, hi=0.0, batch_size=32, generator=None):
    """The learning-rate finder: one SGD step at each lr = 10**e for e going from lo to hi
    in `steps` evenly spaced values. Returns (exponents, losses), both of length steps;
    losses[i] is the batch loss before the step taken with 10**exponents[i]."""
    # TODO: like train, but with a new learning rate at every step.
    raise NotImplementedError("lr_sweep")


def pick_lr(exponents, losses):
    """A good learning rate (not its exponent) read off a sweep: the valley of the loss."""
    # TODO: the losses of single batches are noisy: smooth them before choosing.
    raise NotImplementedError("pick_lr")


@torch.no_grad()
def evaluate(params, X, Y):
    """Loss on a whole split."""
    return loss_fn(forward(params, X), Y).item()


if __name__ == "__main__":
    words = open("names.txt").read().splitlines()
    stoi, itos = build_vocab(words)
    tr, dv, te = split_words(words)
    Xtr, Ytr = build_dataset(tr, stoi)
    Xdv, Ydv = build_dataset(dv, stoi)
    g = torch.Generator().manual_seed(2147483647)
    params = init_params(len(stoi), generator=g)
    print("params:", sum(p.nelement() for p in params))
    print("loss at init:", evaluate(params, Xtr, Ytr))
    train(params, Xtr, Ytr, steps=20000, decay_at=10000, generator=g)
    print("train", evaluate(params, Xtr, Ytr), "dev", evaluate(params, Xdv, Ydv))
