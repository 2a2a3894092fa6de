"""The learner's loop through the real CLI: next, check, done, log, status."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from labpath import labs

from .conftest import ROOT, commits, git

SOLUTION = labs.load("micrograd").solution_dir / "engine.py"


def test_help_lists_the_loop(cli):
    result = cli("--help")
    assert result.exit_code == 0, result.output
    for command in ("next", "check", "done", "log", "status", "init"):
        assert command in result.stdout


def test_next_outside_any_workspace_creates_home_labpath(cli, isolated, monkeypatch):
    monkeypatch.delenv("LABPATH_HOME")
    result = cli("next")
    assert result.exit_code == 0, result.output
    home = isolated / "home" / "labpath"
    assert f"Created a labpath workspace at {home}" in result.stderr
    assert (home / "labpath.yaml").is_file()
    assert (home / "labs" / "micrograd" / "engine.py").is_file()
    assert "A scalar autograd engine" in result.stdout
    assert "labpath check micrograd" in result.stdout
    assert commits(home) == [
        "next: scaffold micrograd micrograd",
        "labpath: set up the workspace",
    ]


def test_next_again_reshows_the_card_and_never_overwrites(cli, ws):
    assert cli("next").exit_code == 0
    engine = ws / "labs" / "micrograd" / "engine.py"
    engine.write_text("# my work in progress\n")
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert "A scalar autograd engine" in result.stdout
    assert engine.read_text() == "# my work in progress\n"
    assert len(commits(ws)) == 2


def test_next_json_describes_the_task(cli, ws):
    result = cli("next", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["id"] == "micrograd" and data["checkable"] is True
    assert data["phase"]["number"] == 1 and data["week"] == 1
    assert data["command"] == "labpath check micrograd"
    assert data["status"] == "started"
    assert data["resources"][0]["url"].startswith("https://")


def test_workspace_found_from_a_subfolder(cli, isolated, monkeypatch):
    assert cli("init", isolated / "mine").exit_code == 0
    monkeypatch.delenv("LABPATH_HOME")
    sub = isolated / "mine" / "labs"
    monkeypatch.chdir(sub)
    result = cli("status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["workspace"] == str(isolated / "mine")


def test_workspace_option_wins_over_env(cli, isolated):
    assert cli("init", isolated / "other").exit_code == 0
    result = cli("status", "--json", "--workspace", isolated / "other")
    assert json.loads(result.stdout)["workspace"] == str(isolated / "other")


def test_status_without_workspace_says_how_to_start(cli):
    result = cli("status")
    assert result.exit_code == 2
    assert "no labpath workspace" in result.stderr
    assert "labpath next" in result.stderr
    assert "Traceback" not in result.output


def test_check_unknown_lab_suggests_the_closest(cli, ws, started):
    result = cli("check", "micrograt")
    assert result.exit_code == 2
    assert (
        "no lab 'micrograt'" in result.stderr
        and "did you mean 'micrograd'?" in result.stderr
    )


def test_check_missing_path_is_a_usage_error(cli, ws, started):
    result = cli("check", "micrograd", "--path", "nowhere")
    assert result.exit_code == 2
    assert "--path nowhere: no such folder" in result.stderr


def test_done_completes_a_task_without_checks(cli, ws, started):
    evidence = ws / "notes.md"
    evidence.write_text("what I built\n")
    result = cli("done", "domain-predictor", "--evidence", evidence, "--note", "works")
    assert result.exit_code == 0, result.output
    assert commits(ws)[0] == "done: domain-predictor"
    assert "notes.md" in git(ws, "show", "--name-only", "--format=", "HEAD")
    events = (ws / ".labpath" / "progress.jsonl").read_text().splitlines()
    last = json.loads(events[-1])
    assert (
        last["event"] == "done"
        and last["evidence"] == "notes.md"
        and last["note"] == "works"
    )


def test_done_refuses_a_checkable_lab_and_unknown_ids(cli, ws, started):
    result = cli("done", "micrograd")
    assert result.exit_code == 2 and "labpath check micrograd" in result.stderr
    result = cli("done", "domain-predicter")
    assert result.exit_code == 2 and "did you mean 'domain-predictor'?" in result.stderr
    result = cli("done", "domain-predictor", "--evidence", "missing.pdf")
    assert result.exit_code == 2 and "no such file" in result.stderr
    assert len(commits(ws)) == 2


def test_log_writes_one_entry_and_commits_it_alone(cli, ws, started):
    (ws / "labs" / "micrograd" / "engine.py").write_text("# unfinished\n")
    result = cli(
        "log", "Reused nodes need +=", "--tag", "backprop", "--tag", "micrograd"
    )
    assert result.exit_code == 0, result.output
    entries = list((ws / "journal").glob("*/*/*.md"))
    assert len(entries) == 1
    text = entries[0].read_text()
    assert text.startswith("---\nid: ")
    assert "title: Reused nodes need +=" in text
    assert "task: micrograd" in text and "lab: micrograd" in text
    assert "tags:\n- backprop\n- micrograd" in text
    assert commits(ws)[0] == 'log: aha "Reused nodes need +="'
    changed = git(ws, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == [str(entries[0].relative_to(ws))]
    assert "engine.py" in git(ws, "status", "--porcelain")


def test_log_from_stdin(cli, ws, started):
    result = cli("log", "-", input="From a pipe\n\nmore lines\n")
    assert result.exit_code == 0, result.output
    entry = next((ws / "journal").glob("*/*/*.md")).read_text()
    assert "From a pipe\n\nmore lines" in entry


def test_log_from_the_editor(cli, ws, isolated, started):
    editor = isolated / "fake-editor"
    editor.write_text(
        '#!/bin/sh\nprintf "Written in the editor\\n$(cat "$1")" > "$1"\n'
    )
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    result = cli("log", env={"EDITOR": str(editor)})
    assert result.exit_code == 0, result.output
    entry = next((ws / "journal").glob("*/*/*.md")).read_text()
    assert "title: Written in the editor" in entry
    assert "labpath:" not in entry.split("---", 2)[2]


def test_empty_entry_saves_nothing(cli, ws, isolated, started):
    result = cli("log", "   ")
    assert result.exit_code == 2 and "nothing saved" in result.stderr
    editor = isolated / "noop-editor"
    editor.write_text("#!/bin/sh\nexit 0\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    result = cli("log", env={"EDITOR": str(editor)})
    assert result.exit_code == 2
    result = cli("log")
    assert result.exit_code == 2 and "$EDITOR" in result.stderr
    assert not list((ws / "journal").glob("*/*/*.md"))


def test_log_without_git_exits_3_and_writes_nothing(cli, ws, started):
    shutil.rmtree(ws / ".git")
    result = cli("log", "an idea")
    assert result.exit_code == 3
    assert "is not a git repository" in result.stderr and "git -C" in result.stderr
    assert not list((ws / "journal").glob("*/*/*.md"))


def test_log_for_an_unknown_lab(cli, ws, started):
    result = cli("log", "x", "--lab", "lsmt")
    assert result.exit_code == 2 and "did you mean 'lstm'?" in result.stderr


def test_corrupt_progress_is_reported_with_its_line(cli, ws, started):
    progress = ws / ".labpath" / "progress.jsonl"
    before = progress.read_text()
    progress.write_text(before + "{not json\n")
    result = cli("status")
    assert result.exit_code == 2
    assert "progress.jsonl:2: corrupt progress entry" in result.stderr
    assert progress.read_text() == before + "{not json\n"


def test_broken_curriculum_option_exits_2_without_traceback(cli, ws):
    bad = ROOT / "tests" / "data" / "curricula" / "unknown_key"
    result = cli("next", "--curriculum", bad)
    assert result.exit_code == 2
    assert "unknown key 'gaol'" in result.stderr
    assert "Traceback" not in result.output


def test_own_curriculum_from_settings(cli, ws, workspace):
    valid = ROOT / "tests" / "data" / "curricula" / "valid"
    settings = ws / "labpath.yaml"
    settings.write_text(settings.read_text() + f"curriculum: {valid}\n")
    data = json.loads(cli("status", "--json").stdout)
    assert data["total"] == 2


def test_git_without_identity_still_commits_with_a_warning(
    cli, ws, monkeypatch, isolated
):
    for var in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(var)
    # useConfigOnly: git may not guess a name from the host, so it has no identity
    (isolated / "home" / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert "no user.name" in result.stderr
    assert git(ws, "log", "-1", "--format=%an").strip() == "labpath"


def test_settings_typo_is_reported(cli, ws):
    cli("init", ws)
    (ws / "labpath.yaml").write_text("format_version: 1\nweekly_hour: [5, 10]\n")
    result = cli("status")
    assert result.exit_code == 2
    assert "unknown setting 'weekly_hour'" in result.stderr
    assert "did you mean 'weekly_hours'?" in result.stderr


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("labpath ")


@pytest.mark.parametrize(
    "weeks, expected",
    [
        (
            (1, 4),
            [
                "micrograd",
                "mlp",
                "bigram",
                "mlp-lm",
                "batchnorm",
                "backprop-ninja",
                "wavenet",
                "lstm",
            ],
        ),
        ((5, 8), ["transformer", "gpt2", "resnet", "bpe"]),
    ],
)
def test_next_walks_the_phase_one_labs_in_order(cli, ws, weeks, expected):
    from labpath import curriculum, progress

    cur = curriculum.load()
    assert cli("init", ws).exit_code == 0
    log = ws / ".labpath" / "progress.jsonl"
    for task in cur.tasks:  # everything before these weeks is done
        if task.week < weeks[0] and task.phase == 1:
            progress.record(log, "done", task.id, via="test")
    seen = []
    for _ in expected:
        result = cli("next", "--json")
        assert result.exit_code == 0, result.output
        card = json.loads(result.stdout)
        if card["kind"] != "lab":
            progress.record(log, "done", card["id"], via="test")
            result = cli("next", "--json")
            card = json.loads(result.stdout)
        assert card["checkable"], card["id"]
        assert card["created"], f"{card['id']}: nothing scaffolded"
        for path in card["created"]:
            assert (
                (ws / path).exists()
                if not path.startswith("/")
                else Path(path).exists()
            )
        seen.append(card["lab"])
        progress.record(log, "check", card["id"], lab=card["lab"], status="passed")
        progress.record(log, "done", card["id"], via="check")
    assert seen == expected


def _piped(args, ws, columns="20"):
    """Run labpath through a real pipe (not a terminal) in a narrow pane."""
    env = {
        **os.environ,
        "LABPATH_HOME": str(ws),
        "COLUMNS": columns,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "labpath", *args], env=env, capture_output=True
    )


def test_solution_to_a_pipe_is_exactly_the_files_bytes(cli, ws, workspace):
    proc = _piped(["solution", "micrograd", "--force"], ws)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == SOLUTION.read_bytes()


def test_python_m_labpath_ignores_a_learners_stdlib_names_in_the_working_folder(
    cli, ws, workspace, tmp_path
):
    # `python -m` puts the working folder first on sys.path: a json.py there must not
    # stand in for the standard library's
    here = tmp_path / "lab"
    here.mkdir()
    for name in ("json", "random", "tempfile"):
        (here / f"{name}.py").write_text(
            f"raise SystemExit('the learner's {name}.py')\n"
        )
    env = {**os.environ, "LABPATH_HOME": str(ws), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "labpath", "status", "--json"],
        env=env,
        cwd=here,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "learner" not in proc.stderr
    assert json.loads(proc.stdout)["workspace"] == str(ws)


def test_output_to_a_pipe_is_never_wrapped_or_cut(cli, ws):
    from labpath import curriculum

    goal = curriculum.load().task("micrograd").goal
    proc = _piped(["next"], ws)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert any(goal in line for line in lines), lines
    assert not any(line != line.rstrip() for line in lines)  # no padding either
    proc = _piped(["status"], ws)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "micrograd" in proc.stdout.decode() and "…" not in proc.stdout.decode()


def test_start_scaffolds_any_lab_and_keeps_it_current_until_done(cli, ws):
    from labpath import curriculum, progress

    gpt2 = curriculum.load().task_for_lab("gpt2")
    assert cli("init", ws).exit_code == 0
    r = cli("check", "gpt2")
    assert r.exit_code == 2 and "labpath start gpt2" in r.stderr, r.output
    r = cli("start", "gpt2", "--json")
    assert r.exit_code == 0, r.output
    card = json.loads(r.stdout)
    assert card["id"] == gpt2.id and (ws / "labs" / "gpt2" / "model.py").is_file()
    assert commits(ws)[0] == f"start: gpt2 ({gpt2.id})"
    assert json.loads(cli("status", "--json").stdout)["current"] == gpt2.id
    assert json.loads(cli("next", "--json").stdout)["id"] == gpt2.id
    assert json.loads(cli("hint", "--json").stdout)["lab"] == "gpt2"
    assert cli("start", "gpt2").exit_code == 0  # again: nothing new recorded
    events = (ws / ".labpath" / "progress.jsonl").read_text()
    assert events.count('"focus"') == 1
    progress.record(ws / ".labpath" / "progress.jsonl", "done", gpt2.id, via="test")
    assert json.loads(cli("next", "--json").stdout)["id"] == "micrograd"
    r = cli("start", "micrgrad")
    assert r.exit_code == 2 and "did you mean 'micrograd'?" in r.stderr


def test_with_no_lab_the_folder_you_stand_in_names_it(cli, ws, monkeypatch):
    assert cli("next").exit_code == 0  # micrograd is current
    assert cli("start", "mlp").exit_code == 0
    monkeypatch.chdir(ws / "labs" / "micrograd")
    r = cli("hint", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["lab"] == "micrograd"
    monkeypatch.chdir(ws)
    assert json.loads(cli("hint", "--json").stdout)["lab"] == "mlp"


def test_next_walks_from_bpe_through_every_later_lab(cli, ws):
    from labpath import curriculum, labs, progress

    cur = curriculum.load()
    assert cli("init", ws).exit_code == 0
    log = ws / ".labpath" / "progress.jsonl"
    for task in cur.tasks:  # phase 1 up to its last lab, bpe, is done
        if task.phase == 1 and task.id != "bpe":
            progress.record(log, "done", task.id, via="test")
    seen = []
    for _ in range(60):
        card = json.loads(cli("next", "--json").stdout)
        if "kind" not in card:
            break  # the plan is done
        if card["kind"] != "lab":
            progress.record(log, "done", card["id"], via="test")
            continue
        if not labs.exists(card["lab"]):
            break  # the first lab still to come ends the walk
        assert card["checkable"], card["id"]
        assert card["created"], f"{card['id']}: nothing scaffolded"
        assert all((ws / p).exists() for p in card["created"] if not p.startswith("/"))
        seen.append(card["lab"])
        progress.record(log, "check", card["id"], lab=card["lab"], status="passed")
        progress.record(log, "done", card["id"], via="check")
    shipped = [t.lab for t in cur.tasks if t.lab and labs.exists(t.lab)]
    assert seen[0] == "bpe"
    assert seen == shipped[shipped.index("bpe") :]
    assert {"lora", "preference", "log-anomaly", "tabular-embeddings", "fixit"} <= set(
        seen
    )


# --- the one error boundary -------------------------------------------------------------


def _raising(exc):
    def use_case(*args, **kwargs):
        raise exc

    return use_case


@pytest.mark.parametrize(
    "exc, code, lines",
    [
        (
            RuntimeError("boom"),
            3,
            [
                "Error: internal error: RuntimeError: boom",
                "Hint: this is a bug in labpath; rerun with LABPATH_DEBUG=1 for the "
                "traceback",
            ],
        ),
        (KeyboardInterrupt(), 130, ["Error: interrupted"]),
        (
            PermissionError(13, "Permission denied", "/some/file"),
            2,
            [
                "Error: permission denied: /some/file",
                "Hint: make it writable (chmod -R u+w /some/file) or use --workspace DIR",
            ],
        ),
        (
            OSError(28, "No space left on device", "/some/file"),
            2,
            ["Error: no space left on the disk while writing /some/file"],
        ),
        (
            type("GitCommandError", (Exception,), {})("git: No space left on device"),
            2,
            ["Error: no space left on the disk while writing the git repository"],
        ),
    ],
)
def test_every_command_group_shares_one_error_boundary(
    cli, ws, monkeypatch, exc, code, lines
):
    from labpath.app import journal, time

    assert cli("init", ws).exit_code == 0
    monkeypatch.setattr(journal, "select", _raising(exc))
    monkeypatch.setattr(time, "skip", _raising(exc))
    for args in (("journal", "list"), ("time", "skip")):
        result = cli(*args)
        assert result.exit_code == code, result.output
        assert result.stderr.splitlines()[: len(lines)] == lines, result.stderr
        assert "Traceback" not in result.output


def test_labpath_debug_lets_the_traceback_through(cli, ws, monkeypatch):
    from labpath.app import journal

    assert cli("init", ws).exit_code == 0
    monkeypatch.setattr(journal, "select", _raising(RuntimeError("boom")))
    result = cli("journal", "list", env={"LABPATH_DEBUG": "1"})
    assert isinstance(result.exception, RuntimeError), result.output


def test_the_journal_filters_are_the_same_options_everywhere(cli):
    options = "--tag --lab --task --phase --week --type --starred --since --until -n"
    options = options.split()
    for command in ("list", "search", "export"):
        result = cli("journal", command, "--help")
        assert result.exit_code == 0, result.output
        found = [o for o in options if f" {o} " in result.stdout]
        assert found == options, (command, result.stdout)


def test_the_filters_reach_the_query(cli, ws):
    assert cli("next").exit_code == 0
    assert cli("log", "Chain rule by hand", "-t", "calc").exit_code == 0
    assert cli("log", "Broadcasting bit me", "--type", "failure").exit_code == 0
    result = cli("journal", "list", "--type", "failure", "--json")
    assert result.exit_code == 0, result.output
    titles = [e["title"] for e in json.loads(result.stdout)["entries"]]
    assert titles == ["Broadcasting bit me"]
    result = cli("journal", "search", "chain", "--tag", "calc", "--json")
    assert [e["title"] for e in json.loads(result.stdout)["entries"]] == [
        "Chain rule by hand"
    ]
    result = cli("journal", "list", "--tag", "nope")
    assert result.exit_code == 0 and "No entries match." in result.stdout
