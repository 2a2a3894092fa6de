"""Time spent: sprints with a live timer, time added afterwards and skip days, in one log."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

from labpath.dates import MAX_MINUTES, now
from labpath.errors import UsageError
from labpath.fsutil import append_line, atomic_write, locked
from labpath.structs import struct

MIN_RECORDED = 1.0  # a sprint stopped within its first minute is not worth a record
SPRINT_DAY_MINUTES = 25  # a day with at least this much counts for the daily streak


@struct
class Session:
    id: str
    kind: str  # sprint | manual
    start: str  # ISO 8601 with offset
    end: str
    minutes: float
    task: str | None = None
    note: str | None = None
    planned: int | None = None  # a sprint's planned length
    interrupted: bool = False

    @property
    def started(self) -> dt.datetime:
        return _aware(dt.datetime.fromisoformat(self.start))


@struct
class Skip:
    id: str
    date: str  # YYYY-MM-DD: a day that neither counts nor breaks the daily streak
    reason: str | None = None


@struct
class TimeLog:
    sessions: tuple[Session, ...] = ()
    skips: tuple[Skip, ...] = ()

    def skip_days(self) -> set[dt.date]:
        return {dt.date.fromisoformat(s.date) for s in self.skips}


def time_file(ws) -> Path:
    return ws.state_dir / "time.jsonl"


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.astimezone()


# --- reading --------------------------------------------------------------------------


def read(path: Path) -> TimeLog:
    """Every session and skip day; duplicates (from a union merge) count once.

    A line that is not a valid record is an error naming the file and line.
    """
    if not path.exists():
        return TimeLog()
    sessions: dict[str, Session] = {}
    skips: dict[str, Skip] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                kind = rec["kind"]
                if kind == "skip":
                    dt.date.fromisoformat(rec["date"])
                    skips[rec["id"]] = Skip(rec["id"], rec["date"], rec.get("reason"))
                elif kind in ("sprint", "manual"):
                    s = Session(
                        **{k: rec[k] for k in Session.__dataclass_fields__ if k in rec}
                    )
                    dt.datetime.fromisoformat(s.start)
                    if not isinstance(s.minutes, (int, float)) or s.minutes < 0:
                        raise ValueError("minutes")
                    sessions[s.id] = s
                else:
                    raise ValueError(kind)
            except (ValueError, KeyError, TypeError, AttributeError):
                raise corrupt(path, n, line) from None
    ordered = sorted(sessions.values(), key=lambda s: s.started)
    return TimeLog(tuple(ordered), tuple(sorted(skips.values(), key=lambda s: s.date)))


def corrupt(path: Path, n: int, line: str) -> UsageError:
    return UsageError(
        f"{path}:{n}: corrupt time entry: {line.strip()[:60]!r}",
        hint="run `labpath repair` to recover it from git history (nothing is deleted)",
    )


# --- writing ----------------------------------------------------------------------------


def _new_id() -> str:
    from labpath.journal import new_id

    return new_id()


def _append(ws, record: dict, message: str) -> str | None:
    """Append one record and commit the log alone; returns a warning to show, if any."""
    from labpath import vcs

    vcs.open_repo(ws.root)
    path = time_file(ws)
    with locked(ws.lock_file):
        read(path)  # refuse to append to a log that no longer parses
        append_line(path, json.dumps(record, ensure_ascii=False))
        result = vcs.commit_paths(ws.root, [path], message)
    return result.warning


def add(
    ws,
    minutes: float,
    task: str | None,
    note: str | None = None,
    end: dt.datetime | None = None,
) -> tuple[Session, str | None]:
    """Record time spent away from the keyboard, ending at `end` (default now)."""
    end = (end or now()).replace(microsecond=0)
    start = end - dt.timedelta(minutes=minutes)
    s = Session(
        _new_id(), "manual", start.isoformat(), end.isoformat(), minutes, task, note
    )
    warning = _append(ws, _record(s), f"time: {minutes:g} min on {task or 'the plan'}")
    return s, warning


def add_skip(ws, day: dt.date, reason: str | None = None) -> tuple[Skip, str | None]:
    """Mark a day as a rest day: it neither counts nor breaks the daily streak."""
    s = Skip(_new_id(), day.isoformat(), reason)
    rec = {"id": s.id, "kind": "skip", "date": s.date}
    if reason:
        rec["reason"] = reason
    return s, _append(ws, rec, f"time: skip {s.date}")


def _record(s: Session) -> dict:
    rec = {k: v for k, v in s.__dict__.items() if v not in (None, False)}
    return rec


# --- the live sprint --------------------------------------------------------------------------


@struct
class SprintRun:
    start: dt.datetime
    end: dt.datetime
    planned: int
    task: str | None
    completed: bool  # ran to the end rather than stopped early
    state_file: Path | None = None

    @property
    def minutes(self) -> float:
        return round((self.end - self.start).total_seconds() / 60, 1)


def _state_dir(ws) -> Path:
    return ws.state_dir / "tmp" / "sprints"


def _minute_seconds() -> float:
    """Seconds in a sprint minute: 60, or less under LABPATH_TEST_MINUTE for process tests."""
    return float(os.environ.get("LABPATH_TEST_MINUTE") or 60)


def run_sprint(
    ws,
    minutes: int,
    task: str | None,
    on_tick,
    clock=now,
    sleep=time.sleep,
    heartbeat_every: float = 10.0,
) -> SprintRun:
    """Run the timer until the planned minutes pass or the learner stops it.

    Ctrl-C, a closed terminal (SIGHUP) and SIGTERM all end the sprint early; the minutes
    actually spent are returned for recording. A state file with a heartbeat lets a later
    command record a sprint whose process was killed outright.
    """
    import signal

    if not 1 <= minutes <= MAX_MINUTES:
        raise UsageError(
            f"a sprint lasts 1 to {MAX_MINUTES} minutes, not {minutes}",
            hint="labpath sprint 30",
        )
    scale = 60.0 / _minute_seconds()
    start = clock().replace(microsecond=0)
    total = minutes * 60.0
    state = _state_dir(ws) / f"{os.getpid()}.json"

    def beat(at: dt.datetime) -> None:
        atomic_write(
            state,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "start": start.isoformat(),
                    "heartbeat": at.isoformat(),
                    "planned": minutes,
                    "task": task,
                    "scale": scale,
                }
            ),
        )

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    completed = False
    last_beat = 0.0
    try:
        for name in ("SIGHUP", "SIGTERM"):
            sig = getattr(signal, name, None)
            if sig is not None:
                try:
                    previous[sig] = signal.signal(sig, stop)
                except ValueError:  # not the main thread
                    pass
        beat(start)  # the state file also tells a watcher the sprint is running
        while True:
            elapsed = (clock() - start).total_seconds() * scale
            on_tick(min(elapsed, total), total)
            if elapsed >= total:
                completed = True
                break
            if elapsed - last_beat >= heartbeat_every * scale:
                beat(clock())
                last_beat = elapsed
            sleep(min(1.0, (total - elapsed) / scale))
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    elapsed = min((clock() - start).total_seconds() * scale, total)
    end = start + dt.timedelta(seconds=elapsed)
    return SprintRun(start, end, minutes, task, completed, state)


def finish_sprint(
    ws, run: SprintRun, note: str | None = None
) -> tuple[Session | None, str | None]:
    """Record a finished or stopped sprint (nothing under a minute) and commit the log."""
    session = None
    warning = None
    try:
        if run.minutes >= MIN_RECORDED:
            session = Session(
                _new_id(),
                "sprint",
                run.start.isoformat(),
                run.end.replace(microsecond=0).isoformat(),
                run.minutes,
                run.task,
                note or None,
                run.planned,
                not run.completed,
            )
            warning = _append(
                ws,
                _record(session),
                f"sprint: {run.minutes:g} min on {run.task or 'the plan'}",
            )
    finally:
        if run.state_file is not None:
            run.state_file.unlink(missing_ok=True)
    return session, warning


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(ws) -> list[Session]:
    """Record sprints whose process died without recording them, up to their last heartbeat."""
    folder = _state_dir(ws)
    if not folder.is_dir():
        return []
    found = []
    for f in sorted(folder.glob("*.json")):
        try:
            st = json.loads(f.read_text(encoding="utf-8"))
            pid = int(st["pid"])
            if _alive(pid) and pid != os.getpid():
                continue
            start = dt.datetime.fromisoformat(st["start"])
            beat = dt.datetime.fromisoformat(st["heartbeat"])
            scale = float(st.get("scale", 1.0))
        except (ValueError, KeyError, TypeError, OSError):
            f.unlink(missing_ok=True)
            continue
        elapsed = min((beat - start).total_seconds() * scale, st.get("planned", 0) * 60)
        run = SprintRun(
            start,
            start + dt.timedelta(seconds=elapsed),
            int(st.get("planned") or 0),
            st.get("task"),
            False,
            f,
        )
        session, _ = finish_sprint(
            ws, run, "recorded after the sprint's process stopped"
        )
        if session:
            found.append(session)
    return found


# --- summaries -------------------------------------------------------------------------------


def minutes_by_day(log: TimeLog) -> dict[dt.date, float]:
    """Minutes per local day, by the day each session ended (when the work was done)."""
    days: dict[dt.date, float] = {}
    for s in log.sessions:
        d = _aware(dt.datetime.fromisoformat(s.end)).astimezone().date()
        days[d] = days.get(d, 0.0) + s.minutes
    return days


def in_range(
    log: TimeLog, since: dt.datetime | None, until: dt.datetime | None
) -> list[Session]:
    return [
        s
        for s in log.sessions
        if (since is None or s.started >= since)
        and (until is None or s.started <= until)
    ]
