"""Run a lab's pytest checks in a subprocess and turn the results into a CheckReport."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from labpath.errors import EnvironmentFailure
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

    @property
    def lead(self) -> CheckResult | None:
        """The failure to start with: the first that names a mistake, else the first."""
        failures = [r for r in self.results if r.outcome in (FAILED, ERROR)]
        named = [r for r in failures if r.diagnosis]
        return (named or failures or [None])[0]


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
    changed = changed_check_files(lab)
    _ensure_standard_fds()
    if changed:
        return CheckReport(
            lab=lab.id,
            target=str(target),
            status=HARNESS,
            seed=seed,
            message=f"labpath's installed check file {changed[0]} differs from the "
            "one installed with labpath (not your code); reinstall labpath: "
            "python -m pip install --force-reinstall labpath",
        )
    try:
        tmp_ctx = tempfile.TemporaryDirectory(prefix="labpath-check-")
        tmp = tmp_ctx.name
    except OSError as exc:
        raise _environment(exc) from None
    try:
        key = secrets.token_bytes(32)
        sweep_orphans()
        token = f"{os.getpid()}-{secrets.token_hex(12)}"
        report_file = Path(tmp) / "report.jsonl"
        env = child_env()
        env.update(
            LABPATH_TARGET=str(target.resolve()),
            LABPATH_REPORT=str(report_file),
            LABPATH_SEED=str(seed),
            LABPATH_LAB=lab.id,
            LABPATH_ARTIFACTS=str(artifacts_dir or Path(tmp) / "artifacts"),
            LABPATH_RUN=token,
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
            job = lambda: worker.run(pytest_command(lab)[3:], env, tmp, timeout, key)  # noqa: E731
        else:
            job = lambda: _run_cold(pytest_command(lab), env, tmp, timeout, key)  # noqa: E731
        with _signals_end_the_run():
            try:
                if progress is None:
                    returncode, timed_out, output = job()
                else:
                    returncode, timed_out, output = _with_progress(
                        job, report_file, key, progress
                    )
            except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: labpath is ending
                stop_everything()
                raise
            finally:
                stop_everything(token, groups=False)
        elapsed = time.perf_counter() - start
        records, forged = read_records(report_file, key)
    finally:
        with contextlib.suppress(OSError):
            tmp_ctx.cleanup()
    return _build_report(
        lab, target, records, returncode, timed_out, timeout, elapsed, seed, output,
        forged,
    )  # fmt: skip


def _environment(exc: OSError) -> EnvironmentFailure:
    where = os.environ.get("TMPDIR") or "/tmp"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return EnvironmentFailure(
            f"no space left in the temporary folder {where}: the checks cannot run "
            "(not your code)",
            hint="free some disk space, or point TMPDIR at a folder with room: "
            "TMPDIR=/path/with/space labpath check",
        )
    return EnvironmentFailure(
        f"cannot create a temporary folder in {where}: {exc.strerror or exc} "
        "(not your code)",
        hint="point TMPDIR at a writable folder: TMPDIR=/path labpath check",
    )


def _with_progress(job, report_file: Path, key: bytes, progress):
    """Run job in a thread and report (done, total) from the results file as it grows."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=job()), daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.05)
        records, _ = read_records(report_file, key)
        total = next(
            (len(r["names"]) for r in records if r.get("type") == "collected"), 0
        )
        done = sum(1 for r in records if r.get("type") == "result")
        progress(done, total)
    return box["result"]


def _run_cold(cmd, env, cwd, timeout, key: bytes) -> tuple[int | None, bool, str]:
    """One fresh interpreter per run: what `labpath check` does."""
    env = dict(env, LABPATH_PARENT=str(os.getpid()))
    with _key_pipe(key) as fd:
        env["LABPATH_KEY_FD"] = str(fd)
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(fd,),
        )
    _LIVE.add(proc.pid)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        out, _ = proc.communicate()
    finally:
        _kill_group(proc.pid)  # whatever the learner's code started in its group
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _LIVE.discard(proc.pid)
    return proc.returncode, timed_out, out.decode("utf-8", "replace")


