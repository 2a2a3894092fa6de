"""Every test runs in its own home: LABPATH_HOME in tmp_path, git identity, no colour."""

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labpath.cli import app

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
# Fixture data, never tests of this project: the tiny lab's checks/ runs only in a
# check child, against a learner's folder.
collect_ignore = ["data"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LABPATH_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Learner")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "learner@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Learner")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "learner@example.com")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("LABPATH_DEBUG", raising=False)
    monkeypatch.delenv("LABPATH_LABS", raising=False)
    # labpath's cache lives under the test's own HOME
    monkeypatch.delenv("LABPATH_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    # No test leaves a warm check server behind; tests/test_check_server.py turns it on.
    monkeypatch.setenv("LABPATH_CHECK_SERVER", "0")
    monkeypatch.chdir(tmp_path)
    from labpath import vcs

    # the identity warning is once per process
    monkeypatch.setattr(vcs, "_warned", False)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Learner\n\temail = learner@example.com\n"
    )
    return tmp_path


@pytest.fixture()
def ws(isolated):
    return isolated / "ws"


@pytest.fixture()
def workspace(cli, ws):
    """A workspace made with `labpath init`, following the built-in curriculum."""
    assert cli("init", ws).exit_code == 0
    return ws


@pytest.fixture()
def started(cli, ws):
    """A workspace after the first `labpath next`: micrograd scaffolded and current."""
    result = cli("next")
    assert result.exit_code == 0, result.output
    return ws


@pytest.fixture()
def cli():
    """Invoke labpath in-process; stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args, input=None, env=None):
        return runner.invoke(app, [str(a) for a in args], input=input, env=env)

    return invoke


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def commits(root: Path) -> list[str]:
    """Commit subjects, newest first."""
    return git(root, "log", "--format=%s").splitlines()


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone, for asserting on long messages."""
    return " ".join(text.split())
