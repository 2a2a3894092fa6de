"""The learner's progress: an append-only event log and what it implies."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from labpath.curriculum import Curriculum, Task
from labpath.errors import UsageError
from labpath.fsutil import append_line
from labpath.structs import struct

DONE, STARTED, PENDING = "done", "started", "pending"


@struct
class TaskState:
    status: str = PENDING
    started_at: str | None = None
    done_at: str | None = None
    last_check: dict | None = None
    checks: int = 0
    hints: int = 0  # hint levels revealed so far
    passed: bool = False  # a check of this task has passed at least once
    solution_seen: bool = False


def now() -> str:
    """The current local time, ISO 8601 with its UTC offset, to the second."""
    return dt.datetime.now().astimezone().replace(microsecond=0).isoformat()


def read_events(path: Path) -> list[dict]:
    """Every event in the log; a corrupt line is an error naming the line.

    Parsed once per change of the file: the cache keeps the parse, so a command that
    only reads progress (`labpath log`) never imports json.
    """
    from labpath.cache import memo

    if not path.exists():
        return []
    events = memo(
        "progress", path.resolve(), [path], lambda: _parse_events(path), keep=True
    )
    return [dict(e) for e in events]


def _parse_events(path: Path) -> list[dict]:
    import json

    events = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            if (
                not isinstance(event, dict)
                or "event" not in event
                or "task" not in event
            ):
                raise UsageError(
                    f"{path}:{n}: corrupt progress entry: {line.strip()[:60]!r}",
                    hint="run `labpath repair` to recover it from git history "
                    "(the damaged file is kept)",
                )
            events.append(event)
    return events


def record(log_file: Path, event: str, task: str, /, **fields) -> dict:
    """Append one event to the log and return it."""
    import json

    entry = {"at": now(), "event": event, "task": task, **fields}
    append_line(log_file, json.dumps(entry, ensure_ascii=False, sort_keys=False))
    return entry


def derive(events: list[dict]) -> dict[str, TaskState]:
    """Fold the event log into one state per task id."""
    states: dict[str, TaskState] = {}
    for e in events:
        tid = e["task"]
        s = states.get(tid, TaskState())
        kind = e["event"]
        at = e.get("at")
        if kind == "start" and s.status == PENDING:
            s = replace(s, status=STARTED, started_at=at)
        elif kind == "check":
            s = replace(
                s,
                status=s.status if s.status != PENDING else STARTED,
                started_at=s.started_at or at,
                last_check=e,
                checks=s.checks + 1,
                passed=s.passed or e.get("status") == "passed",
            )
        elif kind == "done" and s.status != DONE:
            s = replace(s, status=DONE, started_at=s.started_at or at, done_at=at)
        elif kind == "reopen":
            s = replace(s, status=STARTED, done_at=None)
        elif kind == "hint":
            s = replace(s, hints=max(s.hints, int(e.get("level", 0))))
        elif kind == "solution":
            s = replace(s, solution_seen=True)
        states[tid] = s
    return states


def state_of(states: dict[str, TaskState], task: Task) -> TaskState:
    return states.get(task.id, TaskState())


def focus_of(events: list[dict]) -> str | None:
    """The task `labpath start` last made current (a `focus` event), if any."""
    found = None
    for e in events:
        if e["event"] == "focus":
            found = e["task"]
    return found


def next_task(
    curriculum: Curriculum, states: dict[str, TaskState], focus: str | None = None
) -> Task | None:
    """The current task: the one `labpath start` chose until it is done, else the
    first one not done, in curriculum order."""
    for task in curriculum.tasks:
        if task.id == focus and state_of(states, task).status != DONE:
            return task
    for task in curriculum.tasks:
        if state_of(states, task).status != DONE:
            return task
    return None
