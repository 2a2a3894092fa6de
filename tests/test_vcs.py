"""What labpath commits, and what it does when git cannot commit: real git in tmp dirs."""

import errno
import json
import os
import stat
import subprocess
import threading
import time

import pytest

from labpath import fsutil, journal, progress, vcs
from labpath.errors import EnvironmentFailure

from .conftest import commits, flat, git


@pytest.fixture()
def started(cli, ws):
    assert cli("next").exit_code == 0
    return ws


@pytest.fixture()
def quick_lock(monkeypatch):
    monkeypatch.setattr(vcs, "LOCK_WAIT", 0.2)


def _status(root) -> str:
    return git(root, "status", "--porcelain")


# --- identity ---------------------------------------------------------------------


def test_identity_from_the_environment_is_used_without_a_warning(cli, ws, isolated):
    # no user.name anywhere in git config; GIT_AUTHOR_*/GIT_COMMITTER_* are set
    (isolated / "home" / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert "no user.name" not in result.stderr
    assert git(ws, "log", "-1", "--format=%an <%ae>").strip() == (
        "Learner <learner@example.com>"
    )
    found = {
        f["name"]: f for f in json.loads(cli("doctor", "--json").stdout)["findings"]
    }
    assert found["git identity"]["ok"], found["git identity"]
    assert found["git identity"]["detail"] == "Learner <learner@example.com>"


# --- index.lock, gpg ----------------------------------------------------------------


def test_a_held_index_lock_is_a_warning_naming_the_file_and_a_retry_adds_no_twin(
    cli, started, quick_lock
):
    lock = started / ".git" / "index.lock"
    lock.write_text("")
    result = cli("log", "An insight while an editor held git")
    assert result.exit_code == 0, result.output
    err = flat(result.stderr)
    assert "fatal: Unable to create" in err and str(lock) in err
    assert f"rm {lock}" in err
    assert len(journal.entry_files(started / "journal")) == 1
    lock.unlink()
    result = cli("log", "An insight while an editor held git")
    assert result.exit_code == 0, result.output
    assert "already saved" in flat(result.stderr)
    assert len(journal.entry_files(started / "journal")) == 1
    assert commits(started)[0].startswith('log: aha "An insight')
    assert _status(started) == ""


def test_a_lock_released_within_the_wait_is_waited_for(cli, started, monkeypatch):
    monkeypatch.setattr(vcs, "LOCK_WAIT", 10.0)
    lock = started / ".git" / "index.lock"
    lock.write_text("")
    threading.Timer(0.3, lock.unlink).start()
    result = cli("log", "Waited for the lock")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    assert commits(started)[0] == 'log: aha "Waited for the lock"'


def test_doctor_reports_an_old_index_lock(cli, started):
    lock = started / ".git" / "index.lock"
    lock.write_text("")
    found = {
        f["name"]: f for f in json.loads(cli("doctor", "--json").stdout)["findings"]
    }
    assert "git lock" not in found  # a fresh lock belongs to a running git
    old = time.time() - 3600
    os.utime(lock, (old, old))
    result = cli("doctor", "--json")
    assert result.exit_code == 1, result.output
    found = {f["name"]: f for f in json.loads(result.stdout)["findings"]}
    assert not found["git lock"]["ok"]
    assert str(lock) in found["git lock"]["detail"]
    assert found["git lock"]["fix"] == f"if no git program is running: rm {lock}"


def test_commit_signing_without_gpg_does_not_break_log(cli, started):
    git(started, "config", "commit.gpgsign", "true")
    git(started, "config", "gpg.program", str(started / "no-such-gpg"))
    result = cli("log", "Signed or not")
    assert result.exit_code == 0, result.output
    err = flat(result.stderr)
    assert "fatal:" in err and "gpg" in err and "commit.gpgsign false" in err
    assert len(journal.entry_files(started / "journal")) == 1
    git(started, "config", "commit.gpgsign", "false")
    result = cli("log", "Signed or not")
    assert result.exit_code == 0, result.output
    assert len(journal.entry_files(started / "journal")) == 1
    assert commits(started)[0] == 'log: aha "Signed or not"'


def test_fatal_line_is_quoted_whole():
    stderr = (
        "\n  stderr: 'fatal: Unable to create '/w/.git/index.lock': File exists.\n\n"
        "Another git process seems to be running in this repository.\n"
        "remove the file manually to continue.'"
    )
    assert vcs.fatal_line(stderr) == (
        "fatal: Unable to create '/w/.git/index.lock': File exists."
    )


# --- rebase, merge, detached HEAD ------------------------------------------------------


def _conflicting_branch(root):
    notes = root / "notes.txt"
    notes.write_text("base\n")
    git(root, "add", "notes.txt")
    git(root, "commit", "-q", "-m", "notes")
    git(root, "switch", "-q", "-c", "other")
    notes.write_text("other\n")
    git(root, "commit", "-q", "-am", "other notes")
    git(root, "switch", "-q", "-")
    notes.write_text("mine\n")
    git(root, "commit", "-q", "-am", "my notes")


def _enter(state, root):
    if state == "detached":
        git(root, "checkout", "-q", "--detach", "HEAD")
        return "switch"
    _conflicting_branch(root)
    run = subprocess.run(["git", "-C", str(root), state, "other"], capture_output=True)
    assert run.returncode != 0  # stopped on the conflict
    return f"{state} --abort"


@pytest.mark.parametrize("state", ["detached", "merge", "rebase"])
def test_log_done_and_check_refuse_while_a_commit_could_vanish(cli, started, state):
    fix = _enter(state, started)
    before = (started / ".labpath" / "progress.jsonl").read_text()
    head = git(started, "rev-parse", "HEAD")
    for args in (["log", "lost?"], ["done", "domain-predictor"], ["check"]):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert fix in flat(result.stderr), result.stderr
        assert "nothing was recorded" in flat(result.stderr)
    assert journal.entry_files(started / "journal") == []
    assert (started / ".labpath" / "progress.jsonl").read_text() == before
    assert git(started, "rev-parse", "HEAD") == head


@pytest.mark.parametrize("state", ["detached", "rebase"])
def test_star_and_edit_refuse_while_a_commit_could_vanish(
    cli, started, state, tmp_path
):
    assert cli("log", "An entry to star").exit_code == 0
    (entry,) = journal.entry_files(started / "journal")
    text = entry.read_text()
    fix = _enter(state, started)
    head = git(started, "rev-parse", "HEAD")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\necho "more" >> "$1"\n')
    editor.chmod(0o755)
    for args in (["journal", "star", "last"], ["journal", "edit", "last"]):
        result = cli(*args, env={"EDITOR": str(editor)})
        assert result.exit_code == 2, (args, result.output)
        assert fix in flat(result.stderr), result.stderr
    assert entry.read_text() == text
    assert git(started, "rev-parse", "HEAD") == head


# --- the append-only log -----------------------------------------------------------------


def test_a_shrunk_progress_log_is_never_committed_and_repair_restores_it(cli, started):
    log = started / ".labpath" / "progress.jsonl"
    committed = log.read_text()
    log.write_text("")  # what learner code could do to it
    head = git(started, "rev-parse", "HEAD")
    result = cli("done", "domain-predictor")
    assert result.exit_code == 2, result.output
    assert "no longer starts with its committed version" in flat(result.stderr)
    assert "labpath repair" in flat(result.stderr)
    assert git(started, "rev-parse", "HEAD") == head
    result = cli("repair")
    assert result.exit_code == 0, result.output
    assert log.read_text().startswith(committed)
    assert '"done"' in log.read_text()  # the new line is kept
    result = cli("status", "--json")
    assert json.loads(result.stdout)["done"] == 1
    assert git(started, "show", "HEAD:.labpath/progress.jsonl").startswith(committed)


def test_a_short_write_on_a_full_disk_is_rolled_back(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    progress.record(path, "start", "micrograd")
    before = path.read_bytes()
    real = os.write
    calls = []

    def full_disk(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "write", full_disk)
    with pytest.raises(EnvironmentFailure, match="nothing was recorded"):
        progress.record(path, "check", "micrograd", status="failed")
    monkeypatch.setattr(fsutil.os, "write", real)
    assert len(calls) == 2
    assert path.read_bytes() == before
    progress.record(path, "check", "micrograd", status="passed")
    assert [e["event"] for e in progress.read_events(path)] == ["start", "check"]


def test_a_full_disk_during_hint_exits_3_and_keeps_the_log_readable(
    cli, started, monkeypatch
):
    real = os.write

    def full_disk(fd, data):
        return real(fd, data[:5]) if len(data) > 5 else 0

    monkeypatch.setattr(fsutil.os, "write", full_disk)
    result = cli("hint")
    monkeypatch.setattr(fsutil.os, "write", real)
    assert result.exit_code == 3, result.output
    assert "No space left" in flat(result.stderr)
    assert cli("status").exit_code == 0


# --- files: modes and leftovers ----------------------------------------------------------


def test_new_files_follow_the_umask(cli, ws):
    old = os.umask(0o022)
    try:
        assert cli("next").exit_code == 0
        assert cli("log", "Modes").exit_code == 0
    finally:
        os.umask(old)
    (entry,) = journal.entry_files(ws / "journal")
    for path in (ws / "labpath.yaml", ws / ".gitignore", entry):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_temp_files_left_by_a_killed_write_are_swept(cli, ws):
    assert cli("init", ws).exit_code == 0
    old = time.time() - 3600
    stale = ws / ".labpath" / ".progress.jsonl.abc123.tmp"
    stale2 = ws / ".labpath.yaml.xyz.tmp"
    fresh = ws / ".labpath" / ".time.jsonl.def456.tmp"
    for p in (stale, stale2, fresh):
        p.write_text("half")
    for p in (stale, stale2):
        os.utime(p, (old, old))
    assert cli("status").exit_code == 0
    assert not stale.exists() and not stale2.exists()
    assert fresh.exists()  # it may belong to a write in progress
    assert _status(ws) == "" or "tmp" not in _status(ws)


# --- interrupted commands ------------------------------------------------------------------


def test_a_killed_done_is_committed_by_the_rerun(cli, started):
    # the state a kill between recording and committing leaves
    progress.record(started / ".labpath" / "progress.jsonl", "done", "domain-predictor")
    result = cli("done", "domain-predictor")
    assert result.exit_code == 0, result.output
    assert commits(started)[0] == "done: domain-predictor"
    assert _status(started) == ""


def test_a_killed_next_is_committed_by_the_rerun(cli, ws):
    from labpath import labs, scaffold

    assert cli("init", ws).exit_code == 0
    scaffold.scaffold(labs.load("micrograd"), ws / "labs" / "micrograd")
    progress.record(ws / ".labpath" / "progress.jsonl", "start", "micrograd")
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert commits(ws)[0] == "next: scaffold micrograd micrograd"
    assert _status(ws) == ""


def test_next_commits_a_starter_file_or_progress_an_earlier_run_left_uncommitted(
    cli, ws
):
    assert cli("init", ws).exit_code == 0
    assert cli("next").exit_code == 0
    engine = ws / "labs" / "micrograd" / "engine.py"
    engine.write_text(engine.read_text() + "# mine\n")
    git(ws, "rm", "-q", "--cached", "labs/micrograd/engine.py")
    git(ws, "commit", "-q", "-m", "as if the scaffold's commit had missed it")
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert commits(ws)[0] == "next: scaffold micrograd micrograd"
    assert git(ws, "show", "HEAD:labs/micrograd/engine.py").endswith("# mine\n")
    assert _status(ws) == ""
    # an event recorded by a run killed before its commit: the started task is kept
    progress.record(ws / ".labpath" / "progress.jsonl", "start", "micrograd")
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert commits(ws)[0] == "next: start micrograd"
    assert _status(ws) == ""
    before = commits(ws)
    assert cli("next").exit_code == 0
    assert commits(ws) == before  # nothing left to commit: no new commit


def test_next_on_a_detached_head_shows_the_task_and_refuses_only_to_write(cli, ws):
    assert cli("init", ws).exit_code == 0
    git(ws, "checkout", "-q", "--detach")
    refused = cli(
        "next"
    )  # the task's start would be recorded: refused, nothing written
    assert refused.exit_code == 2
    assert (
        "detached HEAD" in refused.output and "nothing was recorded" in refused.output
    )
    assert not (ws / "labs" / "micrograd").exists()
    assert _status(ws) == ""
    git(ws, "checkout", "-q", "-")
    assert cli("next").exit_code == 0
    before = commits(ws)
    git(ws, "checkout", "-q", "--detach")
    shown = cli("next")  # started and committed: showing it writes nothing
    assert shown.exit_code == 0, shown.output
    assert "A scalar autograd engine" in shown.output
    assert commits(ws) == before and _status(ws) == ""


def test_git_status_of_a_workspace_inside_a_larger_repository_or_a_broken_one(tmp_path):
    outer, inner = tmp_path / "outer", tmp_path / "outer" / "inner"
    inner.mkdir(parents=True)
    git(outer, "init", "-q")
    (inner / "f.txt").write_text("x\n")
    # no .git of its own: git is asked where the top is, the path comes back whole
    assert vcs.changes(inner, [inner / "f.txt"]) == [
        ("??", (inner / "f.txt").resolve())
    ]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ".git").write_text("gitdir: /nowhere\n")
    (broken / "f.txt").write_text("x\n")
    with pytest.raises(EnvironmentFailure, match="is not a git repository"):
        vcs.changes(broken, [broken / "f.txt"])


# --- the workspace's own ignore rules --------------------------------------------------------


def test_an_older_workspace_gets_the_new_ignore_rules_when_opened(cli, ws):
    assert cli("init", ws).exit_code == 0
    (ws / ".gitignore").write_text(
        "__pycache__/\n*.pyc\n.labpath/lock\n.labpath/tmp/\n"
    )
    git(ws, "commit", "-q", "-am", "as an older labpath wrote it")
    art = ws / ".labpath" / "artifacts" / "micrograd" / "20260101T000000"
    art.mkdir(parents=True)
    (art / "plot.png").write_bytes(b"png")
    (ws / ".labpath" / "runs").mkdir()
    (ws / ".labpath" / "runs" / "loss.txt").write_text("1.0\n")
    assert cli("status").exit_code == 0
    assert ".labpath/artifacts/" in (ws / ".gitignore").read_text()
    assert commits(ws)[0].startswith("labpath: ignore its caches")
    assert _status(ws) == ""
    assert cli("status").exit_code == 0
    assert commits(ws)[0].startswith("labpath: ignore its caches")  # once


# --- what a check commits --------------------------------------------------------------------

SOLUTION = __import__("labpath.labs", fromlist=["load"]).load("micrograd").solution_dir


@pytest.mark.torch
def test_the_weekly_loop_leaves_git_clean_and_files_the_aha_under_the_passed_lab(
    cli, started
):
    import shutil

    result = cli("check")  # the starter: not started
    assert result.exit_code == 1, result.output
    shutil.copy(SOLUTION / "engine.py", started / "labs" / "micrograd" / "engine.py")
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert "Committed your code as" in result.stdout
    first = commits(started)
    result = cli("check", "micrograd")  # a re-pass, no change: recorded, not committed
    assert result.exit_code == 0, result.output
    assert "Committed your code" not in result.stdout
    assert commits(started) == first
    events = progress.read_events(started / ".labpath" / "progress.jsonl")
    assert [e["status"] for e in events if e["event"] == "check"][-2:] == [
        "passed",
        "passed",
    ]
    result = cli("log", "Backprop is the chain rule, node by node", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert (entry["lab"], entry["task"], entry["week"]) == ("micrograd", "micrograd", 1)
    assert entry["check"]["status"] == "passed"
    assert cli("hint").exit_code == 0  # the next task's first hint
    assert _status(started) == "", _status(started)


@pytest.mark.torch
def test_a_pass_on_code_outside_the_workspace_commits_the_pass_only(
    cli, started, tmp_path
):
    import shutil

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(SOLUTION / "engine.py", outside / "engine.py")
    result = cli("check", "micrograd", "--path", outside)
    assert result.exit_code == 0, result.output
    assert "is outside the workspace: its code is not committed" in flat(result.stderr)
    assert "Committed your code" not in result.stdout
    head = git(started, "rev-parse", "HEAD").strip()
    assert f"Recorded the pass as {head[:10]}" in result.stdout
    changed = git(started, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == [".labpath/progress.jsonl"]
    result = cli("check", "micrograd", "--path", outside, "--json")
    assert json.loads(result.stdout)["code_committed"] is False


@pytest.mark.torch
def test_a_pass_whose_commit_fails_still_prints_its_report(cli, started, quick_lock):
    import shutil

    shutil.copy(SOLUTION / "engine.py", started / "labs" / "micrograd" / "engine.py")
    lock = started / ".git" / "index.lock"
    lock.write_text("")
    result = cli("check", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "passed" and data["commit"] is None
    assert str(lock) in flat(result.stderr)
    result = cli("check", "micrograd")
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.stdout and str(lock) in flat(result.stderr)
    lock.unlink()
    result = cli("check", "micrograd")  # the code was never committed: this commits it
    assert result.exit_code == 0, result.output
    assert commits(started)[0].startswith("check: micrograd passed")
    assert "labs/micrograd/engine.py" in git(
        started, "show", "--name-only", "--format=", "HEAD"
    )


def test_reset_does_not_list_labpaths_own_files_as_the_learners(cli, started):
    state = started / ".labpath"
    (state / "time.jsonl").write_text("")
    git(started, "add", ".labpath/time.jsonl")
    git(started, "commit", "-q", "-m", "time log")
    with open(state / "time.jsonl", "a") as fh:  # a record not committed yet
        fh.write('{"id": "x", "kind": "skip", "date": "2026-12-01"}\n')
    (state / "artifacts" / "micrograd" / "1").mkdir(parents=True)
    (state / "artifacts" / "micrograd" / "1" / "plot.png").write_bytes(b"png")
    (started / "notes.txt").write_text("mine\n")
    result = cli("reset", "--yes")
    assert result.exit_code == 0, result.output
    assert "notes.txt" in result.stdout
    assert ".labpath" not in result.stdout


@pytest.mark.torch
def test_a_pass_after_the_log_was_shrunk_is_shown_but_not_committed(cli, started):
    import shutil

    shutil.copy(SOLUTION / "engine.py", started / "labs" / "micrograd" / "engine.py")
    (started / ".labpath" / "progress.jsonl").write_text("")  # as learner code could
    head = git(started, "rev-parse", "HEAD")
    result = cli("check", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "passed" and data["commit"] is None
    assert "no longer starts with its committed version" in flat(result.stderr)
    assert git(started, "rev-parse", "HEAD") == head


def test_the_work_tree_root_is_asked_once_and_asked_again_when_a_nearer_repo_appears(
    tmp_path, monkeypatch
):
    from labpath import gitcmd

    outer, inner = tmp_path / "outer", tmp_path / "outer" / "inner"
    inner.mkdir(parents=True)
    git(outer, "init", "-q")
    (inner / "f.txt").write_text("x\n")
    assert gitcmd.toplevel(inner) == outer.resolve()
    asked = []
    monkeypatch.setattr(gitcmd, "discover", lambda root: asked.append(root) or 0 / 0)
    assert gitcmd.toplevel(inner) == outer.resolve() and asked == []  # from memory
    monkeypatch.undo()
    git(inner, "init", "-q")  # a repository nearer than the remembered one
    assert gitcmd.toplevel(inner) == inner.resolve()
    assert [p for _, p in vcs.changes(inner, [inner / "f.txt"])] == [inner / "f.txt"]
    import shutil

    shutil.rmtree(inner / ".git")  # and gone again
    assert gitcmd.toplevel(inner) == outer.resolve()
