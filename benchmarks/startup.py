"""Start-up and check-run overhead, side by side: labpath against its bare baselines.

    python benchmarks/startup.py [--runs N]

Goals: `labpath --help`, `status`, `next` (nothing to scaffold) and `log` within 1.5x of
importing typer and rich;
`labpath check micrograd` on the solution at most 0.8x plain pytest on the same checks,
and on a copy with one of the lab's planted bugs (most checks fail) at most 1.2x the
passing run.
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
FAILING_BUG = "mul-swapped-derivative"  # micrograd's bug that fails the most checks


def failing_copy(lab: Path, dest: Path) -> Path:
    """The lab's solution with one planted bug applied (bugs.yaml), in dest."""
    sys.path.insert(0, str(ROOT))
    from labpath import bugedit, labs, labspec

    shutil.copytree(lab / "solution", dest)
    bugs = labspec.read_bugs(labs.load(lab.name))
    bug = next((b for b in bugs if b.id == FAILING_BUG), bugs[0])
    file = dest / bug.file
    text = file.read_text(encoding="utf-8")
    for old, new in bug.replace:
        text, found = bugedit.apply(text, old, new)
        assert found == 1, f"bug {bug.id}: {old!r} found {found} times"
    file.write_text(text, encoding="utf-8")
    return dest


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
        subprocess.run([*entry, "next"], env=env, capture_output=True, check=True)
        commands = {
            "labpath --help": ["--help"],
            "labpath status": ["status"],
            "labpath next": ["next"],
            "labpath log": ["log", "a benchmark entry", "--type", "note"],
        }
        rows = [
            (
                name,
                timed([*entry, *argv], env, args.runs),
                "import typer, rich",
                baseline,
                1.5,
            )
            for name, argv in commands.items()
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
            ("labpath check micrograd", check, "pytest on its checks", plain, 0.8)
        )
        failing = failing_copy(lab, Path(tmp) / "failing")
        failed = timed(
            [*entry, "check", "micrograd", "--path", str(failing)], env, check_runs
        )
        rows.append(
            ("  ...with a planted bug", failed, "the passing check", check, 1.2)
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
