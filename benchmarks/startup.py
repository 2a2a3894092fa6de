"""Start-up and check-run overhead, side by side: labpath against its bare baselines.

    python benchmarks/startup.py [--runs N]

Goals: `labpath --help` and `labpath status` within 3x of importing typer and rich;
`labpath check micrograd` on the solution within 1.15x of plain pytest on the same checks.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABPATH = [sys.executable, "-m", "labpath"]
CONSOLE = shutil.which("labpath")


def timed(cmd: list[str], env: dict, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of cmd, after a warm-up.

    CPU time barely moves when other work shares the machine; wall time does.
    """
    subprocess.run(cmd, env=env, capture_output=True)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    entry = [CONSOLE] if CONSOLE else LABPATH
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LABPATH_HOME": str(Path(tmp) / "ws"), "NO_COLOR": "1"}
        subprocess.run([*entry, "init"], env=env, capture_output=True, check=True)
        lab = ROOT / "labpath" / "labs" / "micrograd"
        baseline = timed([sys.executable, "-c", "import typer, rich"], env, args.runs)
        rows = [
            (
                "labpath --help",
                timed([*entry, "--help"], env, args.runs),
                "import typer, rich",
                baseline,
                3.0,
            ),
            (
                "labpath status",
                timed([*entry, "status"], env, args.runs),
                "import typer, rich",
                baseline,
                3.0,
            ),
        ]
        check_runs = max(2, args.runs // 2)
        check = timed(
            [*entry, "check", "micrograd", "--path", str(lab / "solution")],
            env,
            check_runs,
        )
        plain_env = {**env, "LABPATH_TARGET": str(lab / "solution")}
        plain = timed(
            [
                sys.executable,
                "-m",
                "pytest",
                str(lab / "checks"),
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            plain_env,
            check_runs,
        )
        rows.append(
            ("labpath check micrograd", check, "pytest on its checks", plain, 1.15)
        )
    print(
        f"{'command':<25}{'wall s':>8}{'cpu s':>8}   {'baseline':<21}{'wall s':>8}{'cpu s':>8}"
        f"{'wall x':>8}{'cpu x':>7}{'goal':>7}"
    )
    for name, (t, tc), base_name, (b, bc), goal in rows:
        ok = "ok" if t / b <= goal and tc / bc <= goal else "OVER"
        print(
            f"{name:<25}{t:>8.3f}{tc:>8.3f}   {base_name:<21}{b:>8.3f}{bc:>8.3f}"
            f"{t / b:>8.2f}{tc / bc:>7.2f}{goal:>6.2f}x {ok}"
        )
    print(
        f"(median of {args.runs} runs, {check_runs} for checks; python {sys.version.split()[0]})"
    )


if __name__ == "__main__":
    main()
