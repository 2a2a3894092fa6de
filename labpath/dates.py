"""Dates people type, read by one rule for every command that takes a day."""

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
