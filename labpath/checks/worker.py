"""A warm check process for watch mode: torch and pytest load once, each run forks.

Protocol: one JSON request per stdin line ({"args", "env", "cwd", "output",
"timeout", "key"}), two JSON lines back per run: {"pid"} once the child is forked
(labpath stops its group if labpath is stopped), then {"returncode", "timed_out",
"cpu"} (the run's CPU seconds).
Each run is a forked child, so a learner's crash, hang or exit never takes the
worker down, and each child imports the learner's code afresh.

Collected once: for a given set of checks (the same pytest arguments, and the same
environment but for what is per run), a child of the worker (the collector) does
pytest's configuration and collection once, importing the lab's check modules and
references but never the learner's code, then forks once per run after collection.
Each of those runs reads its own spec (results file, key, learner folder, seed,
selection) and runs the collected checks; so a re-check pays for the checks alone.
A collection that fails, that imported the learner's code, or during which a check
module read the per-run spec (kit.seed(), kit.target(), kit.data_path(), ...) is never
reused: such checks run as before, a fork of the worker running the whole of pytest.
So a check module reads the per-run spec inside its checks and fixtures, never at
import time, as every shipped lab does, and a re-check stays cheap.
"""

from __future__ import annotations

import gc
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from labpath.checks import protocol

# What `python -m` put first on sys.path: the folder the worker was started in.
_START_DIR = os.getcwd()


def _warm_up() -> None:
    # Import, never compute: a fork after torch has started its thread pools can hang.
    import pytest  # noqa: F401

    from labpath.checks import kit, plugin  # noqa: F401

    try:  # a lab whose checks are plain Python runs without torch installed
        import torch  # noqa: F401
    except ImportError:
        pass

    try:  # checks that draw plots would otherwise pay for matplotlib on every run
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot
    except Exception:
        pass


def _die_with_parent(parent: int) -> None:
    """Linux: this process gets SIGKILL when its parent dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(3)


def _enter_run(request: dict, parent: int, start_dir: str) -> None:
    """In a freshly forked run: its own group, environment, key pipe, folder, output."""
    os.setpgid(0, 0)  # its own group, so a timeout can stop anything it started
    _die_with_parent(parent)
    os.environ.clear()
    os.environ.update(request["env"])
    # The signing key goes to the plugin through a pipe, as in a cold run.
    read_fd, write_fd = os.pipe()
    os.write(write_fd, bytes.fromhex(request.pop("key", "")))
    os.close(write_fd)
    os.environ[protocol.KEY_FD] = str(read_fd)
    os.environ[protocol.PARENT] = str(parent)
    os.chdir(request["cwd"])
    # `python -m pytest` puts its working folder first on sys.path; so does the child.
    if start_dir in sys.path:
        sys.path[sys.path.index(start_dir)] = os.getcwd()
    fd = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdin = open(os.devnull)


def _child(request: dict, parent: int) -> None:
    _enter_run(request, parent, _START_DIR)
    code = 3
    try:
        import pytest

        code = int(pytest.main(request["args"]))
    except BaseException:  # the child must end here whatever happens
        pass
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> dict:
    """The run's end: exit code, whether it met its time limit, and its CPU seconds."""
    deadline = time.monotonic() + timeout
    timed_out = False
    ended = _exit_signal(pid)
    try:
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            left = deadline - time.monotonic()
            if left < 0:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, usage = os.wait4(pid, 0)
                timed_out = True
                break
            if ended is None:
                time.sleep(0.005)
            else:  # woken the moment the run ends, not at the next poll
                select.select([ended], [], [], left)
    finally:
        if ended is not None:
            os.close(ended)
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def _exit_signal(pid: int) -> int | None:
    """A descriptor that becomes readable when the child exits (Linux), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _fork_run(request: dict, real_exit) -> None:
    """The whole of pytest in a fork of the worker; its pid, then its end, to stdout."""
    me = os.getpid()
    pid = os.fork()
    if pid == 0:
        _child(request, me)
        real_exit(3)
    try:  # as the child does, so a stop from labpath finds the group at once
        os.setpgid(pid, pid)
    except OSError:
        pass
    print(json.dumps({"pid": pid}), flush=True)
    print(json.dumps(_wait(pid, float(request["timeout"]))), flush=True)


# --- collected once, forked per run ------------------------------------------------

# What differs from run to run of the same checks: never part of a collection.
_PER_RUN = (
    protocol.REPORT,
    protocol.RUN,
    protocol.ARTIFACTS,
    protocol.SEED,
    protocol.SELECT,
    protocol.KEY_FD,
    protocol.PARENT,
    "PYTEST_DEBUG_TEMPROOT",  # the run's own folder (runner.run)
)


def collection_key(request: dict) -> str:
    """What a collection depends on: the arguments, the environment, the check files.

    Not the learner's folder: each run points the loader and the tripwires at its own
    (plugin.begin_run). Only whether there is one counts, since the tripwires are
    armed at configuration only where there is.
    """
    env = {k: v for k, v in request["env"].items() if k not in _PER_RUN}
    if protocol.TARGET in env:
        env[protocol.TARGET] = "(the run's own)"
    files = []
    args = request["args"]
    checks = Path(args[0]) if args else None
    if checks is not None and checks.is_dir():
        for path in sorted(checks.rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            st = path.stat()
            files.append((str(path), st.st_mtime_ns, st.st_size))
    return json.dumps([args, sorted(env.items()), files])


def _learner_imported(spec: protocol.CheckSpec, checks: Path) -> str | None:
    """A module of the learner's (or of a lab this one uses) that is imported, if any."""
    from labpath.checks import kit

    if kit._MODULES:
        return next(iter(kit._MODULES))
    roots = [Path(p).resolve() for p in (spec.target, *spec.uses.values()) if p]
    checks = checks.resolve()
    for name, mod in list(sys.modules.items()):
        if name.startswith("labpath_learner_"):
            return name
        file = getattr(mod, "__file__", None)
        if not isinstance(file, str):
            continue
        try:
            path = Path(file).resolve()
        except (OSError, ValueError):
            continue
        if path.is_relative_to(checks):
            continue
        if any(path.is_relative_to(r) for r in roots):
            return name
    return None


