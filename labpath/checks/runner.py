"""Run a lab's pytest checks in a subprocess and turn the results into a CheckReport."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labpath.labs import Lab
from labpath.labs import load as load_lab

PASSED, FAILED, NOT_STARTED, SKIPPED, ERROR = (
    "passed", "failed", "not_started", "skipped", "error",
)  # fmt: skip
# Overall statuses.
PASS, FAIL, NOT_DONE, TIMEOUT, CRASH, HARNESS = (
    "passed", "failed", "not_started", "timeout", "crashed", "harness_error",
)  # fmt: skip


@dataclass(frozen=True)
class CheckResult:
    name: str
    outcome: str  # passed | failed | not_started | skipped | error
    doc: str = ""
    duration: float = 0.0
    what: str | None = None
    yours: str | None = None
    expected: str | None = None
    where: str | None = None
    seed: int | None = None
    hint: str | None = None
    diagnosis: str | None = None
    message: str | None = None
    learner_location: str | None = None
    table: list | None = None
    artifacts: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    lab: str
    target: str
    status: str
    results: tuple[CheckResult, ...] = ()
    duration: float = 0.0
    seed: int | None = None
    message: str | None = None  # for timeout / crash / harness errors
    output: str = ""  # pytest's own output, kept for --verbose and debugging
    artifacts: tuple[str, ...] = field(default_factory=tuple)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def passed(self) -> int:
        return self.count(PASSED)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> bool:
        return self.status == PASS


def child_env(**extra: str) -> dict[str, str]:
    """This environment, with the labpath being run importable first in a child process."""
    env = dict(os.environ, **extra)
    pkg_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (pkg_parent, env.get("PYTHONPATH")) if p
    )
    return env


def pytest_command(lab: Lab) -> list[str]:
    """The pytest command line a check run uses (shared with the benchmarks)."""
    return [
        sys.executable, "-m", "pytest", str(lab.checks_dir),
        "-p", "labpath.checks.plugin", "-p", "no:cacheprovider",
        "-c", str(Path(__file__).with_name("pytest.ini")),
        "--rootdir", str(lab.checks_dir), "-q", "--no-header", "-rN",
    ]  # fmt: skip


def run_checks(
    lab: Lab,
    target: Path,
    timeout: float | None = None,
    select: list[str] | None = None,
    seed: int | None = None,
    artifacts_dir: Path | None = None,
    data: Path | None = None,
    device: str | None = None,
    uses: dict[str, Path] | None = None,
    worker: Worker | None = None,
    progress=None,
) -> CheckReport:
    """Run the lab's checks against the learner's folder and read the results back."""
    timeout = timeout or lab.time_limit
    seed = lab.seed if seed is None else seed
    with tempfile.TemporaryDirectory(prefix="labpath-check-") as tmp:
        report_file = Path(tmp) / "report.jsonl"
        env = child_env()
        env.update(
            LABPATH_TARGET=str(target.resolve()),
            LABPATH_REPORT=str(report_file),
            LABPATH_SEED=str(seed),
            LABPATH_LAB=lab.id,
            LABPATH_ARTIFACTS=str(artifacts_dir or Path(tmp) / "artifacts"),
            PYTHONDONTWRITEBYTECODE="1",
            # Only labpath's plugin: plugins installed for other projects cost start-up
            # time (each is re-compiled when bytecode is not written) and could interfere.
            PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
            PYTHONHASHSEED="0",
            MPLBACKEND="Agg",
        )
        if select:
            env["LABPATH_SELECT"] = ",".join(select)
        if data is not None:
            env["LABPATH_DATA"] = str(Path(data).resolve())
        if device:
            env["LABPATH_DEVICE"] = device
        # Labs this one builds on: the learner's folder for each, else the reference.
        used = {name: lab_dir for name, lab_dir in (uses or {}).items()}
        for name in lab.uses:
            used.setdefault(name, load_lab(name).solution_dir)
        env["LABPATH_USES"] = json.dumps({k: str(v) for k, v in used.items()})
        env["LABPATH_FORBIDDEN"] = json.dumps(
            [{"name": f.name, "why": f.why} for f in lab.forbidden]
        )
        start = time.perf_counter()
        if worker is not None:
            job = lambda: worker.run(pytest_command(lab)[3:], env, tmp, timeout)  # noqa: E731
        else:
            job = lambda: _run_cold(pytest_command(lab), env, tmp, timeout)  # noqa: E731
        if progress is None:
            returncode, timed_out, output = job()
        else:
            returncode, timed_out, output = _with_progress(job, report_file, progress)
        elapsed = time.perf_counter() - start
        records = _read_records(report_file)
    return _build_report(
        lab, target, records, returncode, timed_out, timeout, elapsed, seed, output
    )


def _with_progress(job, report_file: Path, progress):
    """Run job in a thread and report (done, total) from the results file as it grows."""
    import threading

    box = {}
    thread = threading.Thread(target=lambda: box.update(result=job()), daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.05)
        records = _read_records(report_file)
        total = next(
            (len(r["names"]) for r in records if r.get("type") == "collected"), 0
        )
        done = sum(1 for r in records if r.get("type") == "result")
        progress(done, total)
    return box["result"]


def _run_cold(cmd, env, cwd, timeout) -> tuple[int | None, bool, str]:
    """One fresh interpreter per run: what `labpath check` does."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, _ = proc.communicate()
    return proc.returncode, timed_out, out.decode("utf-8", "replace")


