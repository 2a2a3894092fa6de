"""The warm check server: `labpath check` hands its runs to a worker that stays warm.

A cold `labpath check` spends most of its time before the first check: a fresh
interpreter imports torch and pytest and collects the lab's checks. The first check
run starts this server in the background; the next one connects to its Unix socket
and the server's worker (labpath.checks.worker: torch and pytest imported, the lab's
checks collected once) forks the run. What the run is told, how it is signed and what
it may do are those of a cold run; only the start-up is skipped.

    python -m labpath.checks.server SOCKET IDLE_SECONDS

One run at a time: a second client is told `busy` at once and runs cold. The server
ends after IDLE_SECONDS without a run, when its socket is removed or replaced, or on a
`stop` request; its worker and any run it holds end with it. The socket lives in a
folder only the user can enter. LABPATH_CHECK_SERVER=0 turns the server off.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import sys
import threading

from labpath.checks import procs

# How often an idle server looks whether its socket is still its own.
_LOOK_EVERY = 30.0


def _send(conn: socket.socket, data: dict) -> None:
    with contextlib.suppress(OSError):
        conn.sendall((json.dumps(data) + "\n").encode())


def _read_line(conn: socket.socket, limit: int = 1 << 24) -> bytes:
    """One request line (the client writes it whole, then waits)."""
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


class Server:
    def __init__(self, path: str, idle: float):
        self.path = path
        self.idle = idle
        self.worker = procs.Worker()
        self.running = threading.Lock()
        self.stopping = threading.Event()
        self.inode: int | None = None

    def serve(self) -> int:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(
                self.path
            )  # a live server's socket: bind fails, this one goes
        except OSError:
            return 0
        try:
            os.chmod(self.path, 0o600)
            self.inode = os.stat(self.path).st_ino
            listener.listen(8)
            try:
                self.worker.start()  # torch and pytest imported before the first run
            except procs.WorkerFailed:
                return 1
            self._loop(listener)
        finally:
            listener.close()
            self.worker.stop()
            self._remove()
        return 0

    def _loop(self, listener: socket.socket) -> None:
        quiet = 0.0
        while not self.stopping.is_set():
            wait = min(_LOOK_EVERY, max(self.idle - quiet, 0.01))
            ready, _, _ = select.select([listener], [], [], wait)
            if not self._still_ours():
                return
            if not ready:
                if not self.running.locked():
                    quiet += wait
                if quiet >= self.idle:
                    return
                continue
            quiet = 0.0
            conn, _ = listener.accept()
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()
            if not self.worker.alive and not self.running.locked():
                return

    def _still_ours(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def _remove(self) -> None:
        if self._still_ours():
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def _client(self, conn: socket.socket) -> None:
        with conn:
            try:
                line = _read_line(conn)
                request = json.loads(line) if line.strip() else None
            except (OSError, ValueError):
                return
            if not isinstance(request, dict):
                return
            if request.get("stop"):
                self.stopping.set()
                _send(conn, {"stopped": True})
                with contextlib.suppress(OSError):  # wake the accept loop
                    socket.socket(socket.AF_UNIX).connect(self.path)
                return
            if request.get("ping"):
                _send(conn, {"pid": os.getpid(), "busy": self.running.locked()})
                return
            if not self.running.acquire(blocking=False):
                _send(conn, {"busy": True})
                return
            try:
                self._run(conn, request)
            finally:
                self.running.release()

    def _run(self, conn: socket.socket, request: dict) -> None:
        """Relay one run to the worker: its pid, then its end."""
        worker = self.worker
        if not worker.alive:
            _send(conn, {"busy": True})  # gone: the client runs cold
            return
        try:
            worker.proc.stdin.write(json.dumps(request) + "\n")
            worker.proc.stdin.flush()
            started = worker.proc.stdout.readline()
        except OSError:
            started = ""
        if not started:
            _send(conn, {"busy": True})
            self.stopping.set()
            return
        with contextlib.suppress(OSError):
            conn.sendall(started.encode())
        ended = worker.proc.stdout.readline()
        if (
            not ended
        ):  # the worker died during the run: a crash, as a cold run's would be
            _send(conn, {"returncode": None, "timed_out": False})
            self.stopping.set()
            return
        with contextlib.suppress(OSError):
            conn.sendall(ended.encode())


def main(argv: list[str]) -> int:
    path, idle = argv[0], float(argv[1])
    return Server(path, idle).serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
