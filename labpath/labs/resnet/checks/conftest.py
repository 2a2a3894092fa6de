"""Shared fixtures for the resnet checks: the learner's resnet module and its parts."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def resnet():
    """The learner's resnet.py."""
    return kit.learner_module("resnet")


@pytest.fixture(scope="session")
def BasicBlock(resnet):
    if not hasattr(resnet, "BasicBlock"):
        kit.fail("your resnet.py defines no class named BasicBlock")
    return resnet.BasicBlock


@pytest.fixture(scope="session")
def build_resnet18(resnet):
    """A function num_classes -> the learner's ResNet-18 (resnet18() or ResNet(BasicBlock, ...))."""
    if hasattr(resnet, "resnet18"):
        return lambda num_classes: resnet.resnet18(num_classes=num_classes)
    if hasattr(resnet, "ResNet") and hasattr(resnet, "BasicBlock"):
        return lambda num_classes: resnet.ResNet(
            resnet.BasicBlock, [2, 2, 2, 2], num_classes=num_classes
        )
    kit.fail(
        "your resnet.py defines neither resnet18() nor ResNet(block, layers, num_classes)"
    )


@pytest.fixture(scope="session")
def _resnet18_10_once(build_resnet18):
    import torch

    torch.manual_seed(kit.seed())
    return build_resnet18(10)


@pytest.fixture
def resnet18_10(_resnet18_10_once):
    """A fresh copy of the learner's resnet18(num_classes=10) (built once: 11M parameters)."""
    import copy

    return copy.deepcopy(_resnet18_10_once)


@pytest.fixture(scope="session")
def builders(resnet):
    """The learner's deep_plain_net and deep_residual_net."""
    for name in ("deep_plain_net", "deep_residual_net"):
        if not hasattr(resnet, name):
            kit.fail(f"your resnet.py defines no function {name}(depth, width)")
    return resnet.deep_plain_net, resnet.deep_residual_net
