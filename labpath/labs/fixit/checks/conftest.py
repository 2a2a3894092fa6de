"""Shared fixtures for the fixit checks: the learner's block.py, float64, one thread."""

import pytest
import torch

from labpath.checks import kit

NAMES = ("LayerNorm", "CausalSelfAttention", "MLP", "Block")


@pytest.fixture(scope="session")
def blk():
    """The learner's block module with nanoGPT's four classes."""
    module = kit.learner_module("block")
    missing = [n for n in NAMES if not hasattr(module, n)]
    if missing:
        kit.fail(f"your block.py defines no {', '.join(missing)}",
                 hint="keep LayerNorm(ndim, bias), CausalSelfAttention(config), "
                 "MLP(config) and Block(config)")
    return module


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The probes are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()


@pytest.fixture(autouse=True)
def float64():
    """Tensors the block makes on the fly (a mask, a scale) are float64 like the probes."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(kit.seed())
    try:
        yield
    finally:
        torch.set_default_dtype(before)
