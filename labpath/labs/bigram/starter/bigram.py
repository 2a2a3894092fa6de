"""
Lab - bigram: a character-level language model, counted and then learned.

Part 1 counts which character follows which and turns the counts into probabilities;
part 2 learns the same table as a one-layer neural net. Read README.md in this folder
first; check your work with `labpath check bigram`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import torch  # noqa: F401  (you will need it)
import torch.nn.functional as F  # noqa: F401  (F.one_hot is handy)

# ---- vocabulary and counts --------------------------------------------------------


def build_vocab(words):
    """Return (stoi, itos): '.' -> 0, then the sorted characters of words -> 1, 2, ...

    itos maps the indices back to characters (a dict or a list).
    """
    # TODO: collect the distinct characters, sort them, number them from 1; '.' is 0.
    raise NotImplementedError("build_vocab")


def bigram_pairs(words, stoi):
    """Return (xs, ys), two long tensors (n,): xs[k] is a character, ys[k] the one after it.

    Every word is wrapped in '.' on both sides, so 'emma' gives the 5 pairs
    .e em mm ma a.
    """
    # TODO: walk over each padded word with zip(chs, chs[1:]).
    raise NotImplementedError("bigram_pairs")


def count_bigrams(words, stoi):
    """Return N, an integer tensor (V, V) with V = len(stoi): N[i, j] = count of i followed by j."""
    # TODO: start from torch.zeros((V, V), dtype=torch.int64) and add 1 per pair.
    raise NotImplementedError("count_bigrams")


def probs_from_counts(N, smoothing=1):
    """Return P, a float tensor (V, V) whose row i is the distribution of the next character.

    smoothing is added to every count first (0: no smoothing, 1: add-one smoothing).
    """
    # TODO: convert to float, add smoothing, divide every row by its sum.
    # Mind the broadcasting: the row sums must have shape (V, 1).
    raise NotImplementedError("probs_from_counts")


def avg_nll(P, words, stoi):
    """Return the average negative log-likelihood (a float) of all bigrams of words under P."""
    # TODO: -log P[x, y] for every pair, averaged.
    raise NotImplementedError("avg_nll")


# ---- sampling ---------------------------------------------------------------------


def sample(P, itos, n, generator):
    """Return n words sampled from P, each a string ending with '.' (e.g. 'mor.').

    Start at '.', draw the next character from the current character's row of P with
    torch.multinomial(..., generator=generator), stop when '.' comes up again.
    """
    # TODO
    raise NotImplementedError("sample")


# ---- the same model as a neural net -----------------------------------------------


class NeuralBigram:
    """One linear layer without bias: logits = one_hot(x) @ W, with W of shape (V, V)."""

    def __init__(self, vocab_size, generator=None):
        # TODO: self.W: a (vocab_size, vocab_size) tensor drawn with torch.randn
        # (pass generator=generator), with requires_grad=True.
        raise NotImplementedError("NeuralBigram.__init__")

    def forward(self, xs):
        """Return the logits (n, V) for a long tensor xs (n,) of current characters."""
        # TODO: one-hot encode xs (as floats) and multiply by W.
        raise NotImplementedError("NeuralBigram.forward")

    def loss(self, xs, ys, reg=0.01):
        """Return the mean cross-entropy of ys given xs, plus reg * mean(W**2), as a tensor."""
        # TODO: softmax over the next character (dim 1), -log of the probability of each
        # target, averaged, plus the L2 term. Write the softmax out yourself.
        raise NotImplementedError("NeuralBigram.loss")


def train_neural_bigram(model, xs, ys, steps=100, lr=50.0, reg=0.01):
    """Full-batch gradient descent on model.loss for `steps` steps; return the list of losses."""
    # TODO: each step: loss, reset model.W.grad, backward, update W under torch.no_grad().
    raise NotImplementedError("train_neural_bigram")
