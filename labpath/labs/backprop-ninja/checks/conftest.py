"""Shared fixtures for the backprop-ninja checks: the learner's module and the reference pass."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def ninja():
    """The learner's ninja.py."""
    return kit.learner_module("ninja")


@pytest.fixture(scope="session")
def reference():
    """(cache, grads): the chunked forward pass and autograd's gradients, float64."""
    from ninja_ref import forward_and_backward

    return forward_and_backward(kit.seed())
