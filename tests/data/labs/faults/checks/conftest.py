"""The learner's stats module, loaded once."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def stats():
    return kit.learner_module("stats")
