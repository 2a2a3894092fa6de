"""Sync through a local bare repository: push, fast-forward, divergence reported, no conflicts."""

import json
import subprocess

from labpath import journal, sync, timelog, workspace

from .conftest import flat, git


def test_decide():
    assert sync.decide(0, 0) == "up-to-date"
    assert sync.decide(2, 0) == "push"
    assert sync.decide(0, 3) == "pull"
    assert sync.decide(1, 1) == "diverged"


def _two_machines(cli, tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    a = tmp_path / "laptop"
    assert cli("init", a).exit_code == 0
    git(a, "remote", "add", "origin", str(remote))
    r = cli("sync", "--workspace", a)
    assert r.exit_code == 0, r.output
    assert "new branch" in r.stdout
    b = tmp_path / "desktop"
    subprocess.run(["git", "clone", "-q", str(remote), str(b)], check=True)
    return remote, a, b


def test_sync_pushes_then_fast_forwards_the_other_machine(cli, tmp_path):
    _, a, b = _two_machines(cli, tmp_path)
    assert cli("log", "From the laptop", "--workspace", a).exit_code == 0
    r = cli("sync", "--workspace", a, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pushed"] == 1
    r = cli("sync", "--workspace", b)
    assert r.exit_code == 0, r.output
    assert "Pulled 1 commit(s)" in r.stdout
    assert len(journal.entry_files(b / "journal")) == 1
    r = cli("sync", "--workspace", b)
    assert r.exit_code == 0 and "Up to date" in r.stdout


def test_diverged_history_is_reported_and_its_fix_merges_without_conflict(
    cli, tmp_path
):
    _, a, b = _two_machines(cli, tmp_path)
    for ws, who in ((a, "laptop"), (b, "desktop")):
        assert cli("log", f"Insight on the {who}", "--workspace", ws).exit_code == 0
        assert cli("time", "add", "30m", "--workspace", ws).exit_code == 0
        # both append progress events
        assert cli("next", "--workspace", ws).exit_code == 0
    assert cli("sync", "--workspace", a).exit_code == 0
    head_b = git(b, "rev-parse", "HEAD")
    r = cli("sync", "--workspace", b)
    assert r.exit_code == 2, r.output
    assert "both moved on" in flat(r.stderr) and "merge --no-edit origin/" in flat(
        r.stderr
    )
    assert git(b, "rev-parse", "HEAD") == head_b  # nothing changed
    branch = git(b, "branch", "--show-current").strip()
    git(b, "merge", "--no-edit", f"origin/{branch}")  # the command the hint gives
    r = cli("sync", "--workspace", b)
    assert r.exit_code == 0, r.output
    assert cli("sync", "--workspace", a).exit_code == 0
    for ws in (a, b):
        assert len(journal.entry_files(ws / "journal")) == 2
        log = timelog.read(timelog.time_file(workspace.open_workspace(str(ws))))
        assert len(log.sessions) == 2
        r = cli("status", "--workspace", ws)
        assert r.exit_code == 0, r.output


def test_sync_without_a_remote_says_how_to_add_one(cli, ws):
    assert cli("init", ws).exit_code == 0
    r = cli("sync")
    assert r.exit_code == 2, r.output
    assert (
        "no git remote" in flat(r.stderr)
        and "git -C" in flat(r.stderr)
        and "remote add origin" in flat(r.stderr)
    )
    r = cli("sync", "upstream")
    assert r.exit_code == 2, r.output


def test_an_unreachable_remote_is_an_environment_error(cli, ws, tmp_path):
    assert cli("init", ws).exit_code == 0
    git(ws, "remote", "add", "origin", str(tmp_path / "missing.git"))
    r = cli("sync")
    assert r.exit_code == 3, r.output
    assert "git fetch failed" in flat(r.stderr)


def test_sync_never_overwrites_local_changes(cli, tmp_path):
    _, a, b = _two_machines(cli, tmp_path)
    (a / "labs").mkdir(exist_ok=True)
    (a / "labs" / "notes.py").write_text("x = 1\n")
    git(a, "add", "labs/notes.py")
    git(a, "commit", "-qm", "notes")
    assert cli("sync", "--workspace", a).exit_code == 0
    (b / "labs").mkdir(exist_ok=True)
    (b / "labs" / "notes.py").write_text("my unsaved work\n")
    r = cli("sync", "--workspace", b)
    assert r.exit_code == 2, r.output
    assert (b / "labs" / "notes.py").read_text() == "my unsaved work\n"


def test_the_advice_for_a_diverged_history_works_with_records_pending_and_no_identity(
    cli, tmp_path, monkeypatch, isolated
):
    import re
    import shlex

    from labpath import progress

    _, a, b = _two_machines(cli, tmp_path)
    for ws, who in ((a, "laptop"), (b, "desktop")):
        assert cli("log", f"Insight on the {who}", "--workspace", ws).exit_code == 0
        # what a failed check or a hint leaves: a progress line not yet committed
        progress.record(
            ws / ".labpath" / "progress.jsonl", "check", "micrograd", on=who
        )
    assert cli("sync", "--workspace", a).exit_code == 0
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(var)
    (isolated / "home" / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    r = cli("sync", "--workspace", b)
    assert r.exit_code == 2, r.output
    advice = re.search(r"(git -C \S+ (?:-c \S+ )*merge --no-edit \S+)", flat(r.stderr))
    assert advice, r.stderr
    run = subprocess.run(shlex.split(advice[1]), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    r = cli("sync", "--workspace", b)
    assert r.exit_code == 0, r.output
    assert cli("sync", "--workspace", a).exit_code == 0
    for ws in (a, b):
        assert len(journal.entry_files(ws / "journal")) == 2
        lines = (ws / ".labpath" / "progress.jsonl").read_text().splitlines()
        assert sum('"check"' in line for line in lines) == 2
        assert git(ws, "status", "--porcelain") == ""
