"""The learner's record survives: concurrent writers, a process killed mid-write, corrupt logs."""

import json
import os
import signal
import subprocess
import sys
import time

from labpath import journal, recovery

from .conftest import ROOT, commits, git


def _env(ws, **extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), "LABPATH_HOME": str(ws), **extra}


def test_twenty_concurrent_logs_make_twenty_entries_and_twenty_commits(cli, ws):
    assert cli("init", ws).exit_code == 0
    before = len(commits(ws))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "labpath",
                "log",
                f"Concurrent insight {i}",
                "--tag",
                "load",
            ],
            env=_env(ws),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(20)
    ]
    for p in procs:
        _, errs = p.communicate(timeout=180)
        assert p.returncode == 0, errs.decode()
    files = journal.entry_files(ws / "journal")
    assert len(files) == 20
    titles = {journal.read_entry(f).title for f in files}
    assert titles == {f"Concurrent insight {i}" for i in range(20)}
    assert len(commits(ws)) - before == 20
    assert git(ws, "status", "--porcelain", "--", "journal") == ""


def _killed_mid_write(ws, tmp_path, point, args):
    marker = tmp_path / f"paused-{point}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "labpath", *args],
        env=_env(ws, LABPATH_TEST_PAUSE=point, LABPATH_TEST_PAUSE_MARKER=str(marker)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.time() < deadline, "the writer never reached its pause point"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_log_killed_mid_write_leaves_the_journal_as_it_was(cli, ws, tmp_path):
    assert cli("init", ws).exit_code == 0
    assert cli("log", "The first entry").exit_code == 0
    before = {p: p.read_bytes() for p in journal.entry_files(ws / "journal")}
    head = git(ws, "rev-parse", "HEAD")
    _killed_mid_write(ws, tmp_path, "journal.write", ["log", "Never finished"])
    after = {p: p.read_bytes() for p in journal.entry_files(ws / "journal")}
    assert after == before and git(ws, "rev-parse", "HEAD") == head
    # the half-done write, never an entry
    (left,) = (ws / "journal").rglob(".entry-*.tmp")
    os.utime(left, (time.time() - 3600, time.time() - 3600))
    r = cli("log", "The next entry")
    assert r.exit_code == 0, r.output
    assert len(journal.entry_files(ws / "journal")) == 2
    assert not list((ws / "journal").rglob(".entry-*.tmp"))  # swept by the next write


def test_an_edit_killed_mid_write_keeps_the_old_entry(cli, ws, tmp_path):
    assert cli("init", ws).exit_code == 0
    assert cli("log", "Keep me whole").exit_code == 0
    (path,) = journal.entry_files(ws / "journal")
    before = path.read_bytes()
    script = tmp_path / "ed.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text() + '\\nmore\\n')\n"
    )
    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-m", "labpath", "journal", "edit", "last"],
        env=_env(
            ws,
            EDITOR=f"{sys.executable} {script}",
            LABPATH_TEST_PAUSE=f"atomic_write:{path.name}",
            LABPATH_TEST_PAUSE_MARKER=str(marker),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert path.read_bytes() == before
    assert journal.read_entry(path).title == "Keep me whole"


def test_a_corrupt_progress_line_is_reported_then_recovered_from_history(cli, ws):
    assert cli("init", ws).exit_code == 0
    prog = ws / ".labpath" / "progress.jsonl"
    assert cli("next").exit_code == 0  # records and commits a start event
    good = prog.read_text()
    git(ws, "commit", "--allow-empty", "-qm", "later work")
    prog.write_text(
        good.replace('"event": "start"', '"event": "start"}, oops', 1)
        + json.dumps(
            {"at": "2026-11-29T08:00:00+00:00", "event": "reopen", "task": "micrograd"}
        )
        + "\n"
    )
    r = cli("status")
    assert r.exit_code == 2, r.output
    assert "progress.jsonl:1:" in r.stderr and "labpath repair" in r.stderr
    r = cli("repair")
    assert r.exit_code == 0, r.output
    assert "dropped corrupt line(s) 1" in r.stdout and "restored 1" in r.stdout
    lines = prog.read_text().splitlines()
    assert lines[0] == good.strip() and json.loads(lines[1])["event"] == "reopen"
    kept = list((ws / ".labpath" / "recovered").glob("progress.jsonl.corrupt-*"))
    assert len(kept) == 1 and "oops" in kept[0].read_text()
    assert commits(ws)[0].startswith("repair: progress.jsonl")
    r = cli("status")
    assert r.exit_code == 0, r.output
    r = cli("repair")
    assert r.exit_code == 0 and "nothing to repair" in r.stdout


def test_repair_plan_keeps_new_lines_after_the_good_history():
    check = recovery.VALIDATORS["progress.jsonl"]
    a = json.dumps({"event": "start", "task": "a"})
    b = json.dumps({"event": "done", "task": "a"})
    c = json.dumps({"event": "start", "task": "b"})
    merged, bad, restored = recovery.plan([a, "garbage", c], [a, b], check)
    assert merged == [a, b, c] and bad == [(2, "garbage")] and restored == 1