class Worker:
    """A warm process (labpath.checks.worker) that forks one child per check run."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = child_env()
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labpath.checks.worker"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError("the warm check process failed to start")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, args, env, cwd, timeout) -> tuple[int | None, bool, str]:
        if not self.alive:
            self.start()
        output = str(Path(cwd) / "output.txt")
        request = {
            "args": args,
            "env": env,
            "cwd": str(cwd),
            "output": output,
            "timeout": timeout,
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:  # the worker itself died: say so as a crash, restart next time
            self.stop()
            return None, False, ""
        data = json.loads(reply)
        text = (
            Path(output).read_text(encoding="utf-8", errors="replace")
            if Path(output).exists()
            else ""
        )
        return data["returncode"], data["timed_out"], text

    def stop(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc)
            self.proc = None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
    return records


def _build_report(
    lab, target, records, returncode, timed_out, timeout, elapsed, seed, output
):
    results = []
    started = None
    finished = None
    harness = []
    for rec in records:
        kind = rec.get("type")
        if kind == "start":
            started = rec.get("name")
        elif kind == "result":
            fields = {k: v for k, v in rec.items() if k != "type"}
            fields["artifacts"] = tuple(fields.get("artifacts") or ())
            results.append(CheckResult(**fields))
            started = None
        elif kind == "harness_error":
            harness.append(rec.get("message", "unknown error"))
        elif kind == "finished":
            finished = rec
    common = dict(
        lab=lab.id,
        target=str(target),
        results=tuple(results),
        duration=elapsed,
        seed=seed,
        output=output,
    )
    during = f" while running {started}" if started else ""
    if timed_out:
        return CheckReport(
            status=TIMEOUT,
            message=f"the checks did not finish within {timeout:g}s{during}; "
            "an infinite loop or a very slow step in your code?",
            **common,
        )
    if finished is None:
        how = _describe_exit(returncode)
        return CheckReport(
            status=CRASH,
            message=f"the check process ended early{during} ({how}) - "
            "does your code call sys.exit(), os._exit() or crash the interpreter?",
            **common,
        )
    if harness:
        return CheckReport(
            status=HARNESS,
            message="labpath's own checks failed to run (not your code): " + harness[0],
            **common,
        )
    if not results:
        return CheckReport(
            status=HARNESS,
            message="no checks ran (labpath's check files found none)",
            **common,
        )
    if any(r.outcome in (FAILED, ERROR) for r in results):
        status = FAIL
    elif any(r.outcome == NOT_STARTED for r in results):
        status = NOT_DONE
    else:
        status = PASS
    return CheckReport(status=status, **common)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
