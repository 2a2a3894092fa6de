"""A non-editable install into a fresh virtual environment runs the loop."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.torch  # the installed labpath runs micrograd's checks


@pytest.mark.slow
def test_wheel_install_runs_next_and_check(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("labpath-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Dependencies come from this environment (no network in tests); labpath from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "LABPATH_HOME": str(tmp_path / "ws")}
    env.pop("PYTHONPATH", None)
    work = tmp_path / "elsewhere"
    work.mkdir()
    labpath = venv / "bin" / "labpath"
    run = lambda *a: subprocess.run(
        [labpath, *a], cwd=work, env=env, capture_output=True, text=True
    )

    where = subprocess.run(
        [py, "-c", "import labpath; print(labpath.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(site)), where

    nxt = run("next")
    assert nxt.returncode == 0, nxt.stderr
    assert "A scalar autograd engine" in nxt.stdout
    engine = tmp_path / "ws" / "labs" / "micrograd" / "engine.py"
    assert "raise NotImplementedError" in engine.read_text()

    solution = site / "labpath" / "labs" / "micrograd" / "solution" / "engine.py"
    shutil.copy(solution, engine)
    check = run("check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASSED" in check.stdout

    # The installed checks are the ones the wheel's RECORD lists: an edited one is
    # refused (the learner's pass cannot come from changed checks).
    installed = site / "labpath" / "labs" / "micrograd" / "checks" / "test_engine.py"
    installed.write_text(installed.read_text() + "\n# edited\n")
    refused = run("check", "micrograd")
    assert refused.returncode != 0, refused.stdout
    assert "differs from the one installed" in " ".join(
        (refused.stdout + refused.stderr).split()
    )
