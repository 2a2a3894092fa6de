"""Shared fixtures for the tabular-embeddings checks: the learner's tabular.py."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def tab():
    """The learner's tabular module."""
    return kit.learner_module("tabular")


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check models are small: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
