"""
Route a task to the agent best suited for it by comparing embeddings: one prototype per
agent, cosine similarity, and a fallback when no agent is a clear match.

Goal: nearest-prototype ("nearest centroid") routing, the simplest router that works -
- every agent's example tasks are embedded; its prototype is the normalised mean of the
  normalised example embeddings, so an example with a large raw norm does not pull the
  prototype towards itself;
- a task goes to the agent whose prototype has the highest cosine with it, unless the
  best cosine is below `threshold` or beats the runner-up by less than `margin`: then it
  goes to the fallback route (a human, a generalist agent, "ask for clarification");
- the threshold is fitted on labelled tasks, some of which belong to no agent;
- accuracy and a confusion matrix (rows = true agent, columns = the route taken) say
  how well it works and which agents get confused.
An optional k-nearest-neighbour router over the individual examples (semantic-router's
design) is there to compare with.

References:
- Manning, Raghavan & Schuetze 2008, "Introduction to Information Retrieval", ch. 14.2
  (Rocchio / nearest-centroid classification).
- Snell, Swersky & Zemel 2017, "Prototypical Networks for Few-shot Learning" (class
  prototypes as mean embeddings).
- Reimers & Gurevych 2019, "Sentence-BERT" (cosine similarity of sentence embeddings).
- aurelio-labs/semantic-router, semantic_router/routers/base.py (kNN over utterances,
  top_k, aggregation mean/sum/max, score thresholds, None when no route passes).
"""

import re
import zlib

import numpy as np
import torch


def normalize(x, eps=1e-12):
    """Rows scaled to unit L2 norm; a zero row stays zero (eps keeps it finite)."""
    return x / x.norm(dim=-1, keepdim=True).clamp(min=eps)


def build_prototypes(examples):
    """{agent: (n_i, d) embeddings} -> (names in insertion order, (K, d) unit prototypes)."""
    names = list(examples)
    # normalise each example first: only its direction should vote, not its length
    protos = [normalize(normalize(torch.as_tensor(examples[n])).mean(0)) for n in names]
    return names, torch.stack(protos)  # (K, d)


class Router:
    """Cosine router over prototypes with a threshold, a margin and a fallback route.

    A task goes to the best agent when best >= threshold and best - second >= margin;
    otherwise to `fallback`. Both comparisons let equality through.
    """

    def __init__(self, names, prototypes, threshold=0.0, margin=0.0, fallback="fallback"):
        self.names = list(names)
        self.prototypes = normalize(torch.as_tensor(prototypes))  # (K, d)
        self.threshold, self.margin, self.fallback = threshold, margin, fallback

    def scores(self, q):
        """Cosine of every task with every prototype: (n, d) -> (n, K); (d,) -> (1, K)."""
        q = torch.as_tensor(q).to(self.prototypes.dtype)
        q = q.reshape(1, -1) if q.dim() == 1 else q
        return normalize(q) @ self.prototypes.T  # (n, K)

    def route(self, q):
        """[(agent or fallback, best cosine)] per task; a single tuple for one (d,) task."""
        out = self._decide(self.scores(q))
        return out[0] if torch.as_tensor(q).dim() == 1 else out

    def fit_threshold(self, q, labels, grid):
        """The threshold in grid with the best accuracy on labelled tasks (ties: the smallest).

        A label equal to self.fallback means "no agent should take this task". The
        router keeps the fitted threshold; the margin stays as it is.
        """
        s = self.scores(q)  # (n, K), computed once for the whole grid
        grid = sorted(grid)
        accs = []
        for t in grid:
            self.threshold = t
            accs.append(accuracy(labels, [name for name, _ in self._decide(s)]))
        # index() finds the first, i.e. the smallest, of equally accurate thresholds
        self.threshold = grid[accs.index(max(accs))]
        return self.threshold

    def _decide(self, s):
        """(n, K) cosines -> [(route, best cosine)] under the current threshold and margin."""
        top = s.topk(min(2, s.shape[1]), dim=1)  # the best two agents per task
        out = []
        for vals, idx in zip(top.values.tolist(), top.indices.tolist()):
            best = vals[0]
            second = vals[1] if len(vals) > 1 else -float("inf")  # one agent: no runner-up
            if best < self.threshold or best - second < self.margin:
                out.append((self.fallback, best))  # not similar enough, or too close to call
            else:
                out.append((self.names[idx[0]], best))
        return out


class KNNRouter:
    """semantic-router's design: every example is indexed on its own; a task's top_k
    nearest examples vote for their agents, aggregated by mean, sum or max."""

    def __init__(self, utterances, top_k=5, aggregation="mean"):
        assert aggregation in ("mean", "sum", "max")
        self.labels = [n for n, x in utterances.items() for _ in range(len(x))]  # one per row
        self.index = normalize(torch.cat([torch.as_tensor(x) for x in utterances.values()]))  # (M, d)
        self.top_k, self.aggregation = top_k, aggregation

    def route(self, q):
        """[(agent, aggregated score)] per task; a single tuple for one (d,) task."""
        single = torch.as_tensor(q).dim() == 1
        q = torch.as_tensor(q).to(self.index.dtype).reshape(-1, self.index.shape[1])
        s = normalize(q) @ self.index.T  # (n, M)
        top = s.topk(min(self.top_k, s.shape[1]), dim=1)
        agg = {"mean": lambda v: sum(v) / len(v), "sum": sum, "max": max}[self.aggregation]
        out = []
        for vals, idx in zip(top.values.tolist(), top.indices.tolist()):
            votes = {}
            for v, i in zip(vals, idx):
                votes.setdefault(self.labels[i], []).append(v)
            # "sum" favours agents with many examples near the task, "mean" and "max" the
            # agent whose examples are nearest (semantic-router's RouteLayer defaulted to sum)
            scored = {name: agg(v) for name, v in votes.items()}
            name = max(scored, key=scored.get)
            out.append((name, scored[name]))
        return out[0] if single else out


def confusion_matrix(y_true, y_pred, labels):
    """(L, L) counts: row = the true label, column = the predicted one, in `labels` order."""
    at = {name: i for i, name in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        m[at[t], at[p]] += 1
    return m


def accuracy(y_true, y_pred):
    """Fraction of tasks routed to their labelled agent (fallback counts as a label)."""
    assert len(y_true) == len(y_pred)
    return sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true)


# -----------------------------------------------------------------------------
# an embedding without a model: hashed words and character trigrams


def embed(texts, dim=1024):
    """texts -> (N, dim): counts of words and character trigrams, hashed into dim slots.

    Crude but honest: task descriptions that share words ("deploy", "invoice") or word
    pieces ("deploy", "deployment") land near each other. Swap in your GPT or your
    retrieval lab's TF-IDF and compare.
    """
    out = torch.zeros(len(texts), dim, dtype=torch.float64)
    for i, text in enumerate(texts):
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            out[i, zlib.crc32(word.encode()) % dim] += 1.0
            padded = f"<{word}>"
            for j in range(len(padded) - 2):
                out[i, zlib.crc32(padded[j : j + 3].encode()) % dim] += 0.5
    return normalize(out)
