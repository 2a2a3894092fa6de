"""Watch-mode re-check latency against a cold `labpath check`, side by side.

    python benchmarks/watch.py [--lab micrograd] [--runs N]

Cold: `labpath check LAB --path SOLUTION`, a fresh process that imports torch.
Warm: the re-check `labpath watch` makes after a save (a fork of the warm worker).
Goal: warm at most a quarter of cold.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labpath import labs  # noqa: E402
from labpath.checks.runner import Worker, run_checks  # noqa: E402


def cpu_now() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab", default="micrograd")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    lab = labs.load(args.lab)
    # As dev check does: the labs this one builds on are their reference solutions.
    uses = {name: labs.load(name).solution_dir for name in lab.uses}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LABPATH_HOME": str(Path(tmp) / "ws"), "NO_COLOR": "1"}
        solution = str(lab.solution_dir)
        cmd = [sys.executable, "-m", "labpath", "check", lab.id, "--path", solution]
        subprocess.run(cmd, env=env, capture_output=True)  # warm the file cache
        cold = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True)
            cold.append(time.perf_counter() - start)
    worker = Worker()
    start = time.perf_counter()
    worker.start()
    startup = time.perf_counter() - start
    warm = []
    try:
        run_checks(lab, lab.solution_dir, uses=uses, worker=worker)
        for _ in range(args.runs):
            start = time.perf_counter()
            report = run_checks(lab, lab.solution_dir, uses=uses, worker=worker)
            warm.append(time.perf_counter() - start)
            assert report.ok, report.message
    finally:
        worker.stop()
    c, w = statistics.median(cold), statistics.median(warm)
    print(
        f"{'lab':<12}{'cold check s':>14}{'warm re-check s':>17}{'ratio':>8}{'goal':>7}"
    )
    flag = "ok" if w / c <= 0.25 else "OVER"
    print(f"{lab.id:<12}{c:>14.3f}{w:>17.3f}{w / c:>8.2f}{0.25:>7.2f} {flag}")
    print(
        f"(median of {args.runs}; the warm worker itself starts once in {startup:.2f}s)"
    )


if __name__ == "__main__":
    main()
