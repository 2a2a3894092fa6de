"""Watch-mode re-check latency against a cold `labpath check`, side by side.

    python benchmarks/watch.py [--lab micrograd] [--runs N]

Cold: `labpath check LAB --path SOLUTION`, a fresh process that imports torch.
Warm: the re-check `labpath watch` makes after a save (a fork of the warm worker's
collector, the checks already collected).
Goal: warm at most a tenth of cold, in wall time and in CPU time (CPU time barely
moves when other work shares the machine; wall time does). Beside it, the floor: the
time the checks themselves took in the warm run (the durations pytest reports for
them, the learner's code included), which no runner can take away.
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

GOAL = 0.1


def cpu_now(who=resource.RUSAGE_CHILDREN) -> float:
    r = resource.getrusage(who)
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
        # the cold side is a fresh interpreter per check: no warm check server
        env = {
            **os.environ,
            "LABPATH_HOME": str(Path(tmp) / "ws"),
            "NO_COLOR": "1",
            "LABPATH_CHECK_SERVER": "0",
        }
        solution = str(lab.solution_dir)
        cmd = [sys.executable, "-m", "labpath", "check", lab.id, "--path", solution]
        subprocess.run(cmd, env=env, capture_output=True)  # warm the file cache
        cold, cold_cpu = [], []
        for _ in range(args.runs):
            start, cpu = time.perf_counter(), cpu_now()
            subprocess.run(cmd, env=env, capture_output=True)
            cold.append(time.perf_counter() - start)
            cold_cpu.append(cpu_now() - cpu)
    worker = Worker()
    start = time.perf_counter()
    worker.start()
    startup = time.perf_counter() - start
    warm, warm_cpu, own = [], [], []
    try:
        run_checks(lab, lab.solution_dir, uses=uses, worker=worker)
        for _ in range(args.runs):
            start, cpu = time.perf_counter(), cpu_now(resource.RUSAGE_SELF)
            report = run_checks(lab, lab.solution_dir, uses=uses, worker=worker)
            warm.append(time.perf_counter() - start)
            own.append(sum(r.duration for r in report.results))
            # labpath's own share, and the forked run's (reaped by the worker; a
            # labpath from before the worker reported it leaves it unknown)
            child = getattr(worker, "last_cpu", None)
            child = float("nan") if child is None else child
            warm_cpu.append(cpu_now(resource.RUSAGE_SELF) - cpu + child)
            assert report.ok, report.message
    finally:
        worker.stop()
    c, w = statistics.median(cold), statistics.median(warm)
    cc, wc = statistics.median(cold_cpu), statistics.median(warm_cpu)
    floor = statistics.median(own)
    print(
        f"{'lab':<12}{'cold wall s':>12}{'cpu s':>8}{'warm wall s':>13}{'cpu s':>8}"
        f"{'wall x':>8}{'cpu x':>7}{'goal':>7}   {'floor: the checks s':>20}{'x':>6}"
    )
    flag = "ok" if w / c <= GOAL and wc / cc <= GOAL else "OVER"
    print(
        f"{lab.id:<12}{c:>12.3f}{cc:>8.3f}{w:>13.3f}{wc:>8.3f}"
        f"{w / c:>8.2f}{wc / cc:>7.2f}{GOAL:>6.2f}x {flag:<4}{floor:>18.3f}"
        f"{floor / c:>6.2f}"
    )
    if floor / c > GOAL:
        print(
            f"(the checks themselves take {floor / c:.2f}x a cold check: the goal is "
            f"below this lab's floor; the runner's own share is {w - floor:.3f}s)"
        )
    print(
        f"(median of {args.runs}; the warm worker itself starts once in {startup:.2f}s)"
    )


if __name__ == "__main__":
    main()
