"""Entries tied to the work: lab, code commit, last check and its plots; the first-pass prompt."""

import json
import shutil

import pytest

from labpath import journal, progress, ui

from .conftest import ROOT, git


def test_an_entry_records_the_lab_commit_last_check_and_its_plots(cli, ws):
    assert cli("init", ws).exit_code == 0
    assert cli("next").exit_code == 0
    plot = ws / ".labpath" / "artifacts" / "micrograd" / "20261129T070000" / "loss.png"
    plot.parent.mkdir(parents=True)
    plot.write_bytes(b"\x89PNG fake")
    # a check run on a folder outside the workspace
    outside = ws.parent / "elsewhere.png"
    outside.write_bytes(b"\x89PNG fake")
    progress.record(
        ws / ".labpath" / "progress.jsonl",
        "check",
        "micrograd",
        lab="micrograd",
        status="failed",
        passed=14,
        total=20,
        plots=[str(plot.relative_to(ws)), ".labpath/artifacts/gone.png", str(outside)],
    )
    git(ws, "add", ".labpath/progress.jsonl")
    git(ws, "commit", "-qm", "a check")
    head = git(ws, "rev-parse", "HEAD").strip()
    r = cli("log", "The loss plot shows it", "--json")
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)
    assert e["lab"] == "micrograd" and e["commit"] == head
    assert e["check"]["passed"] == 14 and e["check"]["status"] == "failed"
    # a plot that is gone is not listed
    assert e["plots"] == [str(plot.relative_to(ws))]
    tracked = git(ws, "ls-files", ".labpath/artifacts").split()
    assert tracked == [str(plot.relative_to(ws))]  # committed with the entry
    md = journal.to_markdown(
        [journal.read_entry(__import__("pathlib").Path(e["path"]))], "Post", ws, ws
    )
    assert "![loss](.labpath/artifacts/micrograd/20261129T070000/loss.png)" in md


@pytest.mark.torch
@pytest.mark.slow
def test_first_pass_asks_what_clicked_and_saves_an_aha(cli, ws, monkeypatch):
    assert cli("init", ws).exit_code == 0
    assert cli("next").exit_code == 0
    for f in (ROOT / "labpath" / "labs" / "micrograd" / "solution").glob("*.py"):
        shutil.copy(f, ws / "labs" / "micrograd" / f.name)
    monkeypatch.setattr(ui, "interactive", lambda: True)
    r = cli("check", "micrograd", input="Topological order makes backward one loop\n")
    assert r.exit_code == 0, r.output
    assert "What clicked?" in r.stderr
    (e,) = journal.load_all(ws / "journal")
    assert e.type == "aha" and e.lab == "micrograd" and e.check["status"] == "passed"
    r = cli("check", "micrograd", input="should not be asked\n")
    assert r.exit_code == 0, r.output
    assert (
        "What clicked?" not in r.stderr and len(journal.load_all(ws / "journal")) == 1
    )


def test_no_prompt_when_not_interactive(monkeypatch):
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    assert not ui.interactive()
