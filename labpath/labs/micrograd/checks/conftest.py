"""Shared fixtures for the micrograd checks: the learner's Value and a torch twin."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def Value():
    """The learner's Value class, from engine.py or micrograd/engine.py."""
    module = kit.learner_module("engine", package="micrograd")
    if not hasattr(module, "Value"):
        kit.fail("your engine.py defines no class named Value")
    return module.Value
