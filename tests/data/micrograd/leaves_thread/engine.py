"""The reference engine, correct, that leaves a non-daemon thread running."""

import threading
import time
import importlib.util
from pathlib import Path

import labpath

_file = Path(labpath.__file__).parent / "labs" / "micrograd" / "solution" / "engine.py"
_spec = importlib.util.spec_from_file_location("micrograd_solution", _file)
_solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_solution)
Value = _solution.Value

_real_backward = Value.backward
_threads = []


def _backward(self):
    if not _threads:  # e.g. a progress reporter never stopped
        thread = threading.Thread(target=time.sleep, args=(600,))
        thread.start()
        _threads.append(thread)
    _real_backward(self)


Value.backward = _backward
