"""The reference engine, but tanh() sends SIGINT to its own process: never a pass."""

import os
import signal
import importlib.util
from pathlib import Path

import labpath

_file = Path(labpath.__file__).parent / "labs" / "micrograd" / "solution" / "engine.py"
_spec = importlib.util.spec_from_file_location("micrograd_solution", _file)
_solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_solution)
Value = _solution.Value
_real_tanh = Value.tanh


def _tanh(self):
    os.kill(os.getpid(), signal.SIGINT)
    return _real_tanh(self)


Value.tanh = _tanh
