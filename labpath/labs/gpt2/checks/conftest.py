"""Shared fixtures for the gpt2 checks: the learner's model.py (GPTConfig and GPT)."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def gpt():
    """The learner's model module; it must define GPTConfig and GPT, as nanoGPT does."""
    module = kit.learner_module("model")
    for name in ("GPTConfig", "GPT"):
        if not hasattr(module, name):
            kit.fail(f"your model.py defines no {name}",
                     hint="model.py needs a GPTConfig dataclass and a GPT(config) module")
    return module


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check models are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
