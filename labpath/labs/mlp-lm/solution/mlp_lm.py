"""
A character-level MLP language model in the style of Bengio et al. 2003: look up a
learned vector for each of the last `block_size` characters, concatenate them, pass
them through one tanh hidden layer and read off logits for the next character.

References:
- Neural Networks: Zero to Hero, lecture 3 (makemore part 2: MLP),
  https://karpathy.ai/zero-to-hero.html
- Bengio, Ducharme, Vincent, Jauvin 2003, "A Neural Probabilistic Language Model",
  https://www.jmlr.org/papers/volume3/bengio03a/bengio03a.pdf
"""

import random

import torch
import torch.nn.functional as F

# ---- data ----------------------------------------------------------------------------


def build_vocab(words):
    """stoi/itos for the characters in words, with '.' (start and end) as index 0."""
    chars = sorted(set("".join(words)))
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    stoi["."] = 0
    itos = {i: ch for ch, i in stoi.items()}
    return stoi, itos


def build_dataset(words, stoi, block_size=3):
    """Every (context, next character) pair of every word.

    A word w gives len(w) + 1 examples: the context starts as block_size dots (index 0)
    and slides one character at a time; the last target is the terminating '.'.
    Returns X of shape (N, block_size) and Y of shape (N,), both int64.
    """
    X, Y = [], []
    for w in words:
        context = [0] * block_size  # "..." : nothing seen yet
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)  # record the context *before* sliding it
            Y.append(ix)
            context = context[1:] + [ix]  # drop the oldest, append the newest
    X = torch.tensor(X, dtype=torch.long).view(-1, block_size)  # (N, block_size)
    Y = torch.tensor(Y, dtype=torch.long)  # (N,)
    return X, Y


def split_words(words, seed=42):
    """Shuffle a copy of the words, then cut 80% / 10% / 10% into train, dev, test.

    Splitting words (not examples) keeps every example of one name in one split, so the
    dev loss measures names the model has never seen.
    """
    words = list(words)  # leave the caller's list alone
    random.Random(seed).shuffle(words)
    n1 = int(0.8 * len(words))
    n2 = int(0.9 * len(words))
    return words[:n1], words[n1:n2], words[n2:]


# ---- model -----------------------------------------------------------------------------


def init_params(vocab_size=27, block_size=3, n_embd=10, n_hidden=200, generator=None):
    """[C, W1, b1, W2, b2] with the lecture's layout, scaled so the start is sane.

    Shapes: C (V, E), W1 (block_size*E, H), b1 (H,), W2 (H, V), b2 (V,).
    Plain randn weights give a step-0 loss near 29 instead of ln(V) = 3.30 for V = 27:
    the logits are huge and confidently wrong, and the tanh units are saturated.
    Shrinking W2/b2 makes the first prediction close to uniform, and scaling W1 by
    gain/sqrt(fan_in) (the tanh gain is 5/3) keeps the hidden pre-activations at unit
    scale, so tanh starts in its sensitive range (lecture 4).
    """
    g = generator
    fan_in = block_size * n_embd
    C = torch.randn((vocab_size, n_embd), generator=g)
    W1 = torch.randn((fan_in, n_hidden), generator=g) * (5 / 3) / fan_in**0.5
    b1 = torch.randn(n_hidden, generator=g) * 0.01
    W2 = torch.randn((n_hidden, vocab_size), generator=g) * 0.01
    b2 = torch.zeros(vocab_size)
    params = [C, W1, b1, W2, b2]
    for p in params:
        p.requires_grad = True
    return params


def forward(params, X):
    """Logits (N, V) for a batch of contexts X (N, block_size)."""
    C, W1, b1, W2, b2 = params
    emb = C[X]  # (N, block_size, E): one row of C per context character
    # concatenate the block_size vectors of each example: row-major view keeps
    # character 0's E numbers first, then character 1's, ...
    h = torch.tanh(emb.view(emb.shape[0], -1) @ W1 + b1)  # (N, H)
    return h @ W2 + b2  # (N, V)


