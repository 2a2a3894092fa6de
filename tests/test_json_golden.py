"""The `--json` output of every command, pinned against goldens in tests/data/golden/.

Each command runs through the real CLI in a temporary workspace. Its stdout must be
one JSON document exactly as `json.dumps(indent=2, ensure_ascii=False)` writes it;
after values that vary from run to run (paths under the temporary folder, commit
hashes, entry ids, dates and times, durations) are replaced by placeholders, it must
equal the golden key for key, in order, value for value.

To regenerate the goldens after an intended change of a schema:

    LABPATH_REGEN_GOLDEN=1 python -m pytest tests/test_json_golden.py

then review the diff of tests/data/golden/ before committing it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labpath import labs

from .conftest import DATA, git

GOLDEN = DATA / "golden"
REGEN = os.environ.get("LABPATH_REGEN_GOLDEN") == "1"
# Values measured in seconds differ on every run; their type is still pinned.
TIMED = {"duration", "seconds", "baseline_seconds"}

_SUBS = [
    (re.compile(r"/\S*/labpath-check-[^/]+"), "<tmpdir>"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<sha>"),
    (re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b"), "<ulid>"),
    (
        re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:?\d\d(:?\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?"),
        "<datetime>",
    ),
    (re.compile(r"\d{8}T\d{6}(-\d+)?"), "<stamp>"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "<date>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<sha12>"),
]


def _normal(value, roots: list[str], key: str | None = None, loose=frozenset()):
    if key in loose:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        return {k: _normal(v, roots, k, loose) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, roots, None, loose) for v in value]
    if isinstance(value, str):
        for root in roots:
            value = value.replace(root, "<tmp>")
        for pattern, placeholder in _SUBS:
            value = pattern.sub(placeholder, value)
        return re.sub(r"^\d\d:\d\d(:\d\d)?$", "<time>", value)
    if key in TIMED and isinstance(value, (int, float)) and value is not True:
        return f"<{type(value).__name__}>"
    return value


def _golden(name: str, stdout: str, tmp_path: Path, loose=frozenset()):
    """Compare one command's stdout with its golden (or write it under REGEN)."""
    data = json.loads(stdout)
    assert stdout == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    roots = sorted({str(tmp_path.resolve()), str(tmp_path)}, key=len, reverse=True)
    got = (
        json.dumps(_normal(data, roots, None, loose), indent=2, ensure_ascii=False)
        + "\n"
    )
    path = GOLDEN / f"{name}.json"
    if REGEN:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), f"no golden {path}; regenerate with LABPATH_REGEN_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8"), name


def _run(cli, tmp_path, name, *args, code=0, env=None):
    r = cli(*args, "--json", env=env)
    assert r.exit_code == code, r.output
    _golden(name, r.stdout, tmp_path)
    return json.loads(r.stdout)


def _editor(tmp_path: Path) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text() + '\\nMore detail.\\n')\n"
    )
    return f"{sys.executable} {script}"


def test_loop_commands_json(cli, ws, tmp_path):
    _run(cli, tmp_path, "next", "next")
    _run(cli, tmp_path, "start", "start", "bigram")
    _run(cli, tmp_path, "hint", "hint", "micrograd")
    _run(cli, tmp_path, "done", "done", "domain-predictor", "--note", "built it")
    _run(cli, tmp_path, "status", "status")
    (ws / "labs" / "micrograd" / "engine.py").write_text("# mine\n")
    _run(cli, tmp_path, "reset", "reset", "micrograd", "--yes")
    _run(cli, tmp_path, "solution", "solution", "micrograd", "--force")
    _run(cli, tmp_path, "check_all_none", "check", "--all")


