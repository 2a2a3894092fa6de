"""Dates and durations people type, read by one rule for every command that takes one."""

from __future__ import annotations

import datetime as dt
import re

from labpath.errors import UsageError

WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7}
MAX_MINUTES = 12 * 60  # one session longer than this is a typo, not a sprint
DATE_FORMS = (
    "2026-12-01, 2026-12-01T08:00, today, yesterday, tomorrow, monday, last monday, "
    "next monday, 3 days ago, 2 weeks ago, this week, last week, this month, last month"
)
# Shown in --help wherever a command takes a day, and in the README.
WEEKDAY_RULE = (
    'A bare weekday ("monday") is the most recent one, today included; '
    '"last monday" is the one before today, "next monday" the one after.'
)


def weekday(name: str, today: dt.date, which: str = "") -> dt.date:
    """The date a weekday word names, by WEEKDAY_RULE; `which` is '', 'last' or 'next'."""
    target = WEEKDAYS.index(name)
    if which == "next":
        return today + dt.timedelta(days=(target - today.weekday() - 1) % 7 + 1)
    back = (today.weekday() - target) % 7
    if back == 0 and which == "last":
        back = 7
    return today - dt.timedelta(days=back)


def parse_when(text: str, now: dt.datetime, end: bool = False) -> dt.datetime:
    """A point in time from what a person types; `end` gives the end of a named day.

    `now` is injected (aware, local) so tests fix the clock.
    """
    raw = text
    text = " ".join(text.strip().lower().split())
    today = now.date()
    day: dt.date | None = None
    m = re.fullmatch(r"(?:(last|next) )?(\w+)", text)
    ago = re.fullmatch(r"(\d{1,5}) ?(days?|weeks?) ago", text)
    if text == "now":
        return now
    if text == "today":
        day = today
    elif text == "yesterday":
        day = today - dt.timedelta(days=1)
    elif text == "tomorrow":
        day = today + dt.timedelta(days=1)
    elif text in ("this week", "week"):
        day = today - dt.timedelta(days=today.weekday())
    elif text == "last week":
        day = today - dt.timedelta(days=today.weekday() + 7)
    elif text in ("this month", "month"):
        day = today.replace(day=1)
    elif text == "last month":
        day = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    elif m and m[2] in WEEKDAYS:
        day = weekday(m[2], today, m[1] or "")
    elif ago:
        try:
            day = today - dt.timedelta(days=int(ago[1]) * _UNITS[ago[2]])
        except OverflowError:
            raise _unreadable(raw) from None
    else:
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                day = dt.date.fromisoformat(text)
            else:
                when = dt.datetime.fromisoformat(raw.strip())
                return when if when.tzinfo else when.replace(tzinfo=now.tzinfo)
        except ValueError:
            raise _unreadable(raw) from None
    if end:
        return dt.datetime.combine(day, dt.time(23, 59, 59, 999999), tzinfo=now.tzinfo)
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=now.tzinfo)


def _unreadable(raw: str) -> UsageError:
    return UsageError(
        f"cannot read the date {raw.strip()[:40]!r}", hint=f"use one of: {DATE_FORMS}"
    )


def now() -> dt.datetime:
    """The local time, aware: what every parser here takes as `now` unless given one."""
    return dt.datetime.now().astimezone()


def parse_day(text: str, current: dt.datetime | None = None) -> dt.date:
    """The day a person names, by the one rule every command uses (WEEKDAY_RULE)."""
    return parse_when(text, current or now()).date()


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


def period(
    since: str | None,
    until: str | None,
    current: dt.datetime | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    why: str = "",
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(start, end) from --since/--until strings; `start`/`end` stand in for one not given.

    A start after the end is refused; `why` is appended to that message.
    """
    current = current or now()
    if since:
        start = parse_when(since, current)
    if until:
        end = parse_when(until, current, end=True)
    if start and end and start > end:
        raise UsageError(f"--since {since} is after --until {until}{why}")
    return start, end


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
