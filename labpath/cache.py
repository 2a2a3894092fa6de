"""A pickle cache of parsed files, valid while the files keep their size and mtime."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from labpath import __version__
from labpath.fsutil import atomic_write

try:  # pickle's C half: loading pickle.py's pure-Python pickler costs each command 2 ms
    import _pickle as pickle
except ImportError:  # pragma: no cover - an interpreter without it
    import pickle

T = TypeVar("T")
HIGHEST_PROTOCOL = 5


def cache_dir() -> Path:
    if os.environ.get("LABPATH_CACHE"):
        return Path(os.environ["LABPATH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "labpath"


# What memo() returned in this process, by cache file: (key, value).
_LOADED: dict[str, tuple] = {}


def memo(
    kind: str,
    anchor: Path,
    files: list[Path],
    build: Callable[[], T],
    keep: bool = False,
    depends: tuple = (),
) -> T:
    """build(), or its result from the last call if none of files changed since and
    depends (what else the result is read against) is the same.

    Parsing YAML costs more than the rest of `labpath status`; this keeps commands
    that only read the plan fast. Errors are never cached: build() raises again. With
    keep, the value is also held in this process and shared by every caller, who
    must copy what they change.
    """
    try:
        stamps = [(str(p), *_stamp(p)) for p in files]
        key = (__version__, kind, str(anchor), stamps, depends)
    except OSError:
        return build()
    name = f"{kind}-{zlib.crc32(str(anchor).encode()):08x}.pickle"
    path = cache_dir() / name
    loaded = _LOADED.get(str(path)) if keep else None
    if loaded is not None and loaded[0] == key:  # asked again in this process
        return loaded[1]
    try:
        stored_key, value = pickle.loads(path.read_bytes())
        if stored_key == key:
            if keep:
                _LOADED[str(path)] = (key, value)
            return value
    except Exception:  # a missing, stale or unreadable cache is simply rebuilt
        pass
    value = build()
    if keep:
        _LOADED[str(path)] = (key, value)
    try:
        data = pickle.dumps((key, value), protocol=HIGHEST_PROTOCOL)
        atomic_write(path, data, cache=True)
    except OSError:
        pass  # a read-only home still works, just slower
    return value


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()  # an atomic rewrite within one mtime tick still has a new inode
    return st.st_mtime_ns, st.st_size, st.st_ino
