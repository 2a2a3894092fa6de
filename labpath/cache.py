"""A pickle cache of parsed files, valid while the files keep their size and mtime."""

from __future__ import annotations

import os
import pickle
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from labpath import __version__
from labpath.fsutil import atomic_write

T = TypeVar("T")


def cache_dir() -> Path:
    if os.environ.get("LABPATH_CACHE"):
        return Path(os.environ["LABPATH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "labpath"


def memo(kind: str, anchor: Path, files: list[Path], build: Callable[[], T]) -> T:
    """build(), or its result from the last call if none of files changed since.

    Parsing YAML costs more than the rest of `labpath status`; this keeps commands
    that only read the plan fast. Errors are never cached: build() raises again.
    """
    try:
        key = (__version__, kind, str(anchor), [(str(p), *_stamp(p)) for p in files])
    except OSError:
        return build()
    name = f"{kind}-{zlib.crc32(str(anchor).encode()):08x}.pickle"
    path = cache_dir() / name
    try:
        stored_key, value = pickle.loads(path.read_bytes())
        if stored_key == key:
            return value
    except Exception:  # a missing, stale or unreadable cache is simply rebuilt
        pass
    value = build()
    try:
        data = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(path, data, cache=True)
    except OSError:
        pass  # a read-only home still works, just slower
    return value


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size
