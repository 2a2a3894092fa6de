"""Start-up and check-run overhead, side by side: labpath against its bare baselines.

    python benchmarks/startup.py [--runs N]

Goals: `labpath --help`, `status`, `next` (nothing to scaffold) and `log` within 1.5x of
importing typer and rich;
`labpath check micrograd` on the solution at most 0.8x plain pytest on the same checks,
and on a copy with one of the lab's planted bugs (most checks fail) at most 1.2x the
passing run. Both check rows are timed twice: as a learner's second check runs (through
the warm check server the first one started; its CPU is the server's, not counted
here, so only wall time is compared) and cold (LABPATH_CHECK_SERVER=0: a fresh
interpreter per check).
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


_RUN = iter(range(10**9))


def _numbered(cmd: list[str]) -> list[str]:
    """cmd with each {n} replaced by a number of its own: a learner's entries differ.

    (An entry whose text repeats an earlier one's is checked against the uncommitted
    entries of that title, a rarer path than the one the goal is about.)
    """
    n = next(_RUN)
    return [a.replace("{n}", str(n)) for a in cmd]


def timed(cmd: list[str], env: dict, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of cmd, after a warm-up.

    CPU time barely moves when other work shares the machine; wall time does.
    """
    subprocess.run(_numbered(cmd), env=env, capture_output=True)
    walls, cpus = [], []
    for _ in range(runs):
        argv = _numbered(cmd)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def interleaved(cmd: list[str], base: list[str], env: dict, runs: int):
    """timed() of cmd and of base, their runs alternating: (cmd's, base's)."""
    pairs = [(timed(cmd, env, 1), timed(base, env, 1)) for _ in range(runs)]
    return (
        (
            statistics.median(p[0][0] for p in pairs),
            statistics.median(p[0][1] for p in pairs),
        ),
        (
            statistics.median(p[1][0] for p in pairs),
            statistics.median(p[1][1] for p in pairs),
        ),
    )


def wait_for_server(env: dict, within: float = 120.0) -> None:
    """Until the check server the first check started answers (torch imported)."""
    ask = "from labpath.checks import warm; print(bool(warm.ping()))"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = subprocess.run(
            [sys.executable, "-c", ask], env=env, capture_output=True, text=True
        )
        if got.stdout.strip() == "True":
            return
        time.sleep(0.5)
    raise SystemExit("the check server did not start")


def stop_server(env: dict) -> None:
    ask = "from labpath.checks import warm; warm.stop()"
    subprocess.run([sys.executable, "-c", ask], env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    entry = [CONSOLE] if CONSOLE else LABPATH
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LABPATH_HOME": str(Path(tmp) / "ws"), "NO_COLOR": "1"}
        subprocess.run([*entry, "init"], env=env, capture_output=True, check=True)
        lab = ROOT / "labpath" / "labs" / "micrograd"
        subprocess.run([*entry, "next"], env=env, capture_output=True, check=True)
        commands = {
            "labpath --help": ["--help"],
            "labpath status": ["status"],
            "labpath next": ["next"],
            "labpath log": ["log", "benchmark entry {n}", "--type", "note"],
        }
        # Each command alternates with its own baseline runs: a machine whose speed
        # drifts over the minute the loop takes slows both sides alike.
        bare = [sys.executable, "-c", "import typer, rich"]
        rows = []
        for name, argv in commands.items():
            command, baseline = interleaved([*entry, *argv], bare, env, args.runs)
            rows.append((name, command, "import typer, rich", baseline, 1.5))
        check_runs = max(2, args.runs // 2)
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        warm_env = {**env, "XDG_RUNTIME_DIR": str(runtime), "LABPATH_CHECK_SERVER": "1"}
        cold_env = {**env, "LABPATH_CHECK_SERVER": "0"}
        solution_cmd = [*entry, "check", "micrograd", "--path", str(lab / "solution")]
        subprocess.run(solution_cmd, env=warm_env, capture_output=True)
        wait_for_server(warm_env)
        hot = timed(solution_cmd, warm_env, check_runs)
        check = timed(solution_cmd, cold_env, check_runs)
        plain_env = {**cold_env, "LABPATH_TARGET": str(lab / "solution")}
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
        failing = failing_copy(lab, Path(tmp) / "failing")
        failing_cmd = [*entry, "check", "micrograd", "--path", str(failing)]
        hot_failed = timed(failing_cmd, warm_env, check_runs)
        failed = timed(failing_cmd, cold_env, check_runs)
        stop_server(warm_env)
        rows += [
            ("labpath check micrograd", hot, "pytest on its checks", plain, 0.8),
            ("  ...with a planted bug", hot_failed, "the passing check", hot, 1.2),
            ("  cold (no server)", check, "pytest on its checks", plain, 0.8),
            ("  cold, planted bug", failed, "the cold passing check", check, 1.2),
        ]
        warm_rows = {"labpath check micrograd", "  ...with a planted bug"}
    print(
        f"{'command':<25}{'wall s':>8}{'cpu s':>8}   {'baseline':<21}{'wall s':>8}{'cpu s':>8}"
        f"{'wall x':>8}{'cpu x':>7}{'goal':>7}"
    )
    for name, (t, tc), base_name, (b, bc), goal in rows:
        if name in warm_rows:  # the check ran in the server: its CPU is not ours to see
            ok = "ok" if t / b <= goal else "OVER"
            base_cpu = f"{bc:>8.3f}" if base_name.startswith("pytest") else f"{'-':>8}"
            print(
                f"{name:<25}{t:>8.3f}{'-':>8}   {base_name:<21}{b:>8.3f}{base_cpu}"
                f"{t / b:>8.2f}{'-':>7}{goal:>6.2f}x {ok} (warm server)"
            )
            continue
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
