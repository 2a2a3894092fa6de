"""Shared fixtures for the lstm checks: the learner's lstm.py."""

import pytest

from labpath.checks import kit


@pytest.fixture(scope="session")
def lstm():
    """The learner's lstm.py module (LSTMCell, LSTM, CharLSTM)."""
    module = kit.learner_module("lstm")
    for name in ("LSTMCell", "LSTM"):
        if not hasattr(module, name):
            kit.fail(f"your lstm.py defines no class named {name}")
    return module
