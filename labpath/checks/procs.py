"""Starting check processes, cold or from the warm worker, and stopping all they started."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from labpath.checks import protocol


def child_env(**extra: str) -> dict[str, str]:
    """This environment, with the labpath being run importable first in a child process."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p
    )
    return env


# The folder holding the labpath being run.
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def run_cold(cmd, env, cwd, timeout, key: bytes) -> tuple[int | None, bool, str]:
    """One fresh interpreter per run: what `labpath check` does."""
    env = dict(env, **{protocol.PARENT: str(os.getpid())})
    with key_pipe(key) as fd:
        env[protocol.KEY_FD] = str(fd)
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
        kill_group(proc.pid)
        out, _ = proc.communicate()
    finally:
        kill_group(proc.pid)  # whatever the learner's code started in its group
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _LIVE.discard(proc.pid)
    return proc.returncode, timed_out, out.decode("utf-8", "replace")


@contextlib.contextmanager
def key_pipe(key: bytes):
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


def run_request(args, env, cwd, timeout, key: bytes) -> dict:
    """One run as a warm worker takes it (labpath.checks.worker): pytest's arguments,
    the run's environment and folder, where its output goes, its time limit and key."""
    return {
        "args": args,
        "env": env,
        "cwd": str(cwd),
        "output": str(Path(cwd) / "output.txt"),
        "timeout": timeout,
        "key": key.hex(),
    }


def run_output(request: dict) -> str:
    """What the run of a request printed (empty if it never started)."""
    path = Path(request["output"])
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


class WorkerFailed(RuntimeError):
    """The warm process could not start (its imports failed): run cold instead."""


class Worker:
    """A warm process (labpath.checks.worker) that forks one child per check run."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self._ready = False
        self.last_cpu: float | None = None  # CPU seconds of the last run's process

    def launch(self) -> None:
        """Start the process without waiting for its imports (see `start`)."""
        env = child_env()
        # A parent-death signal follows the starting thread: only the main thread's.
        if threading.current_thread() is threading.main_thread():
            env[protocol.PARENT] = str(os.getpid())
        # As a cold run's interpreter starts: the hash seed is fixed before any import.
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labpath.checks.worker"],
            env=env,
            # `-m` puts its working folder first on sys.path, ahead of PYTHONPATH: the
            # learner's (a clone of labpath, a torch.py) would be imported instead.
            cwd=_PACKAGE_PARENT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._ready = False

    def start(self) -> None:
        """Start the process and wait until it has imported torch and pytest."""
        if self.proc is None:
            self.launch()
        if self._ready:
            return
        ready = self.proc.stdout.readline()
        if not ready:
            self.stop()
            raise WorkerFailed("the warm check process failed to start")
        self._ready = True

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, args, env, cwd, timeout, key: bytes) -> tuple[int | None, bool, str]:
        if not self.alive:
            self.stop()
        self.start()
        request = run_request(args, env, cwd, timeout, key)
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
                kill_group(child)
            self.stop()
            raise
        finally:
            if child is not None:
                kill_group(child)
                _LIVE.discard(child)
        if not reply:  # the worker itself died: say so as a crash, restart next time
            self.stop()
            return None, False, ""
        data = json.loads(reply)
        self.last_cpu = data.get("cpu")
        return data["returncode"], data["timed_out"], run_output(request)

    def stop(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                kill_group(self.proc.pid)
                self.proc.wait()
            self.proc = None
            self._ready = False


class WorkerPool:
    """Warm workers shared by the threads of one job: each run borrows a worker alone.

    Every worker is launched on entry, from the entering (main) thread, so their
    imports overlap and each dies with labpath; all are stopped on exit.
    """

    def __init__(self, size: int):
        self.workers = [Worker() for _ in range(max(1, size))]
        self._free: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        for worker in self.workers:
            self._free.put(worker)

    def __enter__(self) -> WorkerPool:
        try:
            for worker in self.workers:
                worker.launch()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @contextlib.contextmanager
    def borrow(self):
        worker = self._free.get()
        try:
            yield worker
        finally:
            self._free.put(worker)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


# --- nothing the learner's code started outlives the run --------------------------

_LIVE: set[int] = set()  # process groups of check processes now running
_RUN_PREFIX = f"{protocol.RUN}=".encode()


def kill_group(pgid: int) -> None:
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
        kill_group(pgid)
    if token is None:
        return
    needle = f"{protocol.RUN}={token}".encode()
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
    prefix = f"{protocol.RUN}=".encode()
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
            if item.startswith(_RUN_PREFIX):
                yield int(entry.name), item[len(prefix) :]


def _end_by_signal(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def signals_end_the_run():
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


def ensure_standard_fds() -> None:
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
