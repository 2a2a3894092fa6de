"""Shared fixtures for the bigram checks: the learner's module and the data's reference counts."""

import pytest
from bigram_ref import reference

from labpath.checks import kit


@pytest.fixture(scope="session")
def bg():
    """The learner's bigram.py."""
    return kit.learner_module("bigram")


@pytest.fixture(scope="session")
def ref():
    """Vocabulary, bigram pairs, counts and figures of the data set, computed by labpath."""
    return reference(kit.words())


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Every tensor here is tiny: one thread avoids the threads' start-up and wait costs,
    which dominate (and vary wildly on a busy machine) at these sizes."""
    yield from kit.one_thread()
