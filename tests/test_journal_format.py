"""Journal entries: ids, names, front matter, and the sample journal."""

import datetime as dt
import re

import yaml

from labpath import journal

from .conftest import ROOT


def test_ids_are_26_char_ulids_sortable_by_time():
    a = journal.new_id(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    b = journal.new_id(dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc))
    assert len(a) == 26 and a < b


def test_title_and_slug():
    assert journal.title_of("\n# Pre-LN fixes my loss\nbody") == "Pre-LN fixes my loss"
    assert journal.slugify("Pre-LN fixes: my loss!") == "pre-ln-fixes-my-loss"


def test_write_never_replaces_an_entry_with_the_same_name(tmp_path):
    when = dt.datetime(2026, 11, 29, 7, 42, 10).astimezone()
    entry = journal.JournalEntry(
        id="X", created=when.isoformat(), title="Same", body="Same"
    )
    first = journal.write(tmp_path, entry, when)
    second = journal.write(tmp_path, entry, when)
    assert first.path != second.path
    assert second.path.endswith("2026-11-29T074210-same-2.md")
    assert journal.count(tmp_path) == 2
    assert not list(tmp_path.rglob("*.tmp"))


def test_rendered_entry_round_trips():
    entry = journal.JournalEntry(
        id="01ABC",
        created="2026-11-29T07:42:10+01:00",
        title="T",
        body="T\n\nbody",
        tags=("a", "b"),
        phase=1,
        week=1,
        task="micrograd",
        lab="micrograd",
        check={"status": "passed", "passed": 20, "total": 20},
    )
    front, body = journal.parse(journal.render(entry))
    assert front["id"] == "01ABC" and front["tags"] == ["a", "b"]
    assert front["check"]["passed"] == 20 and "commit" not in front
    assert body == "T\n\nbody\n"


def test_sample_journal_follows_the_documented_format():
    files = journal.entry_files(ROOT / "journal" / "sample")
    assert len(files) >= 3
    documented = {
        "id",
        "created",
        "type",
        "title",
        "tags",
        "starred",
        "phase",
        "week",
        "task",
        "lab",
        "check",
        "commit",
    }
    for f in files:
        front, body = journal.parse(f.read_text())
        assert set(front) <= documented
        assert front["type"] in journal.ENTRY_TYPES
        assert body.startswith(front["title"])
        yaml.safe_dump(front)


# --- the format document (journal/README.md) is the golden reference ---------------------

FORMAT_DOC = (ROOT / "journal" / "README.md").read_text(encoding="utf-8")


def test_the_documented_example_entry_is_what_render_writes():
    example = re.search(
        r"## What an entry looks like\n\n```markdown\n(.*?)```", FORMAT_DOC, re.S
    )[1]
    entry = journal.from_text(example)
    assert entry.id == "01KB0V8N3Q7X2C9B5N1T0R8PZD" and entry.check["passed"] == 14
    assert journal.render(entry) == example


def test_the_documented_keys_are_the_keys_labpath_writes_in_that_order():
    rows = re.findall(r"^\| ((?:`\w+`(?:, )?)+) \|", FORMAT_DOC, re.M)
    documented = tuple(k for row in rows for k in re.findall(r"`(\w+)`", row))
    assert documented == journal.KNOWN_KEYS
    full = journal.JournalEntry(
        id="01ABC",
        created="2026-11-29T07:42:10+01:00",
        title="T",
        body="T",
        tags=("a",),
        starred=True,
        phase=1,
        week=2,
        task="micrograd",
        lab="micrograd",
        check={"status": "passed", "passed": 1, "total": 1},
        commit="abc",
        plots=("p.png",),
        modified="2026-11-30T08:00:00+01:00",
    )
    front, _ = journal.parse(journal.render(full))
    assert tuple(front) == journal.KNOWN_KEYS


def test_entry_paths_are_the_documented_names():
    assert "journal/YYYY/MM/YYYY-MM-DDTHHMMSS-<slug>.md" in FORMAT_DOC
    when = dt.datetime(2026, 11, 29, 7, 42, 10)
    path = journal.entry_path(ROOT / "journal", when, "Gradients add up!")
    assert path == ROOT / "journal/2026/11/2026-11-29T074210-gradients-add-up.md"
