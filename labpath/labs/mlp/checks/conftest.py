"""Shared fixtures for the mlp checks: the learner's engine and nn modules, and the variant."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def engine():
    """The Value engine: the learner's mlp folder, else their micrograd lab's engine.py."""
    module = kit.learner_module("engine", package="micrograd", lab="micrograd")
    if not hasattr(module, "Value"):
        kit.fail("your engine.py defines no class named Value")
    return module


@pytest.fixture(scope="session")
def nn(engine):
    """The learner's nn.py (loaded after the engine, so `from engine import Value` finds it)."""
    module = kit.learner_module("nn", package="micrograd")
    missing = [name for name in ("Neuron", "Layer", "MLP") if not hasattr(module, name)]
    if missing:
        kit.fail(f"your nn.py defines no {', '.join(missing)}")
    return module


@pytest.fixture(scope="session")
def variant(nn):
    """Which accepted activation layout the learner's MLP uses (None if it matches none)."""
    from mlp_ref import detect_variant

    return detect_variant(nn)
