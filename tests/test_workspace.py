"""Workspace resolution, creation and settings."""

import datetime as dt

import pytest

from labpath import workspace
from labpath.errors import UsageError

from .conftest import commits, git


def test_resolution_order(tmp_path, monkeypatch):
    monkeypatch.delenv("LABPATH_HOME")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "a" / "labpath.yaml").write_text("format_version: 1\n")
    assert workspace.find("explicit", cwd=nested) == (tmp_path / "explicit").resolve()
    assert workspace.find(None, cwd=nested) == tmp_path / "a"
    monkeypatch.setenv("LABPATH_HOME", str(tmp_path / "env"))
    assert workspace.find(None, cwd=nested) == tmp_path / "env"
    monkeypatch.delenv("LABPATH_HOME")
    assert workspace.find(None, cwd=tmp_path) == workspace.default_home()


def test_init_creates_layout_repo_and_first_commit(tmp_path):
    ws, created, result = workspace.init(tmp_path / "w", today=dt.date(2026, 11, 29))
    assert created and result.sha
    for name in (
        "labpath.yaml",
        ".gitignore",
        ".gitattributes",
        "labs",
        "journal",
        ".labpath",
    ):
        assert (ws.root / name).exists()
    assert ws.settings.start_date == "2026-11-29"
    assert ws.settings.weekly_hours == (5.0, 10.0)
    assert commits(ws.root) == ["labpath: set up the workspace"]
    assert "merge=union" in (ws.root / ".gitattributes").read_text()


def test_init_twice_changes_nothing(tmp_path):
    workspace.init(tmp_path / "w")
    ws, created, result = workspace.init(tmp_path / "w")
    assert not created and result is None
    assert len(commits(ws.root)) == 1


def test_init_inside_an_existing_repository_keeps_the_learners_files(tmp_path):
    repo = tmp_path / "notes"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("secret.txt\n")
    (repo / "draft.md").write_text("mine\n")
    git(repo, "add", "draft.md")  # staged, not committed: labpath must leave it staged
    workspace.init(repo)
    assert "secret.txt" in (repo / ".gitignore").read_text()
    assert "__pycache__/" in (repo / ".gitignore").read_text()
    assert "draft.md" not in git(repo, "show", "--name-only", "--format=", "HEAD")
    assert "A  draft.md" in git(repo, "status", "--porcelain")


def test_settings_validation(tmp_path):
    root = tmp_path / "w"
    workspace.init(root)
    (root / "labpath.yaml").write_text("weekly_hours: [10, 5]\n")
    with pytest.raises(UsageError, match="weekly_hours"):
        workspace.read_settings(root)
    (root / "labpath.yaml").write_text("start_date: soon\n")
    with pytest.raises(UsageError, match="not a date"):
        workspace.read_settings(root)
    (root / "labpath.yaml").write_text("format_version: 9\n")
    with pytest.raises(UsageError) as err:
        workspace.read_settings(root)
    assert "upgrade labpath" in err.value.hint
    (root / "labpath.yaml").write_text("a: [\n")
    with pytest.raises(UsageError, match="malformed YAML"):
        workspace.read_settings(root)


def test_workspace_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        workspace.open_workspace(str(f))
    with pytest.raises(UsageError, match="it is a file"):
        workspace.init(f)


def test_settings_refuse_yaml_aliases_before_expanding_them(tmp_path):
    import time

    root = tmp_path / "w"
    workspace.init(root)
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for n in range(1, 9):
        bomb.append(
            f"{chr(97 + n)}: &{chr(97 + n)} "
            + "["
            + ",".join([f"*{chr(96 + n)}"] * 9)
            + "]"
        )
    bomb.append("editor: *i")
    (root / "labpath.yaml").write_text("\n".join(bomb) + "\n")
    began = time.process_time()
    with pytest.raises(UsageError) as err:
        workspace.read_settings(root)
    assert time.process_time() - began < 2  # expanding it would take about a minute
    assert "aliases" in err.value.message and "line 1" in err.value.message


@pytest.mark.parametrize(
    "text, words",
    [
        ("format_version: '1'\n", ["format_version must be the number 1, got '1'"]),
        ("format_version: 0\n", ["format_version must be the number 1"]),
        ("start_date: 2026-13-45\n", ["start_date '2026-13-45' is not a date"]),
        ("weekly_hours: [1, .inf]\n", ["weekly_hours"]),
        ('editor: "code --wait\n', ["malformed YAML"]),
        ('editor: code "--wait\n', ["cannot be split", "balance its quotes"]),
        ("x" * 1000 + ": 1\n", ["unknown setting 'xxxxxxxxx", "..."]),
    ],
)
def test_settings_values_are_checked_and_shown_safely(tmp_path, text, words):
    root = tmp_path / "w"
    workspace.init(root)
    (root / "labpath.yaml").write_text(text)
    with pytest.raises(UsageError) as err:
        workspace.read_settings(root)
    message = f"{err.value.message} {err.value.hint}"
    for w in words:
        assert w in message
    assert "upgrade" not in message and len(err.value.message) < 300
