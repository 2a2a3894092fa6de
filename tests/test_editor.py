"""The editor: which one runs, the check before it runs, and running a real one."""

import stat

import pytest

from labpath import editor
from labpath.errors import UsageError


def _script(folder, name, body):
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_labpath_yaml_then_visual_then_editor(monkeypatch):
    assert editor.resolve(None) is None
    monkeypatch.setenv("EDITOR", "nano")
    assert editor.resolve(None) == "nano"
    monkeypatch.setenv("VISUAL", "code --wait")
    assert editor.resolve(None) == "code --wait"
    assert editor.resolve("vim -u NONE") == "vim -u NONE"


def test_an_editor_that_cannot_be_split_is_refused_before_it_runs(monkeypatch):
    monkeypatch.setenv("EDITOR", 'code "--wait')
    with pytest.raises(UsageError, match="cannot be split") as exc:
        editor.resolve(None)
    assert "balance its quotes" in exc.value.hint
    with pytest.raises(UsageError, match="is empty"):
        editor.command("   ")


def test_run_returns_what_the_editor_saved_and_removes_its_file(tmp_path):
    ed = _script(tmp_path, "ed", 'printf "edited\\n$(cat "$1")" > "$1"\n')
    tmp = tmp_path / "tmp"
    assert editor.run(str(ed), "before", tmp) == "edited\nbefore"
    assert editor.function(str(ed), tmp)("x") == "edited\nx"
    assert list(tmp.iterdir()) == []


def test_a_missing_or_failing_editor_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found") as exc:
        editor.run(str(tmp_path / "no-such-editor"), "text", tmp_path / "tmp")
    assert "$EDITOR" in exc.value.hint
    bad = _script(tmp_path, "bad", "exit 3\n")
    with pytest.raises(UsageError, match="exited with status 3; nothing saved"):
        editor.run(str(bad), "text", tmp_path / "tmp")
    assert list((tmp_path / "tmp").iterdir()) == []
