"""Atomic file writes, append-only logs and the workspace lock."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

STALE_TEMP = 300.0  # seconds: a live atomic write takes milliseconds


def file_mode(path: Path) -> int:
    """The mode a new file gets from the umask, or the mode of the file it replaces."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def sweep(folder: Path, pattern: str, age: float = STALE_TEMP) -> None:
    """Remove temp files a writer killed mid-write left behind."""
    now = time.time()
    if not folder.is_dir():
        return
    for tmp in folder.glob(pattern):
        with contextlib.suppress(OSError):
            if now - tmp.lstat().st_mtime > age:
                tmp.unlink()


def fresh_file(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """A new empty file in folder only we can read: tempfile.mkstemp, without the
    3 ms its import costs every command that writes a file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
    for name in ("O_NOFOLLOW", "O_CLOEXEC", "O_BINARY"):
        flags |= getattr(os, name, 0)
    for _attempt in range(100):
        path = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")  # pragma: no cover


def temp_file(path: Path, mode: int | None = None) -> tuple[int, str]:
    """A temp file beside path with the mode path will have; old leftovers swept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path.parent, f".{path.name}.*.tmp")
    fd, tmp = fresh_file(path.parent, f".{path.name}.", ".tmp")
    with contextlib.suppress(OSError):
        os.fchmod(fd, file_mode(path) if mode is None else mode)
    return fd, tmp


def write_synced(fd: int, data: str | bytes) -> None:
    """Write data to a fresh file descriptor, close it, and wait until it is on disk."""
    if isinstance(data, str):
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def sync_folder(folder: Path) -> None:
    """Make a rename or link in folder durable (POSIX; a no-op where folders cannot open)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: Path, data: str | bytes, mode: int | None = None, cache: bool = False
) -> None:
    """Write text or bytes to path so readers see the old file or the new one, never half.

    The file is on disk before the rename, and the rename before we return, unless
    path is a `cache` (a lost rename there only costs a rebuild). `mode` defaults to
    the replaced file's mode, or the umask's for a new file.
    """
    fd, tmp = temp_file(path, mode)
    try:
        write_synced(fd, data)
        test_pause(f"atomic_write:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not cache:
        sync_folder(path.parent)


def append_line(path: Path, line: str) -> None:
    """Append one whole line, or nothing: a short write (a full disk) is rolled back.

    One write call in the common case, so concurrent appenders never interleave.
    """
    from labpath.errors import EnvironmentFailure

    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        written = 0
        try:
            while written < len(data):
                n = os.write(fd, data[written:])
                if n <= 0:
                    raise OSError(28, "No space left on device")
                written += n
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise EnvironmentFailure(
                f"could not append to {path}: {exc.strerror or exc}; nothing was "
                "recorded and the file is as it was",
                hint="free some disk space (or fix the folder's permissions), then run "
                "the command again",
            ) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(lock_file: Path):
    """Hold an exclusive advisory lock on lock_file for the block (POSIX; no-op elsewhere)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_file, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def test_pause(point: str) -> None:
    """Stop here when LABPATH_TEST_PAUSE names this point: the crash tests kill us here.

    The process touches LABPATH_TEST_PAUSE_MARKER so the test knows it has arrived.
    """
    if os.environ.get("LABPATH_TEST_PAUSE") != point:
        return

    marker = os.environ.get("LABPATH_TEST_PAUSE_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("LABPATH_TEST_PAUSE_SECONDS", "60")))
