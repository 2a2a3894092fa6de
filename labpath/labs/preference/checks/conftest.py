"""Shared fixtures for the preference checks: your gpt2 GPT and your preference.py."""

import pytest

from labpath.checks import kit

NAMES = (
    "sequence_logprobs",
    "reward_loss",
    "dpo_loss",
    "build_pair",
    "RewardModel",
    "dpo_step",
)


@pytest.fixture(scope="session")
def gpt():
    """The GPT the checks train: model.py here, else your gpt2 lab's (nanoGPT's interface)."""
    module = kit.learner_module("model", lab="gpt2")
    for name in ("GPTConfig", "GPT"):
        if not hasattr(module, name):
            kit.fail(f"your gpt2 model.py defines no {name}",
                     hint="the preference checks build their tiny GPTs from your gpt2 lab's model.py")
    return module


@pytest.fixture(scope="session")
def pref(gpt):
    """Your preference.py (loaded after model.py, so `from model import GPT` finds it)."""
    module = kit.learner_module("preference")
    missing = [name for name in NAMES if not hasattr(module, name)]
    if missing:
        kit.fail(f"your preference.py defines no {', '.join(missing)}",
                 hint="the lab's interface: " + ", ".join(NAMES))
    return module


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check models are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