class _ForkAfterCollection:
    """A pytest plugin for the collector: once collection is done, fork per request.

    Only the forked runs return from pytest_runtestloop's wrapper into the rest of
    pytest (the run, the session's end, the exit); the collector serves until its
    request pipe closes, then ends.
    """

    def __init__(self, requests, replies, start_dir: str, real_exit):
        self.requests = requests
        self.replies = replies
        self.start_dir = start_dir
        self.real_exit = real_exit
        self.me = os.getpid()
        self.placeholder = (-1, -1)  # (device, inode) of the collector's stdout

    def reply(self, data: dict) -> None:
        self.replies.write(json.dumps(data) + "\n")
        self.replies.flush()

    def reusable(self, session) -> bool:
        if session.testsfailed or session.shouldfail or session.shouldstop:
            return False
        from labpath.checks import kit

        if kit.READ_PER_RUN:  # a check module read the seed or folder at import
            return False
        checks = Path(str(session.config.rootpath))
        return _learner_imported(protocol.decode(), checks) is None

    def pytest_runtestloop(self, session):
        if not self.reusable(session):
            self.reply({"ready": False})
            self.real_exit(0)
        self.reply({"ready": True})
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # what was collected stays shared with the runs (see main)
        for line in self.requests:
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                self.requests.close()
                self.replies.close()
                try:
                    self._enter(request, session)
                except BaseException:
                    self.real_exit(3)
                return None  # on to pytest's own run of the collected checks
            try:
                os.setpgid(pid, pid)
            except OSError:
                pass
            self.reply({"pid": pid})
            self.reply(_wait(pid, float(request["timeout"])))
        self.real_exit(0)

    def _enter(self, request: dict, session) -> None:
        _enter_run(request, self.me, self.start_dir)
        # Whatever pytest kept of the collector's stdout and stderr (the capture's saved
        # descriptors, faulthandler's) is the placeholder file: point it at the output.
        for fd in _open_fds():
            if fd in (0, 1, 2):
                continue
            try:
                st = os.fstat(fd)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == self.placeholder:
                os.dup2(1, fd)
        capman = session.config.pluginmanager.getplugin("capturemanager")
        capturing = getattr(capman, "_global_capturing", None)
        for cap in (getattr(capturing, "out", None), getattr(capturing, "err", None)):
            tmp = getattr(cap, "tmpfile", None)
            if tmp is not None:  # nothing of an earlier run reaches this one's output
                tmp.seek(0)
                tmp.truncate()
        reporter = session.config.pluginmanager.getplugin("terminalreporter")
        start = getattr(reporter, "_session_start", None)
        if (
            start is not None
        ):  # "N passed in Xs" counts this run, not the collector's life
            reporter._session_start = type(start)()
        from labpath.checks import plugin

        plugin.begin_run(session)


