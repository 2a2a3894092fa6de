"""A warm check process for watch mode: torch and pytest load once, each run forks.

Protocol: one JSON request per stdin line ({"args", "env", "cwd", "output",
"timeout", "key"}), two JSON lines back per run: {"pid"} once the child is forked
(labpath stops its group if labpath is stopped), then {"returncode", "timed_out"}.
Each run is a forked child, so a learner's crash, hang or exit never takes the
worker down, and each child imports the learner's code afresh.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

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


def _child(request: dict, parent: int) -> None:
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
    if sys.path and sys.path[0] == _START_DIR:
        sys.path[0] = os.getcwd()
    fd = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdin = open(os.devnull)
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


def _wait(pid: int, timeout: float) -> tuple[int | None, bool]:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status), True
        time.sleep(0.005)


def main() -> None:
    labpath = os.environ.pop(protocol.PARENT, None)
    if labpath:
        _die_with_parent(int(labpath))
    _warm_up()
    real_exit = os._exit
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
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
        code, timed_out = _wait(pid, float(request["timeout"]))
        print(json.dumps({"returncode": code, "timed_out": timed_out}), flush=True)


if __name__ == "__main__":
    main()
