"""Shared fixtures for the batchnorm checks: the learner's layers module and the data."""

import pytest
import torch

from labpath.checks import kit

# Small matrices, batch 32: one thread is faster than two fighting over a busy machine.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def layers():
    """The learner's layers module (Linear, BatchNorm1d, Tanh)."""
    module = kit.learner_module("layers")
    for name in ("Linear", "BatchNorm1d", "Tanh"):
        if not hasattr(module, name):
            kit.fail(f"your layers.py defines no class named {name}")
    return module


@pytest.fixture(scope="session")
def words():
    return kit.words()