@contextlib.contextmanager
def _key_pipe(key: bytes):
    """A pipe holding the run's signing key, read once by the plugin, then closed."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, key)
    finally:
        os.close(write_fd)
    try:
        yield read_fd
    finally:
        os.close(read_fd)


class Worker:
    """A warm process (labpath.checks.worker) that forks one child per check run."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = child_env()
        # A parent-death signal follows the starting thread: only the main thread's.
        if threading.current_thread() is threading.main_thread():
            env["LABPATH_PARENT"] = str(os.getpid())
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
            self.stop()
            raise RuntimeError("the warm check process failed to start")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, args, env, cwd, timeout, key: bytes) -> tuple[int | None, bool, str]:
        if not self.alive:
            self.start()
        output = str(Path(cwd) / "output.txt")
        request = {
            "args": args,
            "env": env,
            "cwd": str(cwd),
            "output": output,
            "timeout": timeout,
            "key": key.hex(),
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        child = None
        try:
            started = self.proc.stdout.readline()
            if started:
                child = int(json.loads(started)["pid"])
                _LIVE.add(child)
            reply = self.proc.stdout.readline() if started else ""
        except BaseException:  # Ctrl-C or a signal: the run must not outlive labpath
            if child is not None:
                _kill_group(child)
            self.stop()
            raise
        finally:
            if child is not None:
                _kill_group(child)
                _LIVE.discard(child)
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
                _kill_group(self.proc.pid)
                self.proc.wait()
            self.proc = None


# --- nothing the learner's code started outlives the run --------------------------

_LIVE: set[int] = set()  # process groups of check processes now running


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop_everything(token: str | None = None, groups: bool = True) -> None:
    """Kill every running check's group and every process carrying the run's token.

    The token (LABPATH_RUN in the environment) finds what left the group: a learner's
    `setsid` or double-forked process. Only Linux lists environments in /proc.
    """
    for pgid in list(_LIVE) if groups else ():
        _kill_group(pgid)
    if token is None:
        return
    needle = f"LABPATH_RUN={token}".encode()
    for _ in range(5):  # what is killed may have forked a moment before
        found = [pid for pid in _pids_with(needle) if pid != os.getpid()]
        if not found:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def sweep_orphans() -> None:
    """Kill what a run left behind when its labpath was killed outright (kill -9)."""
    prefix = b"LABPATH_RUN="
    for pid, value in _run_tokens(prefix):
        owner = value.split(b"-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pids_with(needle: bytes) -> list[int]:
    return [pid for pid, value in _run_tokens(b"") if value == needle]


def _run_tokens(prefix: bytes):
    """(pid, LABPATH_RUN entry) of every process of this user that has one."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(b"LABPATH_RUN="):
                yield int(entry.name), item[len(prefix) :]


def _end_by_signal(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signals_end_the_run():
    """While checks run, SIGTERM and SIGHUP end labpath as Ctrl-C does, so cleanup runs."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, _end_by_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ensure_standard_fds() -> None:
    """A labpath started with stdin, stdout or stderr closed gets /dev/null there.

    Otherwise the next pipe would take fd 0, 1 or 2 and the child's output would go
    where its results channel is.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)


# --- the results channel ----------------------------------------------------------


def sign(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def read_records(path: Path, key: bytes | None) -> tuple[list[dict], int]:
    """The records labpath's plugin wrote, and how many lines it did not write.

    Each line carries an HMAC under a key only the plugin was given (through a pipe,
    never the environment), and a sequence number, so forged, edited, replayed or
    reordered records are counted, not believed.
    """
    if not path.exists():
        return [], 0
    records, forged, expected = [], 0, 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], 0
    lines = text.splitlines()
    for i, line in enumerate(lines):
        try:
            outer = json.loads(line)
            body = outer["body"]
            good = key is None or hmac.compare_digest(sign(key, body), outer["mac"])
            record = json.loads(body) if good else None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            if i == len(lines) - 1 and not text.endswith("\n"):
                continue  # the last line cut short by a crash
            forged += 1
            continue
        if record is None or record.get("seq") != expected:
            forged += 1
            continue
        expected += 1
        records.append(record)
    return records, forged


# --- the installed checks are the ones that run ------------------------------------


def installed_manifest() -> dict[str, str]:
    """sha256 of each installed labpath file, from the installation's own RECORD.

    Empty for an editable (development) install, whose files are the source tree.
    """
    from importlib import metadata

    try:
        files = metadata.files("labpath") or []
    except metadata.PackageNotFoundError:
        return {}
    manifest = {}
    for f in files:
        if f.hash is None or f.hash.mode != "sha256":
            continue
        with contextlib.suppress(OSError, ValueError):
            manifest[str(Path(str(f.locate())).resolve())] = f.hash.value
    return manifest


def changed_check_files(lab: Lab, manifest: dict[str, str] | None = None) -> list[str]:
    """The lab's check files whose content is not what was installed."""
    import base64

    package = Path(__file__).resolve().parents[1]
    checks = Path(lab.checks_dir).resolve()
    if not checks.is_relative_to(package):
        return []  # a lab from elsewhere: nothing was installed to compare with
    manifest = installed_manifest() if manifest is None else manifest
    if not any(Path(k).is_relative_to(package) for k in manifest):
        return []
    changed = []
    for path in sorted(Path(lab.checks_dir).rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        want = manifest.get(str(path.resolve()))
        if want is None:
            if path.suffix == ".py":
                changed.append(str(path))  # a check file nobody installed
            continue
        digest = hashlib.sha256(path.read_bytes()).digest()
        got = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if got != want:
            changed.append(str(path))
    return changed


def _build_report(
    lab, target, records, returncode, timed_out, timeout, elapsed, seed, output,
    forged=0,
):  # fmt: skip
    results = []
    started = None
    finished = None
    interrupted = None
    collected = None
    harness = []
    for rec in records:
        kind = rec.get("type")
        if kind == "start":
            started = rec.get("name")
        elif kind == "collected":
            collected = list(rec.get("names") or [])
        elif kind == "result":
            fields = {k: v for k, v in rec.items() if k in _RESULT_FIELDS}
            fields["artifacts"] = tuple(fields.get("artifacts") or ())
            results.append(CheckResult(**fields))
            started = None
        elif kind == "harness_error":
            harness.append(rec.get("message", "unknown error"))
        elif kind == "interrupted":
            interrupted = rec
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
    if forged:
        return CheckReport(
            status=CRASH,
            message=f"{forged} line(s) in labpath's results channel were not written "
            "by labpath, so no result of this run can be trusted - does your code "
            "write to labpath's files?",
            **common,
        )
    if finished is None:
        cause = _environment_cause(output)
        if cause:
            return CheckReport(
                status=CRASH,
                message=f"the check process ended early{during}: {cause}",
                **common,
            )
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
    if interrupted is not None:
        return _stopped_early(interrupted, started, collected, results, common)
    if not results:
        return CheckReport(
            status=HARNESS,
            message="no checks ran (labpath's check files found none)",
            **common,
        )
    names = [r.name for r in results]
    missing = [n for n in (collected or []) if n not in names]
    if collected is None or missing or len(names) != len(set(names)):
        first = f" (first: {missing[0]})" if missing else ""
        return CheckReport(
            status=CRASH,
            message=f"{len(missing)} of {len(collected or [])} checks never reported "
            f"a result{first} - does your code end or interrupt the check run?",
            **common,
        )
    if any(r.outcome in (FAILED, ERROR) for r in results):
        status = FAIL
    elif any(r.outcome == NOT_STARTED for r in results):
        status = NOT_DONE
    elif finished.get("exitstatus") != 0:
        return CheckReport(
            status=CRASH,
            message="every check reported a pass but pytest ended with exit status "
            f"{finished.get('exitstatus')} - does your code fail after a check, "
            "in a fixture's clean-up or at exit?",
            **common,
        )
    else:
        status = PASS
    return CheckReport(status=status, **common)


_RESULT_FIELDS = set(CheckResult.__dataclass_fields__)


def _stopped_early(rec, started, collected, results, common) -> CheckReport:
    """The learner's code raised KeyboardInterrupt, signalled itself or called pytest.exit."""
    where = rec.get("where")
    what = rec.get("what") or "KeyboardInterrupt"
    name = rec.get("name") or started
    done = {r.name for r in results}
    left = [n for n in (collected or []) if n not in done and n != name]
    stopped = ()
    if name and name not in done:
        stopped = (
            CheckResult(
                name=name,
                outcome=FAILED,
                message=f"your code stopped the check run: {what}"
                + ("" if where else " (SIGINT or pytest.exit in your code?)"),
                learner_location=where,
                seed=common["seed"],
            ),
        )
    return CheckReport(
        status=FAIL,
        message=f"the run stopped at {name or 'start-up'}; "
        f"{len(left)} check(s) did not run. Only labpath may end a check run.",
        **{**common, "results": tuple(common["results"]) + stopped},
    )


_ENVIRONMENT_SIGNS = {
    "No space left on device": "no space left on the disk or in TMPDIR ({tmp}) "
    "(not your code); free some space or set TMPDIR to a folder with room",
    "Disk quota exceeded": "the disk quota is used up, so labpath could not write its "
    "results in TMPDIR ({tmp}) (not your code); free some space or set TMPDIR",
    "File too large": "a file-size limit (ulimit -f) stopped labpath writing its "
    "results (not your code); raise the limit: ulimit -f unlimited",
    "Bad file descriptor": "a file descriptor labpath needs was closed (not your "
    "code, unless it closes file descriptors); rerun from a normal terminal",
}


def _environment_cause(output: str) -> str | None:
    """A reason in the child's output that is the environment's fault, not the code's."""
    for sign_, text in _ENVIRONMENT_SIGNS.items():
        if sign_ in output and "labpath" in output.split(sign_)[0][-4000:]:
            return text.format(tmp=os.environ.get("TMPDIR") or "/tmp")
    return None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
