"""Shared fixtures for the lora checks: the learner's lora.py and their GPT from the gpt2 lab."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def lora():
    """The learner's lora.py; it must define LoRALinear, apply_lora and count_parameters."""
    module = kit.learner_module("lora")
    missing = [
        n
        for n in ("LoRALinear", "apply_lora", "count_parameters")
        if not hasattr(module, n)
    ]
    if missing:
        kit.fail(f"your lora.py defines no {', '.join(missing)}",
                 hint="lora.py needs a LoRALinear(base, r, alpha, dropout) module, "
                 "apply_lora(model, target_names, r, alpha) and count_parameters(model)")
    return module


@pytest.fixture(scope="session")
def gpt():
    """The GPT to adapt: model.py here, else the learner's gpt2 lab (labs/gpt2/model.py)."""
    module = kit.learner_module("model", lab="gpt2")
    for name in ("GPTConfig", "GPT"):
        if not hasattr(module, name):
            kit.fail(f"the gpt2 lab's model.py defines no {name}",
                     hint="finish `labpath check gpt2` first: this lab adapts that GPT")
    return module


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check models are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
