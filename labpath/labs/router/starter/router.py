"""
Lab - router: send each task to the agent best suited for it, or to a fallback.

One prototype per agent (the normalised mean of its example embeddings), cosine scores,
a threshold and a margin for the fallback, a threshold fitted on labelled tasks, and
accuracy with a confusion matrix. Read README.md in this folder first; check your work
with `labpath check router`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import numpy as np  # noqa: F401
import torch  # noqa: F401


def normalize(x, eps=1e-12):
    """Rows of x scaled to unit L2 norm; a zero row stays finite (divide by max(norm, eps))."""
    # TODO
    raise NotImplementedError("normalize")


def build_prototypes(examples):
    """{agent: tensor (n_i, d)} -> (list of names in insertion order, tensor (K, d)).

    Each prototype is normalize(mean(normalize(examples of that agent))).
    """
    # TODO
    raise NotImplementedError("build_prototypes")


class Router:
    """Cosine router: best agent, or the fallback when best < threshold or
    best - second < margin."""

    def __init__(
        self, names, prototypes, threshold=0.0, margin=0.0, fallback="fallback"
    ):
        self.names = list(names)
        self.prototypes = prototypes  # (K, d)
        self.threshold, self.margin, self.fallback = threshold, margin, fallback

    def scores(self, q):
        """Cosines (n, K) of tasks q (n, d) with every prototype; (d,) -> (1, K)."""
        # TODO: normalise the query (and the prototypes, if not already unit).
        raise NotImplementedError("Router.scores")

    def route(self, q):
        """[(name, best cosine)] for q (n, d); a single (name, best cosine) for q (d,).

        name is the fallback when best < threshold or best - second < margin.
        """
        # TODO
        raise NotImplementedError("Router.route")

    def fit_threshold(self, q, labels, grid):
        """Return the threshold in grid with the highest accuracy on (q, labels); ties go
        to the smallest. A label equal to self.fallback means no agent should take it."""
        # TODO
        raise NotImplementedError("Router.fit_threshold")


def confusion_matrix(y_true, y_pred, labels):
    """np.ndarray (L, L) of counts: row = true label, column = predicted, in labels' order."""
    # TODO
    raise NotImplementedError("confusion_matrix")


def accuracy(y_true, y_pred):
    """Fraction of positions where y_pred equals y_true."""
    # TODO
    raise NotImplementedError("accuracy")


# Optional: KNNRouter(utterances, top_k=5, aggregation="mean") in semantic-router's style
# (every example indexed on its own, the top_k nearest vote, aggregated by mean, sum or
# max), with route(q) like Router.route. Its check is skipped while it does not exist.


def embed(texts):
    """texts -> tensor (N, d). Your choice (your GPT, your TF-IDF, ...); the checks never call it."""
    raise NotImplementedError("embed")
