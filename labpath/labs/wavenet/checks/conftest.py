"""Shared fixtures for the wavenet checks: the learner's wavenet module and the data."""

import pytest
import torch

from labpath.checks import kit

# Small matrices, batch 32: one thread is faster than two fighting over a busy machine.
torch.set_num_threads(1)

NAMES = (
    "Linear",
    "BatchNorm1d",
    "Tanh",
    "Embedding",
    "FlattenConsecutive",
    "Sequential",
    "build_model",
)


@pytest.fixture(scope="session")
def wn():
    """The learner's wavenet module (all layers and build_model in one file)."""
    module = kit.learner_module("wavenet")
    missing = [n for n in NAMES if not hasattr(module, n)]
    if missing:
        kit.fail(f"your wavenet.py does not define {', '.join(missing)}",
                 hint="this lab's file holds the batchnorm lab's layers too: paste your Linear, "
                 "BatchNorm1d and Tanh into it")
    return module


@pytest.fixture(scope="session")
def words():
    return kit.words()
