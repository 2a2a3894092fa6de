"""The learner's pace: where they are on the plan's calendar, weekly hours, streaks, why this task.

Pure functions over the curriculum, progress and time log; `today` is always passed in.
"""

from __future__ import annotations

import datetime as dt

from labpath.curriculum import Curriculum, Task
from labpath.progress import DONE, STARTED, TaskState, state_of
from labpath.structs import struct
from labpath.timelog import SPRINT_DAY_MINUTES, TimeLog, minutes_by_day


@struct
class Pace:
    today: str
    start_date: str
    plan_week: int  # the plan's calendar week today (week 1 starts on start_date)
    current_week: int | None  # the curriculum week of the current task
    weeks_ahead: int  # current_week - plan_week: negative means behind
    hours_behind: float  # planned hours of earlier weeks' tasks not done yet
    week_minutes: float  # logged this ISO week (Monday to Sunday)
    target_hours: tuple[float, float]
    week_state: str  # below | met | stretch
    weekly_streak: int  # consecutive weeks meeting the target
    daily_streak: int  # consecutive sprint days; skip days freeze it
    sprint_days_this_week: int
    today_counts: bool  # today already is a sprint day
    # (Monday, minutes) for the last 8 weeks
    recent_weeks: tuple[tuple[str, float], ...]
    why: tuple[str, ...]  # why `labpath next` picks the current task

    @property
    def schedule(self) -> str:
        if self.current_week is None:
            return "done"
        if self.weeks_ahead > 0:
            return "ahead"
        if self.weeks_ahead < 0 or self.hours_behind > 0:
            return "behind"
        return "on track"


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def plan_week(start: dt.date, today: dt.date) -> int:
    """Week 1 is the seven days from the start date; days before it are week 1 too."""
    return max(0, (today - start).days) // 7 + 1


def hours_behind(
    curriculum: Curriculum, states: dict[str, TaskState], week: int
) -> float:
    """Planned hours of tasks scheduled before `week` that are not done."""
    return sum(
        t.hours
        for t in curriculum.tasks
        if t.week < week and state_of(states, t).status != DONE
    )


def week_minutes(days: dict[dt.date, float], week_start: dt.date) -> float:
    return sum(days.get(week_start + dt.timedelta(days=i), 0.0) for i in range(7))


def weekly_streak(
    days: dict[dt.date, float],
    skips: set[dt.date],
    target_min_hours: float,
    today: dt.date,
    start: dt.date,
) -> int:
    """Consecutive ISO weeks meeting the weekly minimum, ending with the current week.

    The current week counts once met and never breaks the streak while it is running.
    Skip days lower a week's target pro rata; a week of seven skip days is frozen.
    """
    streak = 0
    week = monday(today)
    first = monday(start)
    current = True
    while week >= first:
        skipped = sum(1 for i in range(7) if week + dt.timedelta(days=i) in skips)
        need = target_min_hours * 60 * (7 - skipped) / 7
        got = week_minutes(days, week)
        if skipped == 7:
            pass  # frozen: neither counts nor breaks
        elif got >= need - 1e-9:
            streak += 1
        elif not current:
            break
        current = False
        week -= dt.timedelta(days=7)
    return streak


def daily_streak(
    days: dict[dt.date, float],
    skips: set[dt.date],
    today: dt.date,
    start: dt.date,
    threshold: float = SPRINT_DAY_MINUTES,
) -> int:
    """Consecutive sprint days (at least `threshold` minutes) up to today.

    Today does not break the streak until it is over; a skip day freezes it (it neither
    counts nor breaks), so a planned rest day keeps a streak alive.
    """
    streak = 0
    day = today
    if days.get(today, 0.0) < threshold:
        day = today - dt.timedelta(days=1)  # today is not over yet
    first = min([start, *days.keys()]) if days else start
    while day >= first:
        if days.get(day, 0.0) >= threshold:
            streak += 1
        elif day not in skips:
            break
        day -= dt.timedelta(days=1)
    return streak


def why_current(
    curriculum: Curriculum, states: dict[str, TaskState], task: Task | None
) -> tuple[str, ...]:
    """The reasons `labpath next` picks this task, in the words the status shows."""
    if task is None:
        return ("every task of the plan is done",)
    reasons = []
    tasks = curriculum.tasks
    before = tasks[: tasks.index(task)]
    if before:
        reasons.append(
            f"it is the first task not done in plan order; the {len(before)} "
            f"before it are done"
        )
    else:
        reasons.append("it is the first task of the plan")
    st = state_of(states, task)
    if st.status == STARTED and st.started_at:
        reasons.append(f"you started it on {st.started_at[:10]}")
    if st.last_check:
        c = st.last_check
        reasons.append(
            f"its last check {c.get('status')} {c.get('passed')}/{c.get('total')} "
            f"on {str(c.get('at', ''))[:10]}"
        )
    for req in task.requires:
        rs = states.get(req)
        reasons.append(f"it builds on {req} ({rs.status if rs else 'pending'})")
    if not task.lab:
        reasons.append(
            f"it has no automated checks: finish it with `labpath done {task.id}`"
        )
    return tuple(reasons)


def compute(
    curriculum: Curriculum,
    states: dict[str, TaskState],
    log: TimeLog,
    start_date: str,
    target_hours: tuple[float, float],
    today: dt.date,
    current: Task | None,
) -> Pace:
    """Everything `labpath status` says about pace, from data alone."""
    start = dt.date.fromisoformat(start_date)
    days = minutes_by_day(log)
    skips = log.skip_days()
    week = plan_week(start, today)
    this_monday = monday(today)
    minutes = week_minutes(days, this_monday)
    low, high = target_hours
    state = (
        "stretch" if minutes >= high * 60 else "met" if minutes >= low * 60 else "below"
    )
    recent = tuple(
        (
            (this_monday - dt.timedelta(days=7 * i)).isoformat(),
            week_minutes(days, this_monday - dt.timedelta(days=7 * i)),
        )
        for i in reversed(range(8))
    )
    sprint_days = sum(
        1
        for i in range(7)
        if days.get(this_monday + dt.timedelta(days=i), 0.0) >= SPRINT_DAY_MINUTES
    )
    return Pace(
        today=today.isoformat(),
        start_date=start.isoformat(),
        plan_week=week,
        current_week=current.week if current else None,
        weeks_ahead=(current.week - week) if current else 0,
        hours_behind=hours_behind(curriculum, states, week),
        week_minutes=minutes,
        target_hours=(low, high),
        week_state=state,
        weekly_streak=weekly_streak(days, skips, low, today, start),
        daily_streak=daily_streak(days, skips, today, start),
        sprint_days_this_week=sprint_days,
        today_counts=days.get(today, 0.0) >= SPRINT_DAY_MINUTES,
        recent_weeks=recent,
        why=why_current(curriculum, states, current),
    )
