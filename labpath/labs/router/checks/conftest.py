"""Shared fixtures for the router checks: the learner's router.py."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def rt():
    """The learner's router module."""
    return kit.learner_module("router")


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check tensors are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
