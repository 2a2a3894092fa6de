"""Pace: plan calendar, hours against the target, weekly and daily streaks, why this task."""

import datetime as dt
import json

from labpath import curriculum, pace
from labpath.progress import derive
from labpath.timelog import Session, TimeLog

D = dt.date
START = D(2026, 11, 2)  # a Monday
CUR = curriculum.load()


def days(**kw):
    return {D.fromisoformat(k.replace("_", "-")[1:]): v for k, v in kw.items()}


def sessions(*pairs):
    out = []
    for i, (day, minutes) in enumerate(pairs):
        start = f"{day}T07:00:00+00:00"
        out.append(Session(str(i), "sprint", start, start, minutes))
    return TimeLog(tuple(out))


def test_plan_week_counts_from_the_start_date():
    assert pace.plan_week(START, START) == 1
    assert pace.plan_week(START, D(2026, 11, 8)) == 1
    assert pace.plan_week(START, D(2026, 11, 9)) == 2
    assert pace.plan_week(START, D(2026, 10, 1)) == 1


def test_daily_streak_today_does_not_break_until_it_is_over():
    d = {D(2026, 11, 20): 30, D(2026, 11, 21): 30, D(2026, 11, 22): 30}
    assert pace.daily_streak(d, set(), D(2026, 11, 23), START) == 3
    d[D(2026, 11, 23)] = 30
    assert pace.daily_streak(d, set(), D(2026, 11, 23), START) == 4


def test_a_short_day_breaks_the_daily_streak_and_a_skip_day_freezes_it():
    d = {D(2026, 11, 20): 30, D(2026, 11, 21): 10, D(2026, 11, 22): 30}
    assert pace.daily_streak(d, set(), D(2026, 11, 22), START) == 1
    assert pace.daily_streak(d, {D(2026, 11, 21)}, D(2026, 11, 22), START) == 2


def test_adding_a_sprint_never_lowers_a_streak():
    import random

    rng = random.Random(7)
    for _ in range(200):
        d = {
            START + dt.timedelta(days=i): rng.choice([0, 10, 30, 60]) for i in range(30)
        }
        skips = {START + dt.timedelta(days=i) for i in range(30) if rng.random() < 0.1}
        today = START + dt.timedelta(days=29)
        before = (
            pace.daily_streak(d, skips, today, START),
            pace.weekly_streak(d, skips, 5, today, START),
        )
        day = START + dt.timedelta(days=rng.randrange(30))
        d[day] = d.get(day, 0) + 30
        after = (
            pace.daily_streak(d, skips, today, START),
            pace.weekly_streak(d, skips, 5, today, START),
        )
        assert after[0] >= before[0] and after[1] >= before[1]


def test_weekly_streak_counts_weeks_meeting_the_minimum():
    d = {
        D(2026, 11, 3): 300,
        D(2026, 11, 10): 200,
        D(2026, 11, 17): 320,
        D(2026, 11, 24): 310,
    }
    today = D(2026, 11, 25)
    assert pace.weekly_streak(d, set(), 5, today, START) == 2
    d[D(2026, 11, 10)] = 300
    assert pace.weekly_streak(d, set(), 5, today, START) == 4


def test_the_running_week_does_not_break_the_weekly_streak():
    d = {D(2026, 11, 17): 320}
    assert pace.weekly_streak(d, set(), 5, D(2026, 11, 24), START) == 1


def test_skip_days_lower_the_week_target_pro_rata():
    week = {D(2026, 11, 16) + dt.timedelta(days=i) for i in range(4)}  # 4 of 7 days off
    d = {D(2026, 11, 20): 130}  # 3/7 of 300 minutes is about 129
    assert pace.weekly_streak(d, week, 5, D(2026, 11, 22), START) == 1


def test_pace_behind_schedule_with_hours_left_and_reasons():
    states = derive(
        [
            {"event": "start", "task": "micrograd", "at": "2026-11-02T07:00:00+00:00"},
            {
                "event": "check",
                "task": "micrograd",
                "status": "failed",
                "passed": 3,
                "total": 10,
                "at": "2026-11-05T07:00:00+00:00",
            },
        ]
    )
    log = sessions(("2026-11-23", 30), ("2026-11-24", 40), ("2026-11-25", 200))
    p = pace.compute(
        CUR, states, log, "2026-11-02", (5, 10), D(2026, 11, 25), CUR.tasks[0]
    )
    assert p.plan_week == 4 and p.current_week == 1 and p.weeks_ahead == -3
    assert p.schedule == "behind" and p.hours_behind > 0
    assert p.week_minutes == 270 and p.week_state == "below"
    assert p.daily_streak == 3 and p.sprint_days_this_week == 3 and p.today_counts
    assert any("first task of the plan" in w for w in p.why)
    assert any("last check failed 3/10" in w for w in p.why)


def test_status_shows_pace_and_why(cli, ws):
    assert cli("init", ws).exit_code == 0
    assert cli("time", "add", "5h").exit_code == 0
    r = cli("status")
    assert r.exit_code == 0, r.output
    assert "Plan week 1" in r.stdout and "target met" in r.stdout
    assert "because it is the first task of the plan" in r.stdout
    r = cli("status", "--json")
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)["pace"]
    assert (
        p["week_minutes"] == 300
        and p["weekly_streak"] == 1
        and p["schedule"] == "on track"
    )
