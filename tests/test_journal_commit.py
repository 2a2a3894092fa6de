"""`labpath log` commits its entry through git's plumbing: what that path keeps and skips."""

import os
import subprocess
import sys

from labpath import gitcmd, journal

from .conftest import ROOT, commits, flat, git


def _hook(ws, name, body):
    hook = ws / ".git" / "hooks" / name
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\n{body}\n")
    hook.chmod(0o755)
    return hook


def test_the_learners_staged_and_unstaged_changes_survive_a_log(cli, started):
    notes, draft = started / "notes.txt", started / "draft.txt"
    notes.write_text("one\n")
    draft.write_text("a\n")
    git(started, "add", "notes.txt", "draft.txt")
    git(started, "commit", "-qm", "my files")
    notes.write_text("two, staged\n")
    git(started, "add", "notes.txt")
    notes.write_text("three, not staged\n")
    draft.write_text("b, not staged\n")
    result = cli("log", "Staged work stays staged")
    assert result.exit_code == 0, result.output
    (entry,) = journal.entry_files(started / "journal")
    rel = entry.relative_to(started).as_posix()
    assert git(started, "show", "--name-only", "--format=", "HEAD").split() == [rel]
    assert git(started, "diff", "--cached", "--name-only").split() == ["notes.txt"]
    assert git(started, "show", ":notes.txt") == "two, staged\n"
    assert notes.read_text() == "three, not staged\n"
    assert sorted(git(started, "status", "--porcelain").splitlines()) == [
        " M draft.txt",
        "MM notes.txt",
    ]
    assert commits(started)[0] == 'log: aha "Staged work stays staged"'
    assert git(started, "fsck", "--no-progress").strip() == ""


def test_log_starts_no_automatic_gc_or_maintenance(cli, started, tmp_path):
    git(started, "config", "gc.auto", "1")  # any loose object would start gc --auto
    trace = tmp_path / "trace"
    result = cli("log", "No housekeeping here", env={"GIT_TRACE": str(trace)})
    assert result.exit_code == 0, result.output
    text = trace.read_text()
    assert "update-ref" in text  # the trace saw labpath's git commands
    assert "gc" not in text.split() and "maintenance" not in text


def test_the_porcelain_commit_starts_no_maintenance_either(cli, started, tmp_path):
    git(started, "config", "gc.auto", "1")
    _hook(started, "post-commit", "true")  # makes log take `git commit`
    trace = tmp_path / "trace"
    result = cli("log", "Still no housekeeping", env={"GIT_TRACE": str(trace)})
    assert result.exit_code == 0, result.output
    text = trace.read_text()
    assert "commit --no-verify" in text
    assert "gc" not in text.split() and "maintenance run" not in text


def test_commit_hooks_that_git_commit_no_verify_runs_still_run(cli, started, tmp_path):
    marker = tmp_path / "hooks-ran"
    _hook(started, "post-commit", f"echo post-commit >> {marker}")
    _hook(started, "pre-commit", "exit 1")  # skipped, as --no-verify skips it
    result = cli("log", "Hooks as before")
    assert result.exit_code == 0, result.output
    assert marker.read_text() == "post-commit\n"
    assert commits(started)[0] == 'log: aha "Hooks as before"'


def test_a_refusing_pre_commit_hook_does_not_stop_a_log(cli, started):
    _hook(started, "pre-commit", "exit 1")
    _hook(started, "commit-msg", "exit 1")
    result = cli("log", "Not verified, like before")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    assert commits(started)[0] == 'log: aha "Not verified, like before"'


def test_log_without_an_identity_commits_as_labpath_with_the_warning(
    cli, started, monkeypatch, isolated
):
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(var)
    (isolated / "home" / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    result = cli("log", "Who am I")
    assert result.exit_code == 0, result.output
    assert "no user.name" in flat(result.stderr)
    assert git(started, "log", "-1", "--format=%an <%ae> %cn").strip() == (
        "labpath <labpath@localhost> labpath"
    )
    assert git(started, "status", "--porcelain") == ""


def test_log_does_not_import_gitpython(started):
    code = (
        "import sys\nfrom labpath.cli import app\n"
        "try:\n    app(['log', 'light'])\nexcept SystemExit as e:\n    print('RC', e.code)\n"
        "print('GIT', 'git' in sys.modules)\n"
    )
    env = {**os.environ, "LABPATH_HOME": str(started), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert "RC 0" in out.stdout and "GIT False" in out.stdout, out.stdout + out.stderr
    assert commits(started)[0] == 'log: aha "light"'


def test_a_commit_made_meanwhile_is_kept_and_the_entry_goes_on_top(
    cli, started, monkeypatch
):
    real = gitcmd.git
    raced = []

    def racing(cwd, args, **kw):
        if args[0] == "update-ref" and not raced:  # another terminal commits first
            raced.append(1)
            theirs = git(
                cwd, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "theirs"
            )
            git(cwd, "update-ref", "HEAD", theirs.strip())
        return real(cwd, args, **kw)

    monkeypatch.setattr(gitcmd, "git", racing)
    result = cli("log", "Mine after theirs")
    assert result.exit_code == 0, result.output
    assert commits(started)[:2] == ['log: aha "Mine after theirs"', "theirs"], (
        result.stderr
    )
    assert git(started, "status", "--porcelain") == ""


def test_the_first_commit_of_a_repository(tmp_path):
    root = tmp_path / "fresh"
    (root / "a" / "b").mkdir(parents=True)
    git(tmp_path, "init", "-q", str(root))
    (root / "a" / "b" / "note.md").write_text("hello\n")
    (root / "top.md").write_text("top\n")
    repo = gitcmd.discover(root)
    assert repo.head is None and repo.branch
    sha, fell_back = gitcmd.commit_files(
        repo, [root / "a" / "b" / "note.md", root / "top.md"], "first  \n\n", [], 0.1
    )
    assert not fell_back
    assert git(root, "rev-parse", "HEAD").strip() == sha
    assert git(root, "log", "--format=%B").strip() == "first"
    assert git(root, "ls-tree", "-r", "--name-only", "HEAD").split() == [
        "a/b/note.md",
        "top.md",
    ]
    assert git(root, "status", "--porcelain") == ""
    assert "commit (initial): first" in git(root, "reflog", "-1")


def test_an_unchanged_file_makes_no_commit(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(tmp_path, "init", "-q", str(root))
    (root / "n.md").write_text("x\n")
    repo = gitcmd.discover(root)
    sha, _ = gitcmd.commit_files(repo, [root / "n.md"], "one", [], 0.1)
    again, _ = gitcmd.commit_files(
        gitcmd.discover(root), [root / "n.md"], "two", [], 0.1
    )
    assert sha and again is None
    assert commits(root) == ["one"]
