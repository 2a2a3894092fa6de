"""Odd journal entry files (tests/data/journal/): every command that reads them survives."""

import json
import os
import re
import shutil

import pytest

from labpath import journal

from .conftest import DATA, flat

CORPUS = sorted((DATA / "journal").glob("*.md"))
ESC = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture()
def odd(cli, ws):
    assert cli("init", ws).exit_code == 0
    folder = ws / "journal" / "2026" / "11"
    folder.mkdir(parents=True)
    for f in CORPUS:
        shutil.copy(f, folder / f.name)
    outside = ws.parent / "secret.md"
    outside.write_text("---\ntitle: Outside the workspace\n---\n\nsecret\n")
    os.symlink(outside, folder / "2026-11-20T101400-symlinked.md")
    return ws


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem[18:])
def test_each_odd_file_reads_as_clean_typed_fields(path):
    entry, _ = journal.read_checked(path)
    for name in ("id", "created", "title", "type", "task", "lab", "commit", "modified"):
        value = getattr(entry, name)
        assert value is None or isinstance(value, str), name
        assert not ESC.search(value or ""), (name, value)
        assert "\n" not in (value or ""), name
    assert "[" not in entry.id and "[" not in entry.type
    assert not ESC.search(entry.body)
    for name in ("phase", "week"):
        value = getattr(entry, name)
        assert value is None or (type(value) is int), (name, value)
    assert isinstance(entry.starred, bool)
    assert all(isinstance(t, str) and t for t in entry.tags)
    assert all(isinstance(p, str) for p in entry.plots)
    if entry.check is not None:
        assert set(entry.check) <= {"status", "passed", "total", "at"}
        for key in ("passed", "total"):
            assert type(entry.check.get(key, 0)) is int
    json.dumps(journal.to_json([entry]))


def test_an_alias_bomb_is_refused_not_expanded():
    path = next(p for p in CORPUS if "alias-bomb" in p.name)
    entry, problem = journal.read_checked(path)
    assert "anchors or aliases" in problem
    assert entry.id == path.stem  # nothing from the refused front matter is used


def test_journal_list_report_and_review_survive_the_corpus(cli, odd):
    result = cli("journal", "list")
    assert result.exit_code == 0, result.output
    err = flat(result.stderr)
    assert "symlinked.md: it is a symbolic link" in err
    assert "invalid-utf8.md: it is not valid UTF-8 (byte 0xe9" in err
    assert "alias-bomb.md: its front matter uses YAML anchors or aliases" in err
    assert "malformed-yaml.md: its front matter is not valid YAML" in err
    assert "Outside the workspace" not in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Latin-1 bytes" in result.stdout  # invalid UTF-8 is shown, not dropped
    assert "[link=file:///etc/passwd]click[/link]" in result.stdout  # shown as text
    result = cli("journal", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["entries"]
    assert len(listed) == len(CORPUS)
    assert cli("journal", "list").stderr.count("symbolic link") == 1  # cached reads too
    for args in (
        ["review", "--list"],
        ["review", "--json"],
        ["report"],
        ["report", "--lab", "micrograd"],
        ["status"],
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "internal error" not in result.output


def test_duplicate_ids_are_told_apart_by_file_name(cli, odd):
    result = cli("journal", "show", "01KDUPLICATE00000000000000")
    assert result.exit_code == 2, result.output
    err = flat(result.stderr)
    assert "2 journal entries have the id" in err
    assert "2026-11-20T100700-duplicate-id-one" in err
    result = cli("journal", "show", "2026-11-20T100800-duplicate-id-two")
    assert result.exit_code == 0, result.output
    assert "Second of two with one id" in result.stdout


def test_doctor_names_the_entry_files_it_cannot_read(cli, odd):
    result = cli("doctor", "--json")
    found = {f["name"]: f for f in json.loads(result.stdout)["findings"]}
    assert not found["journal"]["ok"]
    assert (
        "symlinked.md" in found["journal"]["detail"]
        or "..." in (found["journal"]["detail"])
    )
    assert result.exit_code == 1