def test_journal_commands_json(cli, ws, tmp_path):
    assert cli("next").exit_code == 0
    _run(cli, tmp_path, "log", "log", "Residuals keep gradients alive", "-t", "resnet")
    assert cli("log", "A second thought", "--type", "note", "--star").exit_code == 0
    _run(cli, tmp_path, "journal_list", "journal", "list")
    _run(cli, tmp_path, "journal_search", "journal", "search", "gradients")
    _run(cli, tmp_path, "journal_show", "journal", "show", "last")
    _run(cli, tmp_path, "journal_tags", "journal", "tags")
    env = {"EDITOR": _editor(tmp_path)}
    _run(cli, tmp_path, "journal_edit", "journal", "edit", "last", env=env)
    _run(cli, tmp_path, "review", "review")


def test_time_and_admin_commands_json(cli, ws, tmp_path):
    assert cli("next").exit_code == 0
    env = {"LABPATH_TEST_MINUTE": "0.05"}
    _run(cli, tmp_path, "sprint", "sprint", "1", "--no-prompt", env=env)
    _run(cli, tmp_path, "time_add", "time", "add", "45m", "--note", "reading")
    _run(cli, tmp_path, "time_skip", "time", "skip", "tomorrow")
    _run(cli, tmp_path, "time_log", "time", "log")
    _run(cli, tmp_path, "repair_none", "repair")
    prog = ws / ".labpath" / "progress.jsonl"
    git(ws, "commit", "--allow-empty", "-qm", "later work")
    prog.write_text(prog.read_text().replace('"event": "start"', '"x": 1}, oops', 1))
    _run(cli, tmp_path, "repair", "repair")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(ws, "remote", "add", "origin", str(remote))
    _run(cli, tmp_path, "sync", "sync")
    assert cli("log", "Backprop is the chain rule", "--lab", "micrograd").exit_code == 0
    _run(cli, tmp_path, "report", "report")
    _run(cli, tmp_path, "report_lab", "report", "--lab", "micrograd")


@pytest.mark.torch
def test_check_commands_json(cli, ws, tmp_path, monkeypatch):
    assert cli("next").exit_code == 0
    _run(cli, tmp_path, "check_not_started", "check", "micrograd", code=1)
    solution = labs.load("micrograd").solution_dir / "engine.py"
    shutil.copy(solution, ws / "labs" / "micrograd" / "engine.py")
    _run(cli, tmp_path, "check", "check", "micrograd", "--no-prompt")
    _run(cli, tmp_path, "check_all", "check", "--all")
    folder = tmp_path / "elsewhere"
    shutil.copytree(ws / "labs" / "micrograd", folder)
    outside = tmp_path / "nowhere"
    outside.mkdir()
    with monkeypatch.context() as m:
        m.chdir(outside)
        m.setenv("LABPATH_HOME", str(outside / "missing"))
        _run(cli, tmp_path, "check_folder", "check", "micrograd", "--path", folder)
    doctor = cli("doctor", "--json", "--workspace", ws)
    assert doctor.exit_code in (0, 1), doctor.output
    # What this machine has (Python, torch, devices) is not the schema's business.
    _golden("doctor", doctor.stdout, tmp_path, loose={"detail", "ok"})


@pytest.mark.slow
def test_dev_commands_json(cli, tmp_path):
    _run(cli, tmp_path, "dev_check", "dev", "check", "micrograd")
    r = cli("dev", "mutate", "micrograd", "-n", "2", "--json")
    assert r.exit_code in (0, 1), r.output
    _golden("dev_mutate", r.stdout, tmp_path)


def test_data_and_static_dev_commands_json(cli, tmp_path):
    repo = tmp_path / "code"
    repo.mkdir()
    (repo / "app.py").write_text("def add(a, b):\n    return a + b\n" * 20)
    (repo / "keys.py").write_text('api_key = "sk-abcdefghijklmnopqrstuvwx"\n')
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "code"]):
        git(repo, *cmd)
    out = tmp_path / "data"
    _run(
        cli,
        tmp_path,
        "data_code",
        "data",
        "code",
        repo,
        "--out",
        out,
        "--vocab-size",
        300,
    )
    _run(cli, tmp_path, "dev_check_static", "dev", "check", "--static", "micrograd")
