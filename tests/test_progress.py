"""Progress events and the decisions drawn from them (pure functions, no I/O)."""

import pytest

from labpath import curriculum, progress
from labpath.errors import UsageError


def ev(event, task, **kw):
    return {"at": "2026-11-29T08:00:00+00:00", "event": event, "task": task, **kw}


def test_next_task_is_the_first_not_done_in_curriculum_order():
    cur = curriculum.load()
    assert progress.next_task(cur, {}).id == "micrograd"
    states = progress.derive([ev("start", "micrograd"), ev("done", "micrograd")])
    assert progress.next_task(cur, states).id == "mlp"
    # finishing a later task first does not skip the earlier one
    states = progress.derive([ev("done", "bigram")])
    assert progress.next_task(cur, states).id == "micrograd"


def test_derive_tracks_started_checks_and_done():
    states = progress.derive(
        [
            ev("start", "micrograd"),
            ev("check", "micrograd", status="failed", passed=3, total=20),
            ev("check", "micrograd", status="passed", passed=20, total=20),
            ev("done", "micrograd"),
            ev("done", "micrograd"),
        ]
    )
    s = states["micrograd"]
    assert s.status == "done" and s.checks == 2
    assert s.last_check["status"] == "passed"


def test_a_check_without_start_still_counts_as_started():
    states = progress.derive([ev("check", "mlp", status="failed")])
    assert states["mlp"].status == "started"


def test_corrupt_line_names_file_and_line(tmp_path):
    log = tmp_path / "progress.jsonl"
    log.write_text('{"event": "start", "task": "a", "at": "x"}\n[1, 2]\n')
    with pytest.raises(UsageError, match=r"progress.jsonl:2: corrupt"):
        progress.read_events(log)


def test_record_appends_one_line_each(tmp_path):
    log = tmp_path / "p.jsonl"
    progress.record(log, "start", "micrograd")
    progress.record(log, "done", "micrograd", via="manual")
    events = progress.read_events(log)
    assert [e["event"] for e in events] == ["start", "done"]
    assert events[1]["via"] == "manual" and events[0]["at"][-6] in "+-"


def test_a_cached_read_sees_every_later_append_and_corruption(tmp_path):
    log = tmp_path / "progress.jsonl"
    progress.record(log, "start", "w1")
    first = progress.read_events(log)
    first[0]["task"] = "changed by a caller"  # never reaches the next reader
    progress.record(log, "check", "w1", status="pass")
    assert [(e["event"], e["task"]) for e in progress.read_events(log)] == [
        ("start", "w1"),
        ("check", "w1"),
    ]
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    with pytest.raises(UsageError, match=r"progress.jsonl:3: corrupt"):
        progress.read_events(log)
