"""Hostile input: every fixable mistake is one clear Error line and exit 2, never a crash."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import DATA, ROOT, commits

FUZZ = DATA / "fuzz"
SETTINGS = sorted((FUZZ / "settings").iterdir())
CURRICULA = sorted((FUZZ / "curriculum").iterdir())
ARGS = [json.loads(line) for line in (FUZZ / "args.jsonl").read_text().splitlines()]
VALID = DATA / "curricula" / "valid" / "01-basics.yaml"


def assert_clean_error(r, stderr=None, code=None):
    """Exit 2, exactly one Error: line, no traceback and no 'internal error'."""
    stderr = r.stderr if stderr is None else stderr
    code = r.exit_code if code is None else code
    assert code == 2, stderr + getattr(r, "stdout", "")
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr


_template = {}


@pytest.fixture()
def started(cli, ws, tmp_path_factory):
    """A workspace with micrograd scaffolded, copied from one made once per run."""
    if "path" not in _template:
        assert cli("next").exit_code == 0
        _template["path"] = tmp_path_factory.mktemp("fuzz") / "ws"
        shutil.copytree(ws, _template["path"], symlinks=True)
    else:
        shutil.copytree(_template["path"], ws, symlinks=True)
    return ws


@pytest.mark.parametrize("case", SETTINGS, ids=[p.stem for p in SETTINGS])
def test_a_bad_settings_file_is_one_clear_error(cli, started, case):
    (started / "labpath.yaml").write_bytes(case.read_bytes())
    assert_clean_error(cli("status"))


@pytest.mark.parametrize("case", CURRICULA, ids=[p.stem for p in CURRICULA])
def test_a_bad_curriculum_file_is_one_clear_error(cli, started, tmp_path, case):
    folder = tmp_path / "cur"
    folder.mkdir()
    shutil.copy(case, folder / "01-basics.yaml")
    assert_clean_error(cli("status", "--curriculum", folder))


@pytest.mark.parametrize("args", ARGS, ids=[" ".join(a) or "-" for a in ARGS])
def test_bad_arguments_are_one_clear_error(cli, started, args):
    assert_clean_error(cli(*args))


@pytest.mark.parametrize(
    "stdin",
    [bytes(range(256)), b"a NUL\x00 in the middle", b"\xff\xfe\x00binary"],
    ids=["all bytes", "nul", "not utf-8"],
)
def test_binary_log_text_is_refused_and_nothing_saved(cli, started, stdin):
    assert_clean_error(cli("log", "-", input=stdin))
    assert not list((started / "journal").rglob("*.md"))


def _labpath(args, ws, timeout=60):
    env = {**os.environ, "LABPATH_HOME": str(ws), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "labpath", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("kind", ["named pipe", "folder", "broken link"])
def test_a_yaml_name_that_is_not_a_file_never_hangs_the_loader(started, tmp_path, kind):
    folder = tmp_path / "cur"
    folder.mkdir()
    shutil.copy(VALID, folder / "01-basics.yaml")
    odd = folder / "02-odd.yaml"
    if kind == "named pipe":
        os.mkfifo(odd)
    elif kind == "folder":
        odd.mkdir()
    else:
        odd.symlink_to(tmp_path / "gone.yaml")
    proc = _labpath(["status", "--curriculum", str(folder)], started)
    assert_clean_error(proc, proc.stderr, proc.returncode)
    assert "02-odd.yaml" in proc.stderr


def _can_mount() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs unshare -m to mount a small disk")
@pytest.mark.parametrize("how", ["full disk", "read-only"])
def test_a_full_disk_or_read_only_workspace_is_a_clear_error(tmp_path, how):
    disk = tmp_path / "disk"
    disk.mkdir()
    ws = disk / "ws"
    fill = (
        f"dd if=/dev/zero of={disk}/fill bs=4k >/dev/null 2>&1 || sync"
        if how == "full disk"
        else f"mount -o remount,ro {disk}"
    )
    script = f"""
set -e
mount -t tmpfs -o size=4m tmpfs {disk}
{sys.executable} -m labpath init {ws} >/dev/null 2>&1
{fill}
set +e
{sys.executable} -m labpath log "an idea" --workspace {ws} 2>{tmp_path}/err
echo $? > {tmp_path}/rc
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        ["unshare", "-m", "sh", "-c", script], env=env, check=True, timeout=120
    )
    stderr = (tmp_path / "err").read_text()
    assert_clean_error(None, stderr, int((tmp_path / "rc").read_text()))
    word = "no space left" if how == "full disk" else "read-only file system"
    assert word in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["reset", "", "--yes"],
        ["check", " "],
        ["hint", ""],
        ["solution", ""],
        ["done", ""],
        ["report", "--lab", ""],
        ["time", "add", "5m", "--task", ""],
    ],
)
def test_an_empty_id_is_refused_not_taken_for_the_current_task(cli, started, args):
    engine = started / "labs" / "micrograd" / "engine.py"
    engine.write_text("# my work\n")
    before = commits(started)
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert "is empty" in r.stderr and "Traceback" not in r.output
    assert engine.read_text() == "# my work\n" and commits(started) == before
