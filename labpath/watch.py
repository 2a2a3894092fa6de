"""Watch mode: re-run a lab's checks in a warm process each time one of its files is saved."""

from __future__ import annotations

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

    if not target.is_dir():
        raise UsageError(
            f"cannot watch {target}: no such folder",
            hint="run `labpath next` to scaffold the lab, or pass --path DIR",
        )
    worker = Worker()
    runs = 0
    try:
        worker.start()
        on_start(None)
        on_outcome(run_check(worker))
        runs += 1
        for changes in watchfiles.watch(
            target,
            watch_filter=_relevant,
            force_polling=poll or None,
            poll_delay_ms=100,
            debounce=debounce_ms,
            stop_event=stop_event,
            raise_interrupt=False,
        ):
            if not target.is_dir():
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
