"""Shared fixtures for the mlp-lm checks: the learner's module and the names data."""

import pytest
import torch

from labpath.checks import kit

# The checks train a small MLP with batch 32: at that size threading costs more than it
# saves (and on a busy machine a second spinning thread slows training many times over).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mlp():
    """The learner's mlp_lm module."""
    return kit.learner_module("mlp_lm")


@pytest.fixture(scope="session")
def words():
    """The word list (labpath's names.txt or the learner's --data file)."""
    return kit.words()
