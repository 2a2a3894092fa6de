"""Shared fixtures for the transformer checks: the learner's module, and tripwires that
fail any check in which the learner's code calls torch's own attention."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def tf():
    """The learner's transformer.py as a module."""
    return kit.learner_module("transformer")


@pytest.fixture(autouse=True)
def no_builtin_attention(tf, monkeypatch):
    """F.scaled_dot_product_attention and nn.MultiheadAttention fail when the learner calls them."""
    from transformer_ref import tripwires

    with tripwires(monkeypatch):
        yield
