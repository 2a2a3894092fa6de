"""Start-up and check-run overhead, side by side: labpath against its bare baselines.

    python benchmarks/startup.py [--runs N]

Goals: `labpath --help`, `status`, `next` (nothing to scaffold) and `log` within 1.5x of
importing typer and rich;
`labpath check micrograd` on the solution at most 0.8x plain pytest on the same checks,
and on a copy with one of the lab's planted bugs (most checks fail) at most 1.2x the
passing run. Both check rows are timed twice: through the warm check server `labpath
next` started (its CPU is the server's, not counted here, so only wall time is
compared) and cold (LABPATH_CHECK_SERVER=0: a fresh interpreter per check). One more
row times `next` followed at once by a check, the server still starting, against the
cold check: what a check costs that waits for the server instead of running cold.
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


def timed(
    cmd: list[str], env: dict, runs: int, warm_up: bool = True
) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of cmd, after a warm-up.

    CPU time barely moves when other work shares the machine; wall time does.
    """
    if warm_up:
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
    return alternating([(cmd, env), (base, env)], runs)


def alternating(commands: list[tuple[list[str], dict]], runs: int) -> list:
    """timed() of each (command, environment), their runs taking turns: a machine whose
    speed drifts while the loop runs slows every command alike."""
    for cmd, env in commands:  # one warm-up each, untimed
        subprocess.run(_numbered(cmd), env=env, capture_output=True)
    got = [
        [timed(cmd, env, 1, warm_up=False) for cmd, env in commands]
        for _ in range(runs)
    ]
    return [
        (
            statistics.median(run[k][0] for run in got),
            statistics.median(run[k][1] for run in got),
        )
        for k in range(len(commands))
    ]


def wait_for_server(env: dict, within: float = 120.0) -> None:
    """Until the check server `next` or a check started answers (torch imported)."""
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
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        # The check server is this run's own, and it is up before anything is timed:
        # `labpath next` starts one in the background when none answers, and a server
        # importing torch meanwhile would slow whatever ran beside it.
        env = {
            **os.environ,
            "LABPATH_HOME": str(Path(tmp) / "ws"),
            "NO_COLOR": "1",
            "XDG_RUNTIME_DIR": str(runtime),
            "LABPATH_CHECK_SERVER": "1",
        }
        subprocess.run([*entry, "init"], env=env, capture_output=True, check=True)
        lab = ROOT / "labpath" / "labs" / "micrograd"
        subprocess.run([*entry, "next"], env=env, capture_output=True, check=True)
        wait_for_server(env)
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
        check_runs = max(3, args.runs // 2)
        warm_env = env
        cold_env = {**env, "LABPATH_CHECK_SERVER": "0"}
        solution_cmd = [*entry, "check", "micrograd", "--path", str(lab / "solution")]
        plain_env = {**cold_env, "LABPATH_TARGET": str(lab / "solution")}
        pytest_cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(lab / "checks"),
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        failing = failing_copy(lab, Path(tmp) / "failing")
        failing_cmd = [*entry, "check", "micrograd", "--path", str(failing)]
        hot, hot_failed, check, failed, plain = alternating(
            [
                (solution_cmd, warm_env),
                (failing_cmd, warm_env),
                (solution_cmd, cold_env),
                (failing_cmd, cold_env),
                (pytest_cmd, plain_env),
            ],
            check_runs,
        )
        stop_server(warm_env)
        # The first check of a sprint: `labpath next`, then a check at once, while the
        # server next started is still importing torch (each run with no server yet).
        at_once = []
        for i in range(check_runs):
            fresh = Path(tmp) / f"run{i}"
            fresh.mkdir(mode=0o700)
            first_env = {**env, "XDG_RUNTIME_DIR": str(fresh)}
            start = time.perf_counter()
            subprocess.run([*entry, "next"], env=first_env, capture_output=True)
            subprocess.run(solution_cmd, env=first_env, capture_output=True)
            at_once.append(time.perf_counter() - start)
            wait_for_server(first_env)
            stop_server(first_env)
        first = (statistics.median(at_once), float("nan"))
        rows += [
            ("labpath check micrograd", hot, "pytest on its checks", plain, 0.8),
            ("  ...with a planted bug", hot_failed, "the passing check", hot, 1.2),
            ("  next, then check", first, "the cold check", check, None),
            ("  cold (no server)", check, "pytest on its checks", plain, 0.8),
            ("  cold, planted bug", failed, "the cold passing check", check, 1.2),
        ]
        warm_rows = {
            "labpath check micrograd",
            "  ...with a planted bug",
            "  next, then check",
        }
    print(
        f"{'command':<25}{'wall s':>8}{'cpu s':>8}   {'baseline':<21}{'wall s':>8}{'cpu s':>8}"
        f"{'wall x':>8}{'cpu x':>7}{'goal':>7}"
    )
    for name, (t, tc), base_name, (b, bc), goal in rows:
        if name in warm_rows:  # the check ran in the server: its CPU is not ours to see
            if goal is None:  # a figure to read, not a goal
                verdict = f"{'-':>7}    (server starting)"
            else:
                ok = "ok" if t / b <= goal else "OVER"
                verdict = f"{goal:>6.2f}x {ok} (warm server)"
            base_cpu = f"{bc:>8.3f}" if base_name.startswith("pytest") else f"{'-':>8}"
            print(
                f"{name:<25}{t:>8.3f}{'-':>8}   {base_name:<21}{b:>8.3f}{base_cpu}"
                f"{t / b:>8.2f}{'-':>7}{verdict}"
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
