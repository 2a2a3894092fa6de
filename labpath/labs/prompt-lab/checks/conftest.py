"""Shared fixtures for the prompt-lab checks: the learner's prompt_lab module and its parts."""

import pytest
from prompt_ref import scanning

from labpath.checks import kit


@pytest.fixture(scope="session")
def lab():
    """The learner's prompt_lab.py."""
    return kit.learner_module("prompt_lab")


def _part(lab, name, what):
    if not hasattr(lab, name):
        kit.fail(f"your prompt_lab.py defines no {what} {name}")
    return getattr(lab, name)


@pytest.fixture(scope="session")
def complete_json(lab):
    fn = _part(lab, "complete_json", "function")
    try:  # a starter's NotImplementedError, once, before hypothesis generates anything
        with scanning("complete_json('[1')"):
            fn("[1")
    except NotImplementedError:
        raise
    except kit.CheckOverrun:
        pass  # every check that calls it says so at once
    except Exception:
        pass
    return fn


@pytest.fixture(scope="session")
def render(lab):
    return _part(lab, "render", "function")


@pytest.fixture(scope="session")
def extract_json(lab):
    fn = _part(lab, "extract_json", "function")

    def limited(text):
        with scanning(f"extract_json({text[:60]!r})", key="extract_json"):
            return fn(text)

    return limited


@pytest.fixture(scope="session")
def validate(lab):
    return _part(lab, "validate", "function")


@pytest.fixture(scope="session")
def PromptTask(lab):
    return _part(lab, "PromptTask", "class")
