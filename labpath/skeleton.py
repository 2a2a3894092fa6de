"""The files `labpath dev new` writes: a small working lab to rewrite into a real one."""

from __future__ import annotations

from string import Template

# Each template is filled with $lab (the id), $module (its file's name) and $title.
BRIEF = Template("""\
# $lab: $title

**Goal.** Write `softmax` and `cross_entropy` over plain Python lists, so that the loss
every classifier trains on is a few lines you can trace by hand. (This is the skeleton
`labpath dev new` wrote: replace it with the lab's own goal.)

**Where.** `$module.py` in this folder.

## The interface

- `softmax(logits)`: a list of rows of numbers to a list of rows of probabilities.
- `cross_entropy(logits, targets)`: the mean over rows of -log softmax(row)[target].

## Steps

1. Write `softmax`: subtract each row's maximum, exponentiate, divide by the row's sum.
2. Write `cross_entropy` with your `softmax`: -log of the target's probability, averaged.
3. Run `labpath check $lab` until everything passes, then `labpath log` what clicked.

## What the checks do

Every check draws seeded random logits with a distinct size per dimension, computes the
result with your code and with float64 `torch`, and compares them (relative tolerance
1e-9).

## References

- PyTorch, torch.nn.functional.cross_entropy:
  https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html
""")

LAB_YAML = Template("""\
format_version: 1
id: $lab
title: "$title"
# The files the learner writes, relative to labs/$lab/ in the workspace.
files: [$module.py]
time_limit: 60
seed: 1337
hints:
  - >-
    Start with one row: softmax([1.0, 2.0, 3.0]) must sum to 1 and grow with the logit.
  - >-
    Softmax is exp(x_i) / sum_j exp(x_j); subtracting the row's maximum first changes
    nothing mathematically and keeps exp from overflowing. Cross-entropy is the mean
    over rows of -log p[target].
  - >-
    m = max(row); e = [math.exp(x - m) for x in row]; s = sum(e); return [v / s for v
    in e] for each row. cross_entropy: probs = softmax(logits); return
    -sum(math.log(p[t]) for p, t in zip(probs, targets)) / len(targets).
forbidden:
  - name: torch
    why: the lab computes the loss itself; torch is only the checks' reference
""")

STARTER = Template('''\
"""
$lab: $title.

Write `softmax` and `cross_entropy` over lists of rows of numbers.
Read README.md in this folder first; check your work with `labpath check $lab`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import math  # noqa: F401  (you will want math.exp and math.log)


def softmax(logits):
    """(N, C) logits -> (N, C) probabilities; each row sums to 1."""
    # TODO: for each row, subtract its maximum (so exp cannot overflow), exponentiate,
    # and divide by the row's sum.
    raise NotImplementedError("softmax")


def cross_entropy(logits, targets):
    """(N, C) logits and N class ids -> the mean negative log-likelihood."""
    # TODO: -log of each row's probability at its target, averaged over the rows.
    raise NotImplementedError("cross_entropy")
''')

SOLUTION = Template('''\
"""
$lab: $title (reference solution).

softmax turns a row of scores into probabilities; cross_entropy is the mean negative
log-likelihood of the targets under them: the loss a classifier trains on.
"""

import math


def softmax(logits):
    """(N, C) logits -> (N, C) probabilities; each row sums to 1."""
    out = []
    for row in logits:
        m = max(row)  # exp(x - m) / sum exp(x - m) is the same, and cannot overflow
        e = [math.exp(x - m) for x in row]  # (C,)
        s = sum(e)
        out.append([v / s for v in e])
    return out


def cross_entropy(logits, targets):
    """(N, C) logits and N class ids -> the mean negative log-likelihood."""
    probs = softmax(logits)  # (N, C)
    nll = [-math.log(p[t]) for p, t in zip(probs, targets)]  # (N,)
    return sum(nll) / len(nll)
''')

CONFTEST = Template('''\
"""Shared fixtures for the $lab checks: the learner's module."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def mod():
    """The learner's $module.py."""
    return kit.learner_module("$module")
''')

