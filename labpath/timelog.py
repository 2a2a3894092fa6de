"""Time spent: sprints with a live timer, time added afterwards and skip days, in one log."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from labpath.dates import parse_when
from labpath.errors import UsageError
from labpath.fsutil import append_line, atomic_write, locked

MAX_MINUTES = 12 * 60  # one session longer than this is a typo, not a sprint
MIN_RECORDED = 1.0  # a sprint stopped within its first minute is not worth a record
SPRINT_DAY_MINUTES = 25  # a day with at least this much counts for the daily streak


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Skip:
    id: str
    date: str  # YYYY-MM-DD: a day that neither counts nor breaks the daily streak
    reason: str | None = None


@dataclass(frozen=True)
class TimeLog:
    sessions: tuple[Session, ...] = ()
    skips: tuple[Skip, ...] = ()

    def skip_days(self) -> set[dt.date]:
        return {dt.date.fromisoformat(s.date) for s in self.skips}


def time_file(ws) -> Path:
    return ws.state_dir / "time.jsonl"


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.astimezone()


def now() -> dt.datetime:
    return dt.datetime.now().astimezone()


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


# --- durations and dates people type --------------------------------------------------------


def parse_duration(text: str) -> float:
    """Minutes from 45m, 1h30m, 1.5h, 1:30 or a bare number of minutes."""
    raw = text
    text = text.strip().lower().replace(" ", "")
    minutes = None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        minutes = float(text)
    elif m := re.fullmatch(r"(\d+):([0-5]\d)", text):
        minutes = int(m[1]) * 60 + int(m[2])
    elif m := re.fullmatch(
        r"(?:(\d+(?:\.\d+)?)h(?:ours?|rs?)?)?(?:(\d+(?:\.\d+)?)m(?:in(?:utes?|s)?)?)?",
        text,
    ):
        if m[1] or m[2]:
            minutes = float(m[1] or 0) * 60 + float(m[2] or 0)
    if minutes is None:
        raise UsageError(
            f"cannot read the duration '{raw}'",
            hint="write it like 45m, 1h30m, 1.5h or 1:30, e.g. labpath time add 45m",
        )
    if minutes <= 0:
        raise UsageError(f"the duration '{raw}' is zero", hint="labpath time add 45m")
    if minutes > MAX_MINUTES:
        raise UsageError(
            f"{raw} is more than {MAX_MINUTES // 60} hours in one session",
            hint="split it over the days it happened: labpath time add 2h --on yesterday",
        )
    return round(minutes, 1)


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


def add(ws, minutes: float, task: str | None, note: str | None = None,
        end: dt.datetime | None = None) -> tuple[Session, str | None]:  # fmt: skip
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


@dataclass(frozen=True)
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


def run_sprint(ws, minutes: int, task: str | None, on_tick, clock=now, sleep=time.sleep,
               heartbeat_every: float = 10.0) -> SprintRun:  # fmt: skip
    """Run the timer until the planned minutes pass or the learner stops it.

    Ctrl-C, a closed terminal (SIGHUP) and SIGTERM all end the sprint early; the minutes
    actually spent are returned for recording. A state file with a heartbeat lets a later
    command record a sprint whose process was killed outright.
    """
    import signal

    if not 1 <= minutes <= MAX_MINUTES:
        raise UsageError(f"a sprint lasts 1 to {MAX_MINUTES} minutes, not {minutes}",
                         hint="labpath sprint 30")  # fmt: skip
    scale = 60.0 / _minute_seconds()
    start = clock().replace(microsecond=0)
    total = minutes * 60.0
    state = _state_dir(ws) / f"{os.getpid()}.json"

    def beat(at: dt.datetime) -> None:
        atomic_write(state, json.dumps({
            "pid": os.getpid(), "start": start.isoformat(), "heartbeat": at.isoformat(),
            "planned": minutes, "task": task, "scale": scale,
        }))  # fmt: skip

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
                _new_id(), "sprint", run.start.isoformat(), run.end.replace(microsecond=0).isoformat(),
                run.minutes, run.task, note or None, run.planned, not run.completed,
            )  # fmt: skip
            warning = _append(ws, _record(session), f"sprint: {run.minutes:g} min on "
                              f"{run.task or 'the plan'}")  # fmt: skip
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
        run = SprintRun(start, start + dt.timedelta(seconds=elapsed), int(st.get("planned") or 0),
                        st.get("task"), False, f)  # fmt: skip
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
        s for s in log.sessions
        if (since is None or s.started >= since) and (until is None or s.started <= until)
    ]  # fmt: skip


def parse_end(text: str, current: dt.datetime | None = None) -> dt.datetime:
    """When added time ended: a date means the evening of that day, a time is taken as is."""
    current = current or now()
    when = parse_when(text, current)
    if (
        when.time() == dt.time(0, 0)
        and ":" not in text
        and when.date() <= current.date()
    ):
        when = when.replace(hour=21) if when.date() < current.date() else current
    if when > current + dt.timedelta(minutes=1):
        raise UsageError(
            f"--on {text} is in the future", hint="labpath time add 45m --on yesterday"
        )
    return when.replace(microsecond=0)


def parse_day(text: str, current: dt.datetime | None = None) -> dt.date:
    """The day a person names, by the one rule every command uses (dates.WEEKDAY_RULE)."""
    return parse_when(text, current or now()).date()


def period(since: str | None, until: str | None, current: dt.datetime | None = None):
    """(start, end) datetimes from --since/--until strings."""
    current = current or now()
    start = parse_when(since, current) if since else None
    end = parse_when(until, current, end=True) if until else None
    if start and end and start > end:
        raise UsageError(f"--since {since} is after --until {until}")
    return start, end
