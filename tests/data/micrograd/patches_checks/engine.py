"""An engine whose backward() does nothing, and that switches the checks off."""

import sys
import importlib.util
from pathlib import Path

import labpath

_file = Path(labpath.__file__).parent / "labs" / "micrograd" / "solution" / "engine.py"
_spec = importlib.util.spec_from_file_location("micrograd_solution", _file)
_solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_solution)
Value = _solution.Value

from labpath.checks import kit


def _nothing(*args, **kwargs):
    return None


Value.backward = _nothing
kit.close = _nothing
kit.fail = _nothing
torch = sys.modules["torch"]  # already loaded by the checks
torch.Tensor.any = lambda self, *a, **k: torch.tensor(False)
