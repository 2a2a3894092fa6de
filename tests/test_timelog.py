"""Time: durations, the sprint timer (fake clock), added time, skip days, the log file."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from labpath import dates, timelog, workspace
from labpath.errors import UsageError

from .conftest import ROOT, commits, flat

TZ = dt.timezone.utc


@pytest.mark.parametrize(
    "text,minutes",
    [
        ("45m", 45),
        ("45", 45),
        ("1h30m", 90),
        ("1.5h", 90),
        ("1:30", 90),
        ("2h", 120),
        ("25 min", 25),
        ("1 hour", 60),
    ],
)
def test_durations(text, minutes):
    assert dates.parse_duration(text) == minutes


@pytest.mark.parametrize(
    "text,message",
    [("abc", "cannot read"), ("0m", "is zero"), ("13h", "more than 12 hours")],
)
def test_bad_durations(text, message):
    with pytest.raises(UsageError, match=message):
        dates.parse_duration(text)


class FakeClock:
    def __init__(self, start, stop_after=None):
        self.t = start
        self.stop_after = stop_after
        self.slept = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += dt.timedelta(seconds=seconds)
        self.slept += seconds
        if self.stop_after is not None and self.slept >= self.stop_after:
            raise KeyboardInterrupt


@pytest.fixture()
def ws_obj(cli, ws):
    assert cli("init", ws).exit_code == 0
    return workspace.open_workspace(str(ws))


def test_a_full_sprint_records_its_planned_minutes(ws_obj):
    clock = FakeClock(dt.datetime(2026, 11, 25, 7, 0, tzinfo=TZ))
    ticks = []
    run = timelog.run_sprint(
        ws_obj,
        30,
        "micrograd",
        lambda e, t: ticks.append(e),
        clock=clock,
        sleep=clock.sleep,
    )
    assert run.completed and run.minutes == 30 and ticks[-1] == 1800
    session, _ = timelog.finish_sprint(ws_obj, run, "topo sort done")
    log = timelog.read(timelog.time_file(ws_obj))
    assert log.sessions == (session,) and session.note == "topo sort done"
    assert commits(ws_obj.root)[0] == "sprint: 30 min on micrograd"
    assert not list((ws_obj.state_dir / "tmp" / "sprints").glob("*.json"))


def test_ctrl_c_records_the_minutes_actually_spent(ws_obj):
    clock = FakeClock(dt.datetime(2026, 11, 25, 7, 0, tzinfo=TZ), stop_after=12 * 60)
    run = timelog.run_sprint(
        ws_obj, 30, None, lambda e, t: None, clock=clock, sleep=clock.sleep
    )
    assert not run.completed and run.minutes == 12
    session, _ = timelog.finish_sprint(ws_obj, run)
    assert session.interrupted and session.minutes == 12


def test_a_sprint_stopped_in_its_first_minute_records_nothing(ws_obj):
    clock = FakeClock(dt.datetime(2026, 11, 25, 7, 0, tzinfo=TZ), stop_after=20)
    run = timelog.run_sprint(
        ws_obj, 30, None, lambda e, t: None, clock=clock, sleep=clock.sleep
    )
    session, _ = timelog.finish_sprint(ws_obj, run)
    assert session is None and not timelog.time_file(ws_obj).exists()


def test_sprint_length_is_checked(ws_obj):
    with pytest.raises(UsageError, match="1 to 720 minutes"):
        timelog.run_sprint(ws_obj, 0, None, lambda e, t: None)


@pytest.mark.parametrize(
    "sig", [signal.SIGHUP, signal.SIGINT], ids=["closed terminal", "ctrl-c"]
)
def test_stopping_a_running_sprint_process_records_it(ws_obj, sig):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LABPATH_TEST_MINUTE": "0.5",
        "LABPATH_HOME": str(ws_obj.root),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "labpath", "sprint", "30", "--no-prompt"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    state = ws_obj.state_dir / "tmp" / "sprints" / f"{proc.pid}.json"
    deadline = time.monotonic() + 120
    while not state.exists():  # the sprint writes it once its signal handlers are set
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(1.5)  # about three sprint minutes at this scale, counted from its start
    proc.send_signal(sig)
    out, errs = proc.communicate(timeout=30)
    assert proc.returncode == 0, errs.decode()
    (s,) = timelog.read(timelog.time_file(ws_obj)).sessions
    assert s.interrupted and 1 <= s.minutes < 30


def test_a_killed_sprint_is_recorded_up_to_its_last_heartbeat(ws_obj):
    folder = ws_obj.state_dir / "tmp" / "sprints"
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / f"{dead.pid}.json").write_text(
        json.dumps(
            {
                "pid": dead.pid,
                "start": "2026-11-25T07:00:00+00:00",
                "heartbeat": "2026-11-25T07:20:00+00:00",
                "planned": 30,
                "task": "mlp",
                "scale": 1.0,
            }
        )
    )
    (s,) = timelog.recover(ws_obj)
    assert s.minutes == 20 and s.task == "mlp" and s.interrupted
    assert not list(folder.glob("*.json"))


def test_union_merged_duplicates_count_once_and_a_bad_line_is_named(tmp_path):
    path = tmp_path / "time.jsonl"
    line = json.dumps(
        {
            "id": "A",
            "kind": "manual",
            "start": "2026-11-25T07:00:00+00:00",
            "end": "2026-11-25T07:45:00+00:00",
            "minutes": 45,
        }
    )
    path.write_text(line + "\n" + line + "\n")
    assert len(timelog.read(path).sessions) == 1
    path.write_text(line + '\n{"kind": "manual", "minutes": \n')
    with pytest.raises(UsageError) as exc:
        timelog.read(path)
    assert f"{path}:2:" in exc.value.message and "labpath repair" in exc.value.hint


def test_time_add_log_and_skip_through_the_cli(cli, ws):
    assert cli("init", ws).exit_code == 0
    r = cli("time", "add", "45m", "--task", "mlp", "--note", "lecture 2")
    assert r.exit_code == 0, r.output
    assert "45 min on mlp" in r.stdout
    r = cli("time", "add", "1h", "--on", "yesterday")
    assert r.exit_code == 0, r.output
    r = cli("time", "log", "--since", "last week", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["minutes"] == 105 and data["sessions"][-1]["note"] == "lecture 2"
    r = cli("time", "skip", "2026-12-24", "--reason", "holiday")
    assert r.exit_code == 0, r.output
    assert commits(ws)[0] == "time: skip 2026-12-24"


@pytest.mark.parametrize(
    "args,message",
    [
        (["time", "add", "forty"], "cannot read the duration"),
        (["time", "add", "45m", "--task", "micrograt"], "did you mean 'micrograd'"),
        (["time", "add", "45m", "--on", "2999-01-01"], "in the future"),
        (["time", "skip", "someday"], "cannot read the date"),
        (["time", "log", "--since", "today", "--until", "yesterday"], "is after"),
        (["sprint", "0"], "1 to 720 minutes"),
    ],
)
def test_time_errors_exit_2_with_a_hint(cli, ws, args, message):
    assert cli("init", ws).exit_code == 0
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_a_corrupt_time_log_refuses_new_records(cli, ws):
    assert cli("init", ws).exit_code == 0
    (ws / ".labpath" / "time.jsonl").write_text("not json\n")
    r = cli("time", "add", "10m")
    assert r.exit_code == 2, r.output
    assert "time.jsonl:1:" in r.stderr and "corrupt time entry" in r.stderr
    assert (ws / ".labpath" / "time.jsonl").read_text() == "not json\n"


@pytest.mark.parametrize("offset", range(7))
def test_every_command_reads_a_weekday_by_one_rule(offset):
    # a Monday, then each day of that week
    monday = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
    now = monday + dt.timedelta(days=offset)
    for name in dates.WEEKDAYS:
        day = dates.parse_day(name, now)
        assert day == dates.parse_end(name, now).date()
        assert day == dates.period(name, None, now)[0].date()
        assert 0 <= (now.date() - day).days < 7 and day.strftime("%A").lower() == name
        assert (
            dates.parse_day(f"last {name}", now) < now.date() <= day + dt.timedelta(7)
        )
        ahead = dates.parse_day(f"next {name}", now)
        assert 0 < (ahead - now.date()).days <= 7


def test_time_skip_and_time_add_agree_on_a_weekday_and_help_says_the_rule(cli, ws):
    assert cli("init", ws).exit_code == 0
    skipped = cli("time", "skip", "monday", "--json")
    added = cli("time", "add", "10m", "--on", "monday", "--json")
    assert skipped.exit_code == 0 and added.exit_code == 0, (
        skipped.output + added.output
    )
    assert json.loads(skipped.stdout)["date"] == json.loads(added.stdout)["end"][:10]
    r = cli("time", "skip", "next monday", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["date"] > dt.date.today().isoformat()
    for args in (["time", "skip"], ["time", "add"], ["journal", "list"], ["report"]):
        assert "the most recent one, today included" in flat(
            cli(*args, "--help").stdout
        )


def test_a_period_fills_in_defaults_and_refuses_a_start_after_its_end():
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
    month = now - dt.timedelta(days=30)
    assert dates.period(None, None, now, month, now) == (month, now)
    start, end = dates.period("2026-11-02", "2026-11-02", now)
    assert (start.hour, end.hour, end.minute) == (0, 23, 59)
    with pytest.raises(
        UsageError, match=r"after --until 2026-11-01: nothing can match"
    ):
        dates.period("today", "2026-11-01", now, why=": nothing can match")
