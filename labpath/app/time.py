"""Use cases of time spent: sprint, time add, time log, time skip."""

from __future__ import annotations

from dataclasses import dataclass

from labpath import dates, timelog
from labpath.app.context import Context, open_workspace
from labpath.app.results import Notice, info, plain, warnings


def _recovered(ws) -> tuple[Notice, ...]:
    """Record sprints an earlier, killed process left unrecorded; say so."""
    return info(
        *(
            f"Recorded an earlier sprint that was cut off: {s.minutes:g} min"
            for s in timelog.recover(ws)
        )
    )


def _task_or_current(ctx: Context, task: str | None) -> str | None:
    if task:
        return ctx.curriculum.task(task).id  # unknown ids fail with a did-you-mean
    return ctx.current.id if ctx.current else None


@dataclass(frozen=True)
class SprintResult:
    run: timelog.SprintRun
    session: timelog.Session | None  # None: stopped within the first minute
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain(
            {
                "session": self.session,
                "minutes": self.run.minutes,
                "completed": self.run.completed,
            }
        )


def sprint(
    ctx: Context, minutes: int, task: str | None, timer, ask_note=None, notify=None
) -> SprintResult:
    """Run the timer, then record the minutes spent (with a note, if one is given).

    timer(minutes, task) is a context manager yielding tick(elapsed, total);
    ask_note() returns the note or None; notify(notices) shows notices at once.
    """
    recovered = _recovered(ctx.workspace)
    if notify is not None:
        notify(recovered)
        recovered = ()
    task_id = _task_or_current(ctx, task)
    with timer(minutes, task_id) as tick:
        run = timelog.run_sprint(ctx.workspace, minutes, task_id, tick)
    note = ask_note() if ask_note is not None else None
    session, warning = timelog.finish_sprint(ctx.workspace, run, note)
    return SprintResult(run, session, recovered + warnings(warning))


@dataclass(frozen=True)
class Added:
    session: timelog.Session
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain(self.session)


def add(
    ctx: Context,
    duration: str,
    task: str | None,
    note: str | None,
    on: str | None,
    notify=None,
) -> Added:
    """Record time spent away from the keyboard."""
    minutes = dates.parse_duration(duration)
    recovered = _recovered(ctx.workspace)
    if notify is not None:
        notify(recovered)
        recovered = ()
    end = dates.parse_end(on) if on else None
    session, warning = timelog.add(
        ctx.workspace, minutes, _task_or_current(ctx, task), note, end
    )
    return Added(session, recovered + warnings(warning))


@dataclass(frozen=True)
class TimeList:
    sessions: tuple[timelog.Session, ...]
    start: object  # dt.datetime | None
    end: object  # dt.datetime | None
    notices: tuple[Notice, ...] = ()

    @property
    def minutes(self) -> float:
        return sum(s.minutes for s in self.sessions)

    def to_json(self) -> dict:
        return plain(
            {
                "since": self.start and self.start.isoformat(),
                "until": self.end and self.end.isoformat(),
                "minutes": self.minutes,
                "sessions": self.sessions,
            }
        )


def time_log(ws_path: str | None, since: str | None, until: str | None) -> TimeList:
    """The sprints and added time of a period (default: this week)."""
    ws = open_workspace(ws_path)
    start, end = dates.period(since or "this week", until)
    recovered = _recovered(ws)
    sessions = timelog.in_range(timelog.read(timelog.time_file(ws)), start, end)
    return TimeList(tuple(sessions), start, end, recovered)


@dataclass(frozen=True)
class Skipped:
    skip: timelog.Skip
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain(self.skip)


def skip(ws_path: str | None, day: str, reason: str | None) -> Skipped:
    """Mark a rest day."""
    ws = open_workspace(ws_path)
    found, warning = timelog.add_skip(ws, dates.parse_day(day), reason)
    return Skipped(found, warnings(warning))
