"""The serve lab's run (the reference server on a tiny GPT, measured) and its server cleanup."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labpath import devcheck, labs
from labpath.checks.runner import run_checks

pytestmark = pytest.mark.torch

LAB = labs.load("serve")
RUN = LAB.directory / "run.py"


def run(*args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("LABPATH_TARGET", None)
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_serve_run_prints_throughput_for_one_and_four_clients(tmp_path):
    data = tmp_path / "text.txt"
    data.write_text("def add(a, b):\n    return a + b\n" * 60)
    out = tmp_path / "out"
    small = "--steps 5 --requests 4 --max-tokens 6 --device cpu".split()
    proc = run(
        "--path", str(LAB.solution_dir), "--data", str(data), "--out", str(out), *small
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for clients in (1, 4):
        (line,) = [x for x in lines if x.startswith(f"{clients} client(s): 4 requests")]
        assert "requests/s" in line and "tokens/s" in line
    assert any(x.startswith("time to first token (streamed): median") for x in lines)
    assert any("tokens/s with the KV cache" in x for x in lines)
    figures = json.loads((out / "serve-figures.json").read_text())
    assert [lv["clients"] for lv in figures["load"]] == [1, 4]
    assert all(
        lv["requests_per_second"] > 0 and lv["tokens_per_second"] > 0
        for lv in figures["load"]
    )
    assert figures["time_to_first_token_ms"]["median"] > 0
    assert figures["generate_tokens_per_second"]["with_cache"] > 0


def test_serve_run_without_serve_py_says_so(tmp_path):
    proc = run("--path", str(tmp_path), timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"Error: no serve.py in {tmp_path}")
    assert "Hint:" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="lists processes through /proc")
def test_a_failing_server_check_leaves_no_server_running(tmp_path):
    bug = next(b for b in devcheck.load_bugs(LAB) if b.id == "done-as-json")
    code = tmp_path / "code"
    devcheck.apply_bug(LAB, bug, code)
    uses = {name: labs.load(name).solution_dir for name in LAB.uses}
    report = run_checks(LAB, code, select=[bug.fails], uses=uses)
    assert [(r.name, r.outcome) for r in report.results] == [(bug.fails, "failed")]
    left = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if proc.name.isdigit() and str(code) in cmdline:
            left.append(cmdline.replace("\0", " "))
    assert not left
