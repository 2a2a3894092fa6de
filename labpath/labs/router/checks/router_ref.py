"""labpath's own router references: prototypes, cosine routing, synthetic clusters, the task data.

Written from the definitions in README.md (not from the lab's solution) so that each
check compares two independent computations.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from labpath.checks import kit

DATA = Path(__file__).resolve().parent / "agents.json"


def need(module, *names):
    """Fail with a plain sentence when the learner's module lacks a name the check uses."""
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        kit.fail(f"your router.py defines no {', '.join(missing)}",
                 hint="keep the names of the interface in README.md")
    return [getattr(module, n) for n in names]


def unit(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    n = torch.sqrt((x * x).sum(-1, keepdim=True))
    return x / torch.where(n > 0, n, torch.ones_like(n))


def prototypes(examples):
    """(names, (K, d)): the unit mean of the unit examples, agents in insertion order."""
    names = list(examples)
    rows = [unit(unit(examples[n]).sum(0) / len(examples[n])) for n in names]
    return names, torch.stack(rows)


def decide(scores, names, threshold, margin, fallback="fallback"):
    """Routes from an (n, K) cosine matrix: best agent, or fallback when best < threshold
    or best - runner-up < margin."""
    out = []
    for row in scores.tolist():
        order = sorted(range(len(row)), key=lambda j: -row[j])
        best = row[order[0]]
        gap = best - row[order[1]] if len(row) > 1 else math.inf
        out.append(fallback if (best < threshold or gap < margin) else names[order[0]])
    return out


def clusters(seed, K=5, d=32, n_train=8, n_fit=20, n_test=40, n_ood=100, noise=0.22):
    """Spherical clusters with raw norms spread by a log-normal factor (like raw encoder
    outputs), plus out-of-distribution queries uniform on the sphere (label 'fallback').

    Returns train {agent: (n_train, d)}, and (X, labels) for a fitting split and a test
    split, each with its own out-of-distribution queries.
    """
    g = torch.Generator().manual_seed(seed)
    centres = unit(torch.randn(K, d, generator=g, dtype=torch.float64))
    names = [f"agent{i}" for i in range(K)]

    def draw(c, n):
        x = c + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
        return x * torch.exp(torch.randn(n, 1, generator=g, dtype=torch.float64))

    train = {nm: draw(c, n_train) for nm, c in zip(names, centres)}

    def split(n_in, n_out):
        xs, ys = [], []
        for nm, c in zip(names, centres):
            xs.append(draw(c, n_in))
            ys += [nm] * n_in
        xs.append(torch.randn(n_out, d, generator=g, dtype=torch.float64))
        ys += ["fallback"] * n_out
        return torch.cat(xs), ys

    return train, split(n_fit, n_ood // 2), split(n_test, n_ood)


def load_tasks():
    """The bundled agents: {name: {description, examples}}, and the dev and test tasks."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    return data["agents"], data["dev"], data["test"]


def tfidf_rows(docs):
    """Sublinear tf-idf rows (sklearn's smoothed idf), unit l2: a model-free embedding."""
    vocab = sorted({t for d in docs for t in d})
    col = {t: j for j, t in enumerate(vocab)}
    df = torch.zeros(len(vocab), dtype=torch.float64)
    for d in docs:
        for t in set(d):
            df[col[t]] += 1
    idf = torch.log((1 + len(docs)) / (1 + df)) + 1
    rows = torch.zeros(len(docs), len(vocab), dtype=torch.float64)
    for i, d in enumerate(docs):
        for t in d:
            rows[i, col[t]] += 1
    rows = torch.where(rows > 0, 1 + torch.log(rows.clamp(min=1)), rows) * idf
    return unit(rows)