CHECKS = Template('''\
"""Checks for the $lab lab: softmax and cross_entropy against torch in float64."""

import random

import torch

from labpath.checks import kit

N, C = 3, 5  # distinct sizes, so a swapped axis cannot pass


def logits(scale=3.0):
    rng = random.Random(kit.seed())
    return [[rng.uniform(-scale, scale) for _ in range(C)] for _ in range(N)]


def test_softmax_matches_torch(mod):
    """softmax(x) row by row, including logits large enough to overflow exp."""
    for x in (logits(), logits(scale=800.0)):
        expected = torch.tensor(x, dtype=torch.float64).softmax(dim=-1)
        kit.close(
            mod.softmax(x),
            expected,
            "softmax(logits)",
            rtol=1e-9,
            dims="N C",
            hint="exponentiate each logit minus the row's maximum, then divide by the sum",
        )


def test_cross_entropy_matches_torch(mod):
    """The mean over rows of -log softmax(row)[target]."""
    x = logits()
    targets = [random.Random(kit.seed() + 1).randrange(C) for _ in range(N)]
    t = torch.tensor(x, dtype=torch.float64)
    expected = torch.nn.functional.cross_entropy(t, torch.tensor(targets))
    kit.close(
        mod.cross_entropy(x, targets),
        expected,
        "cross_entropy(logits, targets)",
        rtol=1e-9,
        hint="average -log p[target] over the rows",
    )
''')

BUGS = Template("""\
# Realistic mistakes, each a small edit of solution/; `labpath dev check $lab` proves the
# check named in `fails` catches it. Each `old:` names code only, never a comment.
format_version: 1
bugs:
  - id: softmax-divided-by-max
    summary: softmax normalises by the largest term instead of the sum
    file: $module.py
    replace:
      - old: "out.append([v / s for v in e])"
        new: "out.append([v / max(e) for v in e])"
    fails: test_softmax_matches_torch

  - id: softmax-without-exp
    summary: the shifted logits are normalised without exponentiating them
    file: $module.py
    replace:
      - old: "e = [math.exp(x - m) for x in row]"
        new: "e = [x - m for x in row]"
    fails: test_softmax_matches_torch

  - id: softmax-shift-added
    summary: the maximum is added instead of subtracted, so exp overflows
    file: $module.py
    replace:
      - old: "e = [math.exp(x - m) for x in row]"
        new: "e = [math.exp(min(x + m, 700.0)) for x in row]"
    fails: test_softmax_matches_torch

  - id: nll-sign-flipped
    summary: cross_entropy returns +log p, a loss that rewards being wrong
    file: $module.py
    replace:
      - old: "nll = [-math.log(p[t]) for p, t in zip(probs, targets)]"
        new: "nll = [math.log(p[t]) for p, t in zip(probs, targets)]"
    fails: test_cross_entropy_matches_torch

  - id: nll-of-first-class
    summary: every row is scored at class 0 instead of at its target
    file: $module.py
    replace:
      - old: "nll = [-math.log(p[t]) for p, t in zip(probs, targets)]"
        new: "nll = [-math.log(p[0]) for p, t in zip(probs, targets)]"
    fails: test_cross_entropy_matches_torch

  - id: nll-summed
    summary: the loss is the sum over rows instead of the mean
    file: $module.py
    replace:
      - old: "return sum(nll) / len(nll)"
        new: "return sum(nll)"
    fails: test_cross_entropy_matches_torch
""")


TITLE = "Softmax and cross-entropy, a skeleton to rewrite"


def files(lab: str, title: str = TITLE) -> dict[str, str]:
    """Every file of the skeleton, by path relative to the lab's folder."""
    module = lab.replace("-", "_")
    fill = {"lab": lab, "module": module, "title": title}
    return {
        "README.md": BRIEF.substitute(fill),
        "lab.yaml": LAB_YAML.substitute(fill),
        f"starter/{module}.py": STARTER.substitute(fill),
        f"solution/{module}.py": SOLUTION.substitute(fill),
        "checks/conftest.py": CONFTEST.substitute(fill),
        f"checks/test_{module}.py": CHECKS.substitute(fill),
        "bugs.yaml": BUGS.substitute(fill),
    }
