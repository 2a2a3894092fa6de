"""Start-up stays light: the CLI, and the commands that run no checks, load no heavy module."""

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

# Never loaded by `import labpath.cli`: each costs start-up time on every command.
HEAVY = ("torch", "pytest", "git", "matplotlib", "numpy", "fsrs", "yaml")


@pytest.mark.parametrize("bare", [False, True], ids=["environment", "bare"])
def test_importing_the_cli_loads_no_heavy_module(bare):
    code = f"import sys, labpath.cli; print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    env = {"PYTHONPATH": str(ROOT), "PATH": ""} if bare else None
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--help"], ["status"], ["log", "x"], ["done", "x"]])
def test_commands_without_checks_never_import_heavy_modules(args, started):
    code = (
        "import sys\nfrom labpath.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'pytest', 'matplotlib', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "LABPATH_HOME": str(started)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
