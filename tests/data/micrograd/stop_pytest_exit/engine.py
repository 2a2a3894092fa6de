"""The reference engine, but tanh() ends pytest with status 0: never a pass."""

import pytest
import importlib.util
from pathlib import Path

import labpath

_file = Path(labpath.__file__).parent / "labs" / "micrograd" / "solution" / "engine.py"
_spec = importlib.util.spec_from_file_location("micrograd_solution", _file)
_solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_solution)
Value = _solution.Value


def _tanh(self):
    pytest.exit("all good", 0)


Value.tanh = _tanh
