"""
A character-level bigram language model, built twice: once by counting which character
follows which, and once as a one-layer neural net trained by gradient descent. Both
model P(next char | current char); trained on the same words they reach the same loss,
because the counts are already the maximum-likelihood answer the net is searching for.

References:
- Neural Networks: Zero to Hero, lecture 2 (https://karpathy.ai/zero-to-hero.html)
- karpathy/makemore (https://github.com/karpathy/makemore)
"""

import torch
import torch.nn.functional as F

# ---- vocabulary and counts --------------------------------------------------------


def build_vocab(words):
    """'.' (start and end of a word) gets index 0, the characters 1.. in sorted order."""
    chars = sorted(set("".join(words)))
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    stoi["."] = 0  # one token marks both ends: it starts and ends every word
    itos = {i: ch for ch, i in stoi.items()}
    return stoi, itos


def bigram_pairs(words, stoi):
    """Every (current, next) index pair of every word, '.' on both ends: xs, ys (n,)."""
    xs, ys = [], []
    for w in words:
        chs = ["."] + list(w) + ["."]  # 'emma' -> . e m m a . : 5 pairs
        for ch1, ch2 in zip(chs, chs[1:]):
            xs.append(stoi[ch1])
            ys.append(stoi[ch2])
    return torch.tensor(xs, dtype=torch.long), torch.tensor(ys, dtype=torch.long)


def count_bigrams(words, stoi):
    """N[i, j] = how often character j follows character i: an int tensor (V, V)."""
    V = len(stoi)
    N = torch.zeros((V, V), dtype=torch.int64)
    xs, ys = bigram_pairs(words, stoi)
    # index_put_ with accumulate=True adds 1 for every pair, repeated pairs included
    N.index_put_((xs, ys), torch.ones_like(xs), accumulate=True)
    return N


def probs_from_counts(N, smoothing=1):
    """Row i of P is the distribution of the character after i: float (V, V), rows sum to 1.

    smoothing adds a fake count to every cell, so no bigram gets probability 0
    (smoothing=0 gives the plain maximum-likelihood estimate).
    """
    P = (N + smoothing).double()  # float before dividing: integer division would give 0s
    # keepdim=True keeps the row sums as a (V, 1) column, which broadcasts across each
    # row; a (V,) vector would broadcast across columns and divide N[i, j] by row j's sum
    P = P / P.sum(1, keepdim=True)
    return P


def avg_nll(P, words, stoi):
    """Average negative log-likelihood of every bigram in words under P (lower is better)."""
    xs, ys = bigram_pairs(words, stoi)
    logp = torch.log(P[xs, ys])  # log-probability the model gave to what actually came next
    return -logp.mean().item()  # mean, not sum: comparable across data sets of any size


# ---- sampling ---------------------------------------------------------------------


def sample(P, itos, n, generator):
    """n words drawn from the model, each ending with '.'; generator makes them repeatable."""
    out = []
    for _ in range(n):
        ix, chars = 0, []  # start at '.', the start-of-word token
        while True:
            # draw the next index from row ix; the generator, not the global RNG, decides
            ix = torch.multinomial(P[ix], num_samples=1, replacement=True, generator=generator).item()
            chars.append(itos[ix])
            if ix == 0:  # back at '.': the word is over
                break
        out.append("".join(chars))
    return out


# ---- the same model as a neural net -----------------------------------------------


class NeuralBigram:
    """logits = one_hot(x) @ W: a single linear layer, no bias, V inputs -> V outputs."""

    def __init__(self, vocab_size, generator=None):
        # exp(W) plays the role of the counts: W[i, j] is a log-count
        self.W = torch.randn((vocab_size, vocab_size), generator=generator, dtype=torch.float64,
                             requires_grad=True)

    def forward(self, xs):
        """Logits (n, V) for a batch of current-character indices xs (n,)."""
        V = self.W.shape[0]
        xenc = F.one_hot(xs, num_classes=V).to(self.W.dtype)  # (n, V); one_hot gives ints
        return xenc @ self.W  # (n, V) @ (V, V) -> (n, V): picks row xs[k] of W

    def loss(self, xs, ys, reg=0.01):
        """Cross-entropy of the next characters plus reg * mean(W**2)."""
        logits = self.forward(xs)  # (n, V)
        counts = logits.exp()  # positive "fake counts"
        probs = counts / counts.sum(1, keepdim=True)  # softmax over the next character
        nll = -probs[torch.arange(len(ys)), ys].log().mean()
        # the L2 term pulls W towards 0, i.e. every row towards uniform: the net's smoothing
        return nll + reg * (self.W**2).mean()


def train_neural_bigram(model, xs, ys, steps=100, lr=50.0, reg=0.01):
    """Full-batch gradient descent on model.loss; returns the loss of every step."""
    losses = []
    for _ in range(steps):
        loss = model.loss(xs, ys, reg=reg)
        model.W.grad = None  # drop last step's gradient: backward() adds to .grad
        loss.backward()
        with torch.no_grad():
            model.W -= lr * model.W.grad  # step downhill, against the gradient
        losses.append(loss.item())
    return losses


if __name__ == "__main__":
    words = open("names.txt").read().split()
    stoi, itos = build_vocab(words)
    N = count_bigrams(words, stoi)
    P = probs_from_counts(N, smoothing=1)
    print(f"count model: nll {avg_nll(P, words, stoi):.4f}")
    print(sample(P, itos, 5, torch.Generator().manual_seed(2147483647)))
    xs, ys = bigram_pairs(words, stoi)
    model = NeuralBigram(len(stoi), torch.Generator().manual_seed(2147483647))
    losses = train_neural_bigram(model, xs, ys, steps=100, lr=50.0)
    print(f"neural bigram: loss {losses[-1]:.4f}")
