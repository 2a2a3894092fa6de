"""`labpath log` commits its entry through git's plumbing: what that path keeps and skips."""

import os
import subprocess
import sys

import pytest

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


def test_star_and_edit_do_not_import_gitpython(started, tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\necho "one more line" >> "$1"\n')
    editor.chmod(0o755)
    code = (
        "import sys\nfrom labpath.cli import app\n"
        "for args in (['log', 'light'], ['journal', 'star', 'last'],"
        " ['journal', 'edit', 'last']):\n"
        "    try:\n        app(args)\n    except SystemExit as e:\n"
        "        print('RC', e.code)\n"
        "print('GIT', 'git' in sys.modules)\n"
    )
    env = {
        **os.environ,
        "LABPATH_HOME": str(started),
        "PYTHONPATH": str(ROOT),
        "EDITOR": str(editor),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.stdout.count("RC 0") == 3, out.stdout + out.stderr
    assert "GIT False" in out.stdout, out.stdout + out.stderr
    assert commits(started)[:3] == [
        'journal: edit "light"',
        'journal: star "light"',
        'log: aha "light"',
    ]
    assert git(started, "status", "--porcelain") == ""


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


def _entry_blob(ws) -> tuple[str, str, bytes]:
    """HEAD's entry file: (mode, blob id, the blob's bytes)."""
    (entry,) = journal.entry_files(ws / "journal")
    rel = entry.relative_to(ws).as_posix()
    mode, _, sha = git(ws, "ls-tree", "HEAD", "--", rel).split("\t")[0].split()
    blob = subprocess.run(
        ["git", "-C", str(ws), "cat-file", "blob", sha], capture_output=True
    ).stdout
    return mode, sha, blob


def _git_ran(trace) -> list[str]:
    """The git subcommands a GIT_TRACE file shows, in order."""
    ran = []
    for line in trace.read_text().splitlines():
        if "trace: built-in: git " in line:
            words = line.split("trace: built-in: git ", 1)[1].split()
            ran.append(next(w for w in words if not w.startswith("-") and "=" not in w))
    return ran


def test_the_trees_written_here_are_objects_git_reads_and_checks(
    cli, started, tmp_path
):
    trace = tmp_path / "trace"
    result = cli("log", "Trees by hand", env={"GIT_TRACE": str(trace)})
    assert result.exit_code == 0, result.output
    ran = _git_ran(trace)
    assert "update-index" in ran and "commit-tree" in ran
    assert "mktree" not in ran and "ls-files" not in ran and "hash-object" not in ran
    assert git(started, "fsck", "--strict", "--full", "--no-progress") == ""
    tree = git(started, "rev-parse", "HEAD^{tree}").strip()
    loose = started / ".git" / "objects" / tree[:2] / tree[2:]
    assert loose.is_file() and (loose.stat().st_mode & 0o777) == 0o444
    assert not list((started / ".git" / "objects").glob("*/tmp_obj_*"))
    mode, sha, blob = _entry_blob(started)
    assert mode == "100644"
    assert blob == journal.entry_files(started / "journal")[0].read_bytes()
    assert git(started, "status", "--porcelain") == ""


def test_shared_or_fsynced_repositories_have_git_write_the_trees(
    cli, started, tmp_path
):
    for n, (key, value) in enumerate(
        [("core.sharedRepository", "group"), ("core.fsync", "loose-object")]
    ):
        git(started, "config", key, value)
        trace = tmp_path / f"trace{n}"
        result = cli("log", f"Git writes these {n}", env={"GIT_TRACE": str(trace)})
        assert result.exit_code == 0, result.output
        assert "mktree" in _git_ran(trace), key
        assert "Warning" not in result.stderr, result.stderr
        git(started, "config", "--unset", key)
    assert commits(started)[:2] == [
        'log: aha "Git writes these 1"',
        'log: aha "Git writes these 0"',
    ]
    assert git(started, "fsck", "--strict", "--no-progress") == ""
    assert git(started, "status", "--porcelain") == ""


def test_a_clean_filter_is_committed_as_git_add_would_store_it(cli, started, tmp_path):
    (started / ".git" / "info").mkdir(exist_ok=True)
    (started / ".git" / "info" / "attributes").write_text(
        "journal/**/*.md filter=shout\n"
    )
    git(started, "config", "filter.shout.clean", "tr a-z A-Z")
    git(started, "config", "filter.shout.smudge", "cat")
    trace = tmp_path / "trace"
    result = cli("log", "quiet words", env={"GIT_TRACE": str(trace)})
    assert result.exit_code == 0, result.output
    # the staged blob is not the file: the index says what it is
    assert "ls-files" in _git_ran(trace)
    _, _, blob = _entry_blob(started)
    assert b"QUIET WORDS" in blob and b"quiet words" not in blob
    assert git(started, "status", "--porcelain") == ""


def test_line_endings_git_converts_are_committed_converted(cli, started):
    git(started, "config", "core.autocrlf", "input")
    result = cli("log", "-", input="first line\r\nsecond line\r\n")
    assert result.exit_code == 0, result.output
    _, _, blob = _entry_blob(started)
    assert b"first line\nsecond line" in blob and b"\r" not in blob
    assert git(started, "status", "--porcelain") == ""


def test_the_executable_bit_is_committed_as_the_index_has_it(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(tmp_path, "init", "-q", str(root))
    tool, note = root / "tool.sh", root / "note.md"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    note.write_text("n\n")
    gitcmd.commit_files(gitcmd.discover(root), [tool, note], "both", [], 0.1)
    listed = git(root, "ls-tree", "HEAD").splitlines()
    assert [line.split()[0] for line in listed] == ["100644", "100755"]
    git(root, "config", "core.fileMode", "false")  # the bit no longer counts
    note.write_text("n2\n")
    note.chmod(0o755)
    gitcmd.commit_files(gitcmd.discover(root), [note], "again", [], 0.1)
    assert git(root, "ls-tree", "HEAD", "note.md").split()[0] == "100644"
    assert git(root, "ls-files", "-s", "note.md").split()[0] == "100644"
    assert git(root, "status", "--porcelain") == ""


def test_settings_are_read_as_git_reads_booleans(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(tmp_path, "init", "-q", str(root))
    config = root / ".git" / "config"
    config.write_text(
        config.read_text()
        + "[commit]\n\tgpgsign\n[core]\n\tfileMode = no\n\tsharedRepository = umask\n"
    )
    got = gitcmd._settings(gitcmd.git(root, gitcmd._SETTINGS, check=False))
    assert got["commit.gpgsign"] is True and got["core.filemode"] is False
    assert gitcmd._writes_loose(got)
    assert not gitcmd._writes_loose({**got, "core.sharedrepository": "0660"})
    assert not gitcmd._writes_loose({**got, "core.fsyncobjectfiles": True})
    assert gitcmd._writes_loose({**got, "core.fsyncobjectfiles": False})
    assert not gitcmd._writes_loose({"unreadable": True})


# --- the search index --------------------------------------------------------------------


def _journal_of(ws, n):
    import datetime as dt
    import random

    rng = random.Random(n)
    words = "tanh residual softmax logits Gradient attention".split()
    start = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone.utc)
    for i in range(n):
        when = start + dt.timedelta(hours=rng.randrange(0, 400))  # ties on purpose
        text = " ".join(rng.choice(words) for _ in range(6))
        e = journal.JournalEntry(
            id=f"ID{rng.randrange(10**6):06d}",
            created=when.isoformat() if i % 7 else "",
            title=f"T{i} {text[:20]}",
            body=text,
            type=rng.choice(journal.ENTRY_TYPES),
            tags=tuple(rng.sample(words, 2)),
            starred=i % 3 == 0,
            week=1 + i % 4,
            lab=rng.choice(["micrograd", "lstm", None]),
        )
        path = journal.entry_path(ws / "journal", when, e.title)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(journal.render(e))


def test_search_through_the_index_is_select_over_every_entry(cli, ws):
    assert cli("init", ws).exit_code == 0
    _journal_of(ws, 120)
    from labpath import workspace

    w = workspace.open_workspace(str(ws))
    queries = [
        journal.make_query(),
        journal.make_query(limit=5),
        journal.make_query(("tanh",)),
        journal.make_query(("TANH", "gradient"), limit=7),
        journal.make_query(("residual",), tags=("#softmax",), starred=True),
        journal.make_query(lab="lstm", week=2),
        journal.make_query(type="note", since="2026-01-05", until="2026-01-12"),
        journal.make_query(("no such word",)),
    ]
    for _ in range(2):  # a cold index, then the saved one
        for q in queries:
            expected = journal.select(journal.load_all(ws / "journal"), q)
            assert journal.search(w, q) == expected, q
    victim = journal.entry_files(ws / "journal")[3]
    victim.write_text(victim.read_text().replace("\n\n", "\n\nzebra ", 1))
    q = journal.make_query(("zebra",))
    assert [e.path for e in journal.search(w, q)] == [str(victim)]


def test_a_search_word_never_spans_two_entries_and_any_case_matches(cli, ws):
    """The index keeps every entry's text end to end: a word made of one entry's end
    and the next one's start matches neither; non-ASCII words match as select does."""
    assert cli("init", ws).exit_code == 0
    from labpath import workspace
    from labpath.journal import store

    w = workspace.open_workspace(str(ws))
    texts = [
        ("2026-01-01T08:00:00+00:00", "Older straße", "ends in zig", ("İstanbul",)),
        ("2026-01-02T08:00:00+00:00", "zag begins the newer", "body", ("tail",)),
        ("2026-01-03T08:00:00+00:00", "Newest ÉCOLE", "gradient gradient", ()),
    ]
    for created, title, body, tags in texts:
        e = journal.JournalEntry(
            id=title.split()[0].upper(),
            created=created,
            title=title,
            body=body,
            tags=tags,
        )
        path = journal.entry_path(ws / "journal", journal.created_at(e), title)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(journal.render(e))
    entries = journal.load_all(ws / "journal")
    spanning = [("tailolder",), ("gradient zag",)]  # one entry's end, the next's start
    words = [
        *spanning,
        ("zig",),
        ("STRASSE",),
        ("straße",),
        ("école", "GRADIENT"),
        ("İstanbul",),
        ("gradient", "zig"),
        ("e",),
    ]
    for _ in range(2):  # a cold index, then the saved one
        for text in words:
            q = journal.make_query(text)
            assert journal.search(w, q) == journal.select(entries, q), text
        saved = store._read_index(store.index_file(w)).blob("hay")
        assert all(t.encode() in saved for (t,) in spanning)  # the texts do meet
    assert not journal.search(w, journal.make_query(("tailolder",)))
    assert [
        e.title for e in journal.search(w, journal.make_query(("e",), limit=2))
    ] == [
        "Newest ÉCOLE",
        "zag begins the newer",
    ]


def test_the_saved_index_is_reused_until_an_entry_or_its_folder_changes(cli, ws):
    assert cli("init", ws).exit_code == 0
    _journal_of(ws, 30)
    from labpath import workspace
    from labpath.journal import store

    w = workspace.open_workspace(str(ws))
    index = store.index_file(w)
    q = journal.make_query(("tanh",))
    journal.search(w, q)
    saved = index.stat().st_mtime_ns
    before = journal.search(w, q)
    assert index.stat().st_mtime_ns == saved  # nothing changed: read, not rewritten
    folder = journal.entry_files(ws / "journal")[0].parent
    (folder / "notes.txt").write_text("not an entry\n")  # no .md: not an entry
    assert journal.search(w, q) == before
    new = folder / "2026-01-01T000000-zebra-tanh.md"
    new.write_text("---\ntitle: zebra tanh\n---\n\nnew\n")
    got = journal.search(w, q)
    assert str(new) in [e.path for e in got] and len(got) == len(before) + 1
    os.utime(new, ns=(1, 1))  # an older mtime, same size: still a change
    new.write_text("---\ntitle: zebra only\n---\n\nnew\n")
    os.utime(new, ns=(1, 1))
    assert journal.search(w, q) == before
    assert journal.search(w, journal.make_query(("zebra only",)))[0].path == str(new)
    new.unlink()
    assert journal.search(w, q) == before


def test_the_quick_front_matter_reader_agrees_with_yaml_or_steps_aside():
    import random
    import string

    import yaml

    from labpath.journal import entry

    rng = random.Random(7)
    chars = string.ascii_letters + string.digits + " ._-:+#'\"[]&*!?%@é\t"
    heads = [
        "id: 01JGGAM0C0H1JJMAY5ZM57WMS3\ncreated: '2025-01-01T07:00:00+00:00'\n"
        "tags:\n- a\n- yes\ncheck:\n  status: passed\n  total: 3\nweek: 012",
        "title: on\nphase: 0x1f\nlab: null\nplots: []",
    ]
    for _ in range(3000):
        v = "".join(rng.choice(chars) for _ in range(rng.randrange(0, 10)))
        heads.append(f"title: {v}")
        heads.append(f"tags:\n- {v}")
        heads.append(
            yaml.safe_dump(
                {"title": v, "tags": [v], "check": {"at": v}},
                sort_keys=False,
                allow_unicode=True,
                width=1000,
            ).rstrip("\n")
        )
    quick = 0
    for head in heads:
        got = entry._simple_front(head)
        if got is None:
            continue  # YAML itself reads this one
        quick += 1
        want = yaml.load(head, Loader=yaml.SafeLoader) or {}
        assert got == want, head
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()], head
    assert quick > len(heads) // 3


def test_cat_file_asked_in_rounds_answers_each_and_reports_its_failure(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(tmp_path, "init", "-q", str(root))
    (root / "a.md").write_text("a\n")
    git(root, "add", "a.md")
    git(root, "commit", "-qm", "one")
    batch = gitcmd.Batch(root, b"HEAD\nHEAD:nothing-here\n")
    head, missing = batch.answers(2)
    assert head[1] == b"commit" and missing is None
    (root / "b.md").write_text("b\n")
    git(root, "add", "b.md")  # asked after the index changed: the new entry is seen
    batch.ask(b":0:b.md\n")
    ((sha, kind, body),) = batch.answers(1)
    assert (kind, body) == (b"blob", b"b\n")
    assert sha == git(root, "rev-parse", ":b.md").strip()
    batch.close()
    batch.stop()  # ending twice is harmless
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    broken = gitcmd.Batch(outside, b"HEAD\n")
    with pytest.raises(gitcmd.GitCommandError, match="not a git repository"):
        broken.answers(1)
    broken.stop()
