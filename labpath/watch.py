"""Watch mode: re-run a lab's checks in a warm process each time one of its files is saved."""

from __future__ import annotations

import os
import time
from pathlib import Path

from labpath.errors import UsageError

WATCHED_SUFFIXES = (".py", ".txt", ".yaml", ".yml", ".json", ".csv")


def _relevant(change, path: str) -> bool:
    name = Path(path).name
    return (
        name.endswith(WATCHED_SUFFIXES)
        and "__pycache__" not in path
        and not name.startswith(".")
    )


def _snapshot(target: Path) -> dict[str, tuple[int, int]]:
    """(mtime in ns, size) of every watched file under target (or of target, a file)."""
    found = {}
    if target.suffix == ".ipynb":
        try:
            st = target.stat()
        except OSError:
            return {}
        return {str(target): (st.st_mtime_ns, st.st_size)}
    for root, dirs, files in os.walk(target):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            path = os.path.join(root, name)
            if _relevant(None, path):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                found[path] = (st.st_mtime_ns, st.st_size)
    return found


def _polled(target: Path, stop_event, debounce_ms: int, every: float = 0.1):
    """Saves under target found by comparing snapshots, like watchfiles.watch.

    Yields an empty set when nothing changed (first once the snapshot is taken). File
    times are compared to the nanosecond: a poller that compares seconds misses a save
    made within the second of the last one.
    """
    before = _snapshot(target)
    yield set()
    while stop_event is None or not stop_event.is_set():
        time.sleep(every)
        now = _snapshot(target)
        if now != before:
            time.sleep(debounce_ms / 1000)  # let a save of several files finish
            now = _snapshot(target)
            changed = {
                (None, p) for p in set(now) | set(before) if now.get(p) != before.get(p)
            }
            before = now
            yield changed
        else:
            yield set()


def _reappears(file: Path, wait: float = 0.5) -> bool:
    """Whether the file exists now or within `wait` (an editor that saves by delete
    and write leaves it missing for a moment)."""
    end = time.monotonic() + wait
    while not file.is_file():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def watch(
    run_check,
    target: Path,
    on_start,
    on_outcome,
    poll: bool = False,
    stop_event=None,
    debounce_ms: int = 200,
) -> int:
    """Check now, then after every save under target, until Ctrl-C or stop_event.

    run_check(worker, progress) runs one check and returns its outcome; the worker
    keeps torch and the check helpers imported between runs. Returns the number of
    runs made.
    """
    import watchfiles

    from labpath.checks.runner import Worker

    # A notebook is one file: its folder is watched, for saves of that file only.
    single = target if target.suffix == ".ipynb" else None
    relevant = _relevant
    if single is not None:
        if not single.is_file():
            raise UsageError(f"cannot watch {target}: no such notebook")
        relevant = lambda change, path: Path(path).name == single.name
    elif not target.is_dir():
        raise UsageError(
            f"cannot watch {target}: no such folder",
            hint="run `labpath next` to scaffold the lab, or pass --path DIR",
        )
    worker = Worker()
    runs = 0
    # The watcher starts before the first check, so a save made while that check runs
    # (or while its report prints) is seen; it wakes every 100 ms with nothing to do.
    if poll:
        saves = _polled(target, stop_event, debounce_ms)
    else:
        saves = watchfiles.watch(
            target if single is None else single.parent,
            watch_filter=relevant,
            recursive=single is None,
            debounce=debounce_ms,
            stop_event=stop_event,
            raise_interrupt=False,
            rust_timeout=100,
            yield_on_timeout=True,
        )
    try:
        worker.start()
        next(saves, None)  # the watcher is running from here on
        on_start(None)
        on_outcome(run_check(worker))
        runs += 1
        for changes in saves:
            if not changes:
                if stop_event is not None and stop_event.is_set():
                    break
                continue
            if single is not None and not _reappears(single):
                raise UsageError(
                    f"the watched notebook {single} was deleted",
                    hint="save it again from Jupyter, or restore it (git checkout -- FILE)",
                )
            if single is None and not target.is_dir():
                raise UsageError(
                    f"the watched folder {target} was deleted",
                    hint="restore it (git checkout -- .) or scaffold it with `labpath next`",
                )
            on_start(sorted(Path(p).name for _, p in changes))
            on_outcome(run_check(worker))
            runs += 1
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    return runs
