"""A Value whose backward starts a process, writes the pids and then never returns."""

import os
import subprocess
import sys
import importlib.util
from pathlib import Path

import labpath

_file = Path(labpath.__file__).parent / "labs" / "micrograd" / "solution" / "engine.py"
_spec = importlib.util.spec_from_file_location("micrograd_solution", _file)
_solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_solution)
Value = _solution.Value


def _backward(self):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pidfile = os.environ["LABPATH_TEST_PIDFILE"]
    with open(pidfile + ".tmp", "w") as fh:
        fh.write(f"{os.getpid()} {child.pid}")
    os.replace(pidfile + ".tmp", pidfile)
    while True:
        pass


Value.backward = _backward