def loss_fn(logits, Y):
    """Mean negative log-likelihood of the targets: softmax + NLL in one stable call."""
    # F.cross_entropy subtracts the row max before exp, so large logits do not overflow
    return F.cross_entropy(logits, Y)


# ---- training --------------------------------------------------------------------------


def train(params, X, Y, steps, batch_size=32, lr=0.1, decay_at=None, generator=None):
    """Mini-batch SGD on (X, Y); lr drops tenfold from step decay_at on. Returns losses."""
    losses = []
    for i in range(steps):
        ix = torch.randint(0, X.shape[0], (batch_size,), generator=generator)  # (B,)
        loss = loss_fn(forward(params, X[ix]), Y[ix])
        for p in params:
            p.grad = None  # gradients accumulate in .grad: clear last step's
        loss.backward()
        step_lr = lr if decay_at is None or i < decay_at else lr / 10
        with torch.no_grad():
            for p in params:
                p -= step_lr * p.grad
        losses.append(loss.item())
    return losses


def lr_sweep(params, X, Y, steps=1000, lo=-3.0, hi=0.0, batch_size=32, generator=None):
    """The lecture's learning-rate finder: one SGD step at each lr = 10**e, for e from
    lo to hi in `steps` equal increments. Returns (exponents, losses), each of length
    steps; losses[i] is the mini-batch loss measured before the step taken with
    10**exponents[i]. The parameters are trained along the way (use a fresh copy).
    """
    exponents = torch.linspace(lo, hi, steps)
    losses = []
    for e in exponents:
        ix = torch.randint(0, X.shape[0], (batch_size,), generator=generator)
        loss = loss_fn(forward(params, X[ix]), Y[ix])
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 10 ** e.item() * p.grad
        losses.append(loss.item())
    return exponents.tolist(), losses


def pick_lr(exponents, losses, window=25):
    """A learning rate from a sweep: where the smoothed loss is lowest.

    Single mini-batch losses are noisy, so average over a sliding window first; past
    the minimum the steps are too large and the loss climbs (or explodes).
    """
    ls = torch.tensor(losses, dtype=torch.float64).nan_to_num(nan=float("inf"))
    k = max(1, min(window, len(ls)))
    smooth = ls.unfold(0, k, 1).mean(1)  # (steps - k + 1,) moving average
    i = int(torch.argmin(smooth)) + k // 2  # centre of the best window
    return 10 ** exponents[i]


@torch.no_grad()
def evaluate(params, X, Y):
    """Loss on a whole split (no gradients needed)."""
    return loss_fn(forward(params, X), Y).item()


@torch.no_grad()
def sample(params, itos, block_size=3, n=5, generator=None):
    """n names drawn from the model, one character at a time until '.'."""
    out = []
    for _ in range(n):
        context, name = [0] * block_size, []
        while True:
            logits = forward(params, torch.tensor([context]))  # (1, V)
            ix = torch.multinomial(F.softmax(logits, dim=1), 1, generator=generator).item()
            context = context[1:] + [ix]
            if ix == 0:
                break
            name.append(itos[ix])
        out.append("".join(name))
    return out


if __name__ == "__main__":
    words = open("names.txt").read().splitlines()
    stoi, itos = build_vocab(words)
    tr, dv, te = split_words(words)
    Xtr, Ytr = build_dataset(tr, stoi)
    Xdv, Ydv = build_dataset(dv, stoi)
    g = torch.Generator().manual_seed(2147483647)
    params = init_params(len(stoi), generator=g)
    print("params:", sum(p.nelement() for p in params))  # 11897 for V=27
    print("loss at init:", evaluate(params, Xtr, Ytr))  # ~3.30 = ln 27
    train(params, Xtr, Ytr, steps=20000, decay_at=10000, generator=g)
    print("train", evaluate(params, Xtr, Ytr), "dev", evaluate(params, Xdv, Ydv))
    print(sample(params, itos, generator=g))
