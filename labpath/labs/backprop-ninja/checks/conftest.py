"""Shared fixtures for the backprop-ninja checks: the learner's module and the reference pass."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def ninja():
    """The learner's ninja.py."""
    module = kit.learner_module("ninja")
    for name in ("manual_backward", "cross_entropy_backward", "batchnorm_backward"):
        if not hasattr(module, name):
            kit.fail(f"your ninja.py defines no function named {name}")
    return module


@pytest.fixture(scope="session")
def reference():
    """(cache, grads): the chunked forward pass and autograd's gradients, float64."""
    from ninja_ref import forward_and_backward

    return forward_and_backward(kit.seed())
