"""Start-up stays light: the CLI, and the commands that run no checks, load no heavy module."""

import os
import subprocess
import sys

import pytest

from .conftest import ROOT

# Never loaded by `import labpath.cli`: each costs start-up time on every command.
HEAVY = ("torch", "pytest", "git", "matplotlib", "numpy", "fsrs", "yaml")


@pytest.mark.parametrize("bare", [False, True], ids=["environment", "bare"])
def test_importing_the_cli_loads_no_heavy_module(bare):
    code = f"import sys, labpath.cli; print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    env = {"PYTHONPATH": str(ROOT), "PATH": ""} if bare else None
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--help"], ["status"], ["log", "x"], ["done", "x"]])
def test_commands_without_checks_never_import_heavy_modules(args, started):
    code = (
        "import sys\nfrom labpath.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'pytest', 'matplotlib', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "LABPATH_HOME": str(started)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


SLOW = ("git", "yaml", "rich.console")
# What a command that only reads (or writes no commit) never needs either.
EXTRA = {
    "status": ("hashlib", "tempfile"),
    "next": ("hashlib",),
    "log": (
        "labpath.app.journal_edit",
        "labpath.journal.query",
        "hashlib",
        "tempfile",
        "secrets",
        "pickle",
    ),
}


@pytest.mark.parametrize(
    "args", [["--help"], ["status"], ["next"], ["log", "x", "--type", "note"]]
)
def test_the_everyday_commands_import_no_git_yaml_or_rich_console(args, started):
    # GitPython, PyYAML and Rich's console are each a large share of start-up
    code = (
        "import sys\nfrom labpath.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        f"slow = [m for m in {SLOW + EXTRA.get(args[0], ())!r} if m in sys.modules]\n"
        "print('SLOW', slow)\n"
    )
    env = {**os.environ, "LABPATH_HOME": str(started)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert "SLOW []" in out.stdout, out.stdout + out.stderr


def test_a_second_log_reads_progress_from_the_cache_without_json(started):
    env = {**os.environ, "LABPATH_HOME": str(started)}
    code = (
        "import sys\nfrom labpath.cli import app\n"
        "try:\n    app(['log', sys.argv[1], '--type', 'note'])\nexcept SystemExit:\n    pass\n"
        "print('JSON', 'json' in sys.modules)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, text], capture_output=True, text=True, env=env
        )
        for text in ("first entry", "second entry")
    ]
    assert "JSON False" in runs[1].stdout, runs[1].stdout + runs[1].stderr
    assert len(list((started / "journal").rglob("*.md"))) >= 2


def test_help_lists_every_command_with_its_summary():
    out = subprocess.run(
        [sys.executable, "-m", "labpath", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"},
        check=True,
    )
    listed = out.stdout.split("Commands:")[1].split()
    for name in ("init", "next", "check", "log", "status", "run", "quiz", "journal"):
        assert name in listed, out.stdout
    assert "Run a lab's checks against your code." in out.stdout


def test_a_mistyped_command_gets_a_suggestion():
    out = subprocess.run(
        [sys.executable, "-m", "labpath", "stauts"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 2
    assert "No such command 'stauts'. Did you mean 'status'" in out.stderr


def test_a_reader_that_closes_the_pipe_stops_labpath_quietly(started):
    read, write = os.pipe()
    os.close(read)  # every write now fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "labpath", "status"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "LABPATH_HOME": str(started)},
        )
    finally:
        os.close(write)
    assert proc.returncode == 141
    assert proc.stderr == ""


@pytest.mark.parametrize(
    "args, code", [(["status"], 0), (["check", "no-such-lab"], 2)], ids=["ok", "error"]
)
def test_the_exit_skips_the_final_collection_and_keeps_exit_handlers(
    args, code, started
):
    # The objects a command made are frozen on the way out, so the interpreter's exit
    # does not walk them all again; its exit handlers, output and exit code stay.
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('FROZEN', gc.get_freeze_count() > 0))\n"
        f"sys.argv = ['labpath', *{args!r}]\n"
        "from labpath.cli import main\nmain()\n"
    )
    env = {**os.environ, "LABPATH_HOME": str(started), "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert out.returncode == code, out.stderr
    assert out.stdout.rstrip().endswith("FROZEN True"), out.stdout
    if code:
        assert "no lab 'no-such-lab'" in out.stderr
