"""Shared fixtures for the retrieval checks: the learner's retrieval.py (and their GPT)."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def rt():
    """The learner's retrieval module."""
    return kit.learner_module("retrieval")


@pytest.fixture(scope="session")
def gpt():
    """The learner's GPT (model.py): this folder, else their gpt2 lab, else labpath's."""
    module = kit.learner_module("model", lab="gpt2")
    for name in ("GPTConfig", "GPT"):
        if not hasattr(module, name):
            kit.fail(f"your model.py defines no {name}",
                     hint="the dense retriever embeds with your GPT from the gpt2 lab")
    return module


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check models are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
