"""dev check through warm workers: the verdicts of cold runs, a crash or hang isolated."""

import shutil
import subprocess
import threading

import pytest

from labpath import authoring, devcheck, labs
from labpath.checks import procs
from labpath.checks.runner import run_checks

from .conftest import DATA

CRASH_AND_HANG = """
  - id: segfaults
    summary: the mean reads address 0, so the check process dies of SIGSEGV
    file: moments.py
    replace:
      - old: "return sum(xs) / len(xs)"
        new: "return __import__('ctypes').string_at(0)"
    fails: test_mean_matches_statistics

  - id: hangs
    summary: the mean sleeps forever, so the run meets the lab's time limit
    file: moments.py
    replace:
      - old: "return sum(xs) / len(xs)"
        new: "return __import__('time').sleep(10**6)"
    fails: test_mean_matches_statistics
"""


@pytest.fixture
def demo(tmp_path):
    """The tiny plain-Python lab with a crashing and a hanging bug first in its catalogue."""
    lab_dir = tmp_path / "tiny"
    shutil.copytree(DATA / "labs" / "tiny", lab_dir)
    bugs = lab_dir / "bugs.yaml"
    bugs.write_text(bugs.read_text().replace("bugs:\n", "bugs:" + CRASH_AND_HANG, 1))
    lab_yaml = lab_dir / "lab.yaml"
    lab_yaml.write_text(lab_yaml.read_text().replace("time_limit: 60", "time_limit: 5"))
    return authoring.lab_at(str(lab_dir))


def starts(monkeypatch) -> list[str]:
    """Record the command of every process the runner starts (they still run)."""
    seen = []
    real = subprocess.Popen

    def popen(cmd, *args, **kwargs):
        seen.append(" ".join(map(str, cmd)))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(procs.subprocess, "Popen", popen)
    return seen


def verdict(found):
    return [(f.item, f.ok, f.detail) for f in found.findings]


@pytest.mark.slow
def test_a_crash_and_a_hang_are_reported_and_the_next_runs_are_fine(demo, monkeypatch):
    seen = starts(monkeypatch)
    found = devcheck.check_lab(demo, jobs=1)
    assert len(seen) == 1 and "labpath.checks.worker" in seen[0], seen
    items = {f.item: f for f in found.findings}
    crash, hang = items["bug:segfaults"], items["bug:hangs"]
    assert not crash.ok and "crashed" in crash.detail, crash.detail
    assert not hang.ok and "timeout" in hang.detail, hang.detail
    rest = [f for f in found.findings if f.item not in ("bug:segfaults", "bug:hangs")]
    assert all(f.ok for f in rest), [(f.item, f.detail) for f in rest if not f.ok]
    assert items["solution"].detail == "passed: 2/2 passed"


@pytest.mark.slow
def test_warm_verdicts_are_the_cold_ones(demo, monkeypatch):
    warm = devcheck.check_lab(demo, jobs=2)
    seen = starts(monkeypatch)
    cold = devcheck.check_lab(demo, jobs=2, warm=False)
    assert not any("labpath.checks.worker" in s for s in seen), seen
    assert sum("-m pytest" in s for s in seen) == 2 + len(devcheck.load_bugs(demo))
    assert verdict(warm) == verdict(cold)


@pytest.mark.slow
def test_a_worker_that_cannot_start_falls_back_to_cold_runs(demo, monkeypatch):
    def broken_launch(self):
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        self.proc = subprocess.Popen(["false"], text=True, **pipes)
        self._ready = False

    monkeypatch.setattr(procs.Worker, "launch", broken_launch)
    seen = starts(monkeypatch)
    found = devcheck.check_lab(demo, jobs=1)
    assert sum("-m pytest" in s for s in seen) == 2 + len(devcheck.load_bugs(demo))
    items = {f.item: f for f in found.findings}
    assert items["solution"].ok and items["bug:sample-variance"].ok
    assert "crashed" in items["bug:segfaults"].detail


INTERPRETER_CHECK = """\
import os
import sys


def test_the_interpreter_is_started_as_a_cold_run_starts_it():
    assert sys.flags.hash_randomization == 0
    assert os.getcwd() in sys.path
"""


def test_a_forked_run_sees_the_interpreter_a_cold_run_sees(tmp_path):
    (tmp_path / "solution").mkdir()
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_interpreter.py").write_text(INTERPRETER_CHECK)
    lab = labs.Lab("plain", "plain", tmp_path, (), 60, (), (), 1)
    cold = run_checks(lab, lab.solution_dir)
    assert cold.status == "passed", cold.output
    with procs.WorkerPool(1) as pool, pool.borrow() as worker:
        warm = run_checks(lab, lab.solution_dir, worker=worker)
    assert warm.status == "passed", warm.output


def test_a_borrowed_worker_is_never_lent_twice_at_once():
    pool = procs.WorkerPool(2)
    held, lent = [], threading.Barrier(2)

    def borrow():
        with pool.borrow() as worker:
            held.append(worker)
            lent.wait(timeout=5)

    threads = [threading.Thread(target=borrow) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(held) == 2 and held[0] is not held[1]
    assert {id(w) for w in held} == {id(w) for w in pool.workers}
