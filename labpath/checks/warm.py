"""`labpath check`'s side of the warm check server (labpath.checks.server).

ServerClient has Worker.run's signature, so the runner hands it a run as it would a
watch worker. When no server answers (none yet, one busy with another run, one that
died), the run is cold, exactly as without a server, and a server is started in the
background for the next check.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from labpath.checks import procs

OFF = "LABPATH_CHECK_SERVER"  # "0": never use or start a server
IDLE = "LABPATH_CHECK_SERVER_IDLE"  # seconds a server waits for a run (default 20 min)
DEFAULT_IDLE = 1200.0
# What may differ between two shells of one learner without changing what a worker
# imports; everything else in the environment picks the server.
_VOLATILE = frozenset(
    "PWD OLDPWD SHLVL _ LINES COLUMNS TERM_SESSION_ID WINDOWID SSH_TTY PS1 "
    "LABPATH_OPEN".split()
)


def enabled() -> bool:
    return (
        os.environ.get(OFF, "1") != "0"
        and hasattr(socket, "AF_UNIX")
        and hasattr(os, "fork")
        and sys.platform != "win32"
    )


def _folder() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "labpath"
    from labpath.cache import cache_dir

    return cache_dir() / "run"


def _fingerprint() -> str:
    """The interpreter, labpath's own files and the environment a worker starts in."""
    from labpath import __version__

    package = Path(__file__).resolve().parents[1]
    files = []
    for folder, _, names in os.walk(package):
        if "__pycache__" in folder:
            continue
        for name in names:
            if name.endswith((".py", ".yaml", ".ini")):
                with contextlib.suppress(OSError):
                    st = os.stat(os.path.join(folder, name))
                    files.append((folder, name, st.st_mtime_ns, st.st_size))
    env = sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE)
    # python and python3 in one venv are one interpreter: the console script's
    # shebang names one, a learner's shell the other.
    interpreter = (os.path.realpath(sys.executable), sys.prefix)
    data = repr((interpreter, __version__, sorted(files), env)).encode()
    return hashlib.sha256(data).hexdigest()[:20]


def socket_path() -> Path | None:
    """This environment's server socket, or None where a socket path cannot be made."""
    import tempfile

    name = f"checks-{_fingerprint()}.sock"
    for folder in (_folder(), Path(tempfile.gettempdir()) / f"labpath-{os.getuid()}"):
        path = folder / name
        if len(os.fsencode(path)) <= 100:  # AF_UNIX paths are short (108 bytes, Linux)
            return path
    return None


def _private(folder: Path) -> bool:
    """The folder exists, is the user's own and only they can enter it."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return False
    if st.st_uid != os.getuid() or not os.path.isdir(folder) or os.path.islink(folder):
        return False
    if st.st_mode & 0o077:
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        return not (os.stat(folder).st_mode & 0o077)
    return True


def _connect(path: Path, timeout: float = 2.0) -> socket.socket | None:
    """A connection to the server at path: a socket of this user's, or None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    conn.settimeout(None)
    return conn


def _ask(path: Path, request: dict, timeout: float = 2.0) -> dict | None:
    conn = _connect(path, timeout)
    if conn is None:
        return None
    with conn:
        try:
            conn.settimeout(timeout)
            conn.sendall((json.dumps(request) + "\n").encode())
            line = conn.makefile("rb").readline()
            return json.loads(line) if line.strip() else None
        except (OSError, ValueError):
            return None


def stop(path: Path | None = None) -> bool:
    """Ask the server of this environment (or at path) to end; whether one answered."""
    path = path or socket_path()
    return path is not None and bool(_ask(path, {"stop": True}))


def ping(path: Path | None = None) -> dict | None:
    """The server's pid and whether it is running a check, or None when none answers."""
    path = path or socket_path()
    return None if path is None else _ask(path, {"ping": True})


def start(path: Path) -> None:
    """Start a server at path in the background; it outlives this labpath, not a reboot."""
    if not _private(path.parent):
        return
    if path.exists():
        alive = _connect(path, 0.5)
        if alive is not None:  # one is there (it was busy): nothing to start
            alive.close()
            return
        with contextlib.suppress(OSError):
            path.unlink()  # a server killed outright left its socket behind
    idle = os.environ.get(IDLE, str(DEFAULT_IDLE))
    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-m", "labpath.checks.server", str(path), idle],
            env=procs.child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(path.parent),
        )


def ensure() -> None:
    """Start this environment's server in the background, unless one answers, servers
    are off, or no private folder can hold its socket."""
    if not enabled():
        return
    path = socket_path()
    if path is not None and _private(path.parent):
        start(path)


class ServerClient:
    """A run through this environment's warm server, else cold (then a server starts)."""

    def __init__(self, path: Path):
        self.path = path
        self.warm = False  # whether the last run went through the server
        self.last_cpu: float | None = None

    def run(self, args, env, cwd, timeout, key: bytes) -> tuple[int | None, bool, str]:
        result = self._warm(args, env, cwd, timeout, key)
        if result is not None:
            self.warm = True
            return result
        self.warm = False
        cmd = [sys.executable, "-m", "pytest", *args]
        result = procs.run_cold(cmd, env, cwd, timeout, key)
        start(self.path)  # after a run that ended, not one stopped by Ctrl-C
        return result

    def _warm(self, args, env, cwd, timeout, key):
        conn = _connect(self.path)
        if conn is None:
            return None
        request = procs.run_request(args, env, cwd, timeout, key)
        child = None
        with conn:
            replies = conn.makefile("rb")
            # the worker ends a run at its time limit; this only guards a hung server
            conn.settimeout(float(timeout) + 30)
            try:
                conn.sendall((json.dumps(request) + "\n").encode())
                started = json.loads(replies.readline() or b"{}")
                if "pid" not in started:
                    return None  # busy, or gone before the run began: run cold
                child = int(started["pid"])
                procs._LIVE.add(child)
                ended = replies.readline()
            except TimeoutError:
                return None if child is None else (None, True, "")
            except (OSError, ValueError):
                if child is None:
                    return None
                ended = b""
            except (
                BaseException
            ):  # Ctrl-C or a signal: the run must not outlive labpath
                if child is not None:
                    procs.kill_group(child)
                raise
            finally:
                if child is not None:
                    procs.kill_group(child)
                    procs._LIVE.discard(child)
        try:
            data = json.loads(ended)
        except ValueError:
            return None, False, ""  # the server died during the run: a crash
        self.last_cpu = data.get("cpu")
        return (
            data.get("returncode"),
            bool(data.get("timed_out")),
            procs.run_output(request),
        )


def client() -> ServerClient | None:
    """The client for `labpath check`, or None when servers are off or impossible."""
    if not enabled():
        return None
    path = socket_path()
    if path is None or not _private(path.parent):
        return None  # only a folder no one else can enter holds a server's socket
    return ServerClient(path)
