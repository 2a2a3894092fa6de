"""Shared fixtures for the log-anomaly checks: your log_anomaly.py and your LSTM."""

import pytest

from labpath.checks import kit

NAMES = ("mask_variables", "LogParser", "sessionize", "make_windows", "DeepLog",
         "first_anomaly", "is_anomalous", "session_scores", "precision_recall_f1", "auroc")


@pytest.fixture(scope="session")
def lstm():
    """Your lstm.py from the lstm lab (a copy here takes precedence)."""
    module = kit.learner_module("lstm", lab="lstm")
    for name in ("LSTMCell", "LSTM"):
        if not hasattr(module, name):
            kit.fail(f"the lstm lab's lstm.py defines no {name}",
                     hint="finish `labpath check lstm` first: DeepLog runs that LSTM")
    return module


@pytest.fixture(scope="session")
def la(lstm):
    """Your log_anomaly.py; loaded after lstm.py, so `from lstm import LSTM` finds it."""
    module = kit.learner_module("log_anomaly")
    missing = [n for n in NAMES if not hasattr(module, n)]
    if missing:
        kit.fail(f"your log_anomaly.py defines no {', '.join(missing)}",
                 hint="the interface is in the lab's brief, README.md")
    return module


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check models are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