def _open_fds() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))


def _collector(request: dict, requests_fd: int, replies_fd: int, folder: str) -> None:
    """The forked collector: configure and collect once, then serve (never returns)."""
    from labpath.checks import plugin

    real_exit = plugin._REAL_EXIT
    me = os.getpid()
    serve = None
    try:
        _die_with_parent(os.getppid())
        requests = os.fdopen(requests_fd, "r")
        replies = os.fdopen(replies_fd, "w")
        env = {k: v for k, v in request["env"].items() if k not in _PER_RUN}
        os.environ.clear()
        os.environ.update(env)
        os.chdir(folder)
        if _START_DIR in sys.path:
            sys.path[sys.path.index(_START_DIR)] = folder
        # stdout and stderr: a placeholder that each run points at its own output.
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        holder = tempfile.TemporaryFile(dir=folder)
        os.dup2(holder.fileno(), 1)
        os.dup2(holder.fileno(), 2)
        held = os.fstat(holder.fileno())
        holder.close()
        sys.stdin = open(os.devnull)
        serve = _ForkAfterCollection(requests, replies, folder, real_exit)
        serve.placeholder = (held.st_dev, held.st_ino)
        import pytest

        code = int(pytest.main(list(request["args"]), plugins=[serve]))
    except BaseException:
        code = 3
    if os.getpid() == me:  # the collection stopped before any run
        try:
            os.write(replies_fd, b'{"ready": false}\n')
        except Exception:
            pass
        real_exit(0)
    sys.stdout.flush()
    sys.stderr.flush()
    real_exit(code)


class _Collected:
    """The worker's handle on one collector: its pipes, pid and private folder."""

    def __init__(self, key: str, request: dict, real_exit):
        self.key = key
        self.folder = tempfile.mkdtemp(prefix="labpath-collect-")
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os.close(req_w)
            os.close(rep_r)
            try:
                _collector(request, req_r, rep_w, self.folder)
            finally:
                real_exit(3)
        os.close(req_r)
        os.close(rep_w)
        self.pid = pid
        self.requests = os.fdopen(req_w, "w")
        self.replies = os.fdopen(rep_r, "r")

    def ready(self, timeout: float) -> bool:
        """Whether the collection succeeded (within timeout) and can be reused."""
        line = self._readline(timeout)
        return bool(line) and bool(json.loads(line).get("ready"))

    def _readline(self, timeout: float | None) -> str:
        if timeout is not None:
            found, _, _ = select.select([self.replies], [], [], timeout)
            if not found:
                return ""
        return self.replies.readline()

    def run(self, request: dict) -> bool:
        """Relay one run's pid and end to stdout; False if the collector is gone."""
        try:
            self.requests.write(json.dumps(request) + "\n")
            self.requests.flush()
        except OSError:
            return False
        started = self._readline(None)
        if not started:
            return False
        print(started.strip(), flush=True)
        ended = self._readline(None)
        if not ended:  # the collector died during the run: a crash, as labpath sees it
            print(json.dumps({"returncode": None, "timed_out": False}), flush=True)
        else:
            print(ended.strip(), flush=True)
        return True

    def stop(self) -> None:
        for pipe in (self.requests, self.replies):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    labpath = os.environ.pop(protocol.PARENT, None)
    if labpath:
        _die_with_parent(int(labpath))
    gc.disable()  # imports make little garbage, and collecting as they run slowed them
    try:
        _warm_up()
    finally:
        # A forked run that walks the inherited heap in a garbage collection copies
        # every page it touches (torch's included): frozen objects are never walked.
        gc.freeze()
        gc.enable()
    real_exit = os._exit
    print(json.dumps({"ready": True}), flush=True)
    collected: _Collected | None = None
    refused: set[str] = set()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            key = collection_key(request)
            if collected is not None and collected.key != key:
                collected.stop()
                collected = None
            if collected is None and key not in refused:
                collected = _Collected(key, request, real_exit)
                if not collected.ready(float(request["timeout"])):
                    collected.stop()
                    collected = None
                    refused.add(key)
            if collected is not None:
                if collected.run(request):
                    continue
                collected.stop()  # gone before the run began: run it the old way
                collected = None
            _fork_run(request, real_exit)
    finally:
        if collected is not None:
            collected.stop()


if __name__ == "__main__":
    main()
