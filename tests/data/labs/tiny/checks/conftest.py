"""Shared fixture for the tiny checks: the learner's moments module."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def moments():
    """The learner's moments.py."""
    return kit.learner_module("moments")
