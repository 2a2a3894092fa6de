"""Journal entries: reading back, filters, dates, the index, edit, star and export."""

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from labpath import journal, workspace
from labpath.errors import UsageError
from labpath.journal import store

from .conftest import ROOT, commits, git

SAMPLE = ROOT / "journal" / "sample"
TZ = dt.timezone(dt.timedelta(hours=1))
NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=TZ)  # a Wednesday


def entry(**kw):
    base = dict(id="01AAAA", created="2026-11-20T07:00:00+01:00", title="t", body="t")
    return journal.JournalEntry(**{**base, **kw})


def test_sample_entries_read_back_with_their_keys():
    es = journal.load_all(SAMPLE)
    assert len(es) == 3
    first = es[0]
    assert first.title == "Gradients add up when a node is reused"
    assert first.tags == ("micrograd", "backprop") and first.starred
    assert first.check["passed"] == 14 and first.lab == "micrograd"


def test_unknown_front_matter_keys_survive_a_rewrite():
    text = (
        "---\nid: X1\ncreated: 2026-11-01T08:00:00+01:00\ntitle: Hi\nmood: great\n"
        "aliases: [a, b]\n---\n\nHi\n\nbody"
    )
    e = journal.from_text(text, "f.md")
    assert e.extra == {"mood": "great", "aliases": ["a", "b"]}
    again = journal.from_text(
        journal.render(journal.JournalEntry(**{**e.__dict__, "starred": True}))
    )
    assert again.extra == e.extra and again.starred and again.created == e.created


def test_obsidian_date_key_is_read_as_created():
    e = journal.from_text("---\ndate: 2026-11-03\ntags: a, b\n---\nBody line\n")
    assert (
        e.created.startswith("2026-11-03")
        and e.tags == ("a", "b")
        and e.title == "Body line"
    )


@pytest.mark.parametrize(
    "text,end,expected",
    [
        ("today", False, "2026-11-25T00:00"),
        ("yesterday", True, "2026-11-24T23:59"),
        ("last monday", False, "2026-11-23T00:00"),
        ("wednesday", False, "2026-11-25T00:00"),
        ("last wednesday", False, "2026-11-18T00:00"),
        ("3 days ago", False, "2026-11-22T00:00"),
        ("2 weeks ago", False, "2026-11-11T00:00"),
        ("this week", False, "2026-11-23T00:00"),
        ("last week", False, "2026-11-16T00:00"),
        ("last month", False, "2026-10-01T00:00"),
        ("2026-12-01", True, "2026-12-01T23:59"),
        ("2026-12-01T08:15", False, "2026-12-01T08:15"),
    ],
)
def test_dates_people_type(text, end, expected):
    assert journal.parse_when(text, NOW, end=end).isoformat().startswith(expected)


def test_an_unreadable_date_names_the_forms_it_accepts():
    with pytest.raises(UsageError) as exc:
        journal.parse_when("next blursday", NOW)
    assert "last monday" in exc.value.hint


def test_filters_combine_and_results_come_newest_first():
    es = [
        entry(
            id="A", created="2026-11-20T07:00:00+01:00", tags=("x",), lab="mlp", week=2
        ),
        entry(
            id="B",
            created="2026-11-22T07:00:00+01:00",
            tags=("x", "y"),
            starred=True,
            body="Tanh saturates",
            lab="mlp",
            week=2,
        ),
        entry(
            id="C",
            created="2026-11-24T07:00:00+01:00",
            type="note",
            lab="bigram",
            week=2,
        ),
    ]
    ids = lambda q: [e.id for e in journal.select(es, q)]
    assert ids(journal.Query()) == ["C", "B", "A"]
    assert ids(journal.Query(tags=("x", "y"))) == ["B"]
    assert ids(journal.Query(lab="mlp", limit=1)) == ["B"]
    assert ids(journal.Query(text=("TANH",))) == ["B"]
    assert ids(journal.Query(starred=True)) == ["B"]
    assert ids(journal.Query(type="note")) == ["C"]
    q = journal.make_query(since="2026-11-21", until="2026-11-22", now=NOW)
    assert ids(q) == ["B"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"type": "idea"}, "unknown entry type"),
        ({"limit": 0}, "-n must be at least 1"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "is after --until"),
    ],
)
def test_bad_filters_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        journal.make_query(now=NOW, **kwargs)


def test_find_by_prefix_last_and_ambiguity():
    es = [entry(id="01ABC"), entry(id="01ABD", created="2026-11-21T07:00:00+01:00")]
    assert journal.find(es, "01abc").id == "01ABC"
    assert journal.find(es, "last").id == "01ABD"
    with pytest.raises(UsageError, match="matches 2 entries"):
        journal.find(es, "01AB")
    with pytest.raises(UsageError, match="no journal entry"):
        journal.find(es, "ZZZ")
    with pytest.raises(UsageError, match="journal is empty"):
        journal.find([], "last")


def _sample_copy(tmp_path):
    """A copy of the sample journal to change, and where its index goes."""
    jdir = tmp_path / "journal"
    for p in SAMPLE.rglob("*.md"):
        dest = jdir / p.relative_to(SAMPLE)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(p.read_text())
    return jdir, tmp_path / "index.marshal"


def test_index_is_reused_and_refreshed_when_a_file_changes(tmp_path):
    jdir, index = _sample_copy(tmp_path)
    assert len(journal.load_all(jdir, index)) == 3
    assert len(store._read_index(index)) == 3
    victim = sorted(jdir.rglob("*.md"))[0]
    victim.write_text(
        victim.read_text().replace("Gradients add up", "Gradients accumulate")
    )
    assert journal.load_all(jdir, index)[0].title.startswith("Gradients accumulate")
    index.write_text("{not json")
    assert len(journal.load_all(jdir, index)) == 3  # a corrupt cache is rebuilt
    victim.unlink()
    assert len(journal.load_all(jdir, index)) == 2


@pytest.mark.parametrize("cut", [0, 10, 40, 200, -1])
def test_a_cut_or_scribbled_index_is_rebuilt_from_the_entries(tmp_path, cut):
    jdir, index = _sample_copy(tmp_path)
    expected = journal.load_all(jdir)
    assert journal.load_all(jdir, index) == expected
    data = index.read_bytes()
    index.write_bytes(data[:cut])  # cut: the last byte, or the header, or all of it
    assert journal.load_all(jdir, index) == expected
    assert index.read_bytes() == data  # and saved again whole
    victim = sorted(jdir.rglob("*.md"))[0]
    victim.write_text(victim.read_text().replace("Gradients add up", "Sums of grads"))
    scribbled = bytearray(data)
    scribbled[-50:] = b"\xff" * 50  # the blobs' tail, under a header that looks fine
    index.write_bytes(bytes(scribbled))
    got = journal.load_all(jdir, index)
    assert len(got) == 3 and any(e.title.startswith("Sums of grads") for e in got)


def test_an_entry_that_vanishes_between_listing_and_stat_is_passed_over(
    tmp_path, monkeypatch
):
    import os

    jdir, index = _sample_copy(tmp_path)
    victim = str(sorted(jdir.rglob("*.md"))[0])
    real = os.lstat

    def lstat(path, *a, **kw):
        if str(path) == victim:
            raise FileNotFoundError(2, "No such file or directory", path)
        return real(path, *a, **kw)

    monkeypatch.setattr(os, "lstat", lstat)
    assert sorted(e.path for e in journal.load_all(jdir, index)) == sorted(
        str(p) for p in jdir.rglob("*.md") if str(p) != victim
    )
    monkeypatch.setattr(os, "lstat", real)  # it is back: the next read sees it
    assert len(journal.load_all(jdir, index)) == 3


def test_an_index_scribbled_on_under_a_sound_header_never_stops_a_command(tmp_path):
    """Nothing changed in the journal, so the saved index is used as it is: where a
    scribble makes it undecodable, the command rebuilds it from the entries (one
    that still decodes is not noticed: it is a cache, not a copy of the journal)."""
    jdir, index = _sample_copy(tmp_path)
    journal.load_all(jdir, index)
    data = index.read_bytes()
    for at in range(len(data) // 3, len(data) - 8, 7):
        scribbled = bytearray(data)
        scribbled[at : at + 8] = b"\xff" * 8
        index.write_bytes(bytes(scribbled))
        assert len(journal.load_all(jdir, index)) == 3, at
        index.write_bytes(bytes(scribbled))
        store.load_index(jdir, index)  # the scribbled index, read as a search reads it
        found = store.read_through(
            jdir, index, None, lambda ix: [ix.row(i)[2] for i in ix.newest_with(["a"])]
        )
        assert len(found) <= 3, at  # a scribble on the texts may hide a match


def test_markdown_export_is_one_document_oldest_first(tmp_path):
    es = journal.load_all(SAMPLE)
    md = journal.to_markdown(list(reversed(es)), "November", None, None)
    assert md.startswith("# November\n")
    assert md.index("Gradients add up") < md.index("Counting is a one-layer")
    assert md.count("## ") == 3


# --- through the command line -------------------------------------------------------------


@pytest.fixture()
def logged(cli, ws):
    r = cli("init", ws)
    assert r.exit_code == 0, r.output
    for args in (
        ["Residuals keep gradients alive", "-t", "resnet"],
        ["Tanh saturates at large inputs", "--star", "--lab", "mlp"],
        ["A plain note", "--type", "note"],
    ):
        r = cli("log", *args)
        assert r.exit_code == 0, r.output
    return ws


def test_list_search_show_and_json(cli, logged):
    r = cli("journal", "list")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and "A plain note" in lines[0]
    r = cli("journal", "search", "tanh", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [e["title"] for e in data["entries"]] == ["Tanh saturates at large inputs"]
    assert data["entries"][0]["lab"] == "mlp" and data["entries"][0]["starred"]
    r = cli("journal", "list", "--starred", "--tag", "resnet")
    assert r.exit_code == 0, r.output
    assert "No entries match" in r.stdout
    r = cli("journal", "list", "--type", "note", "-n", "1", "--since", "today")
    assert r.exit_code == 0, r.output
    assert "A plain note" in r.stdout
    r = cli("journal", "show")
    assert r.exit_code == 0, r.output
    assert "A plain note" in r.stdout


def test_journal_errors_exit_2_with_a_hint(cli, logged):
    r = cli("journal", "list", "--since", "someday")
    assert r.exit_code == 2, r.output
    assert "Error: cannot read the date 'someday'" in r.stderr and "Hint:" in r.stderr
    r = cli("journal", "show", "NOPE")
    assert r.exit_code == 2, r.output
    r = cli("journal", "export", "--format", "pdf")
    assert r.exit_code == 2, r.output
    assert "expected md or json" in r.stderr
    r = cli("journal", "edit", "last")
    assert r.exit_code == 2, r.output
    assert "no editor set" in r.stderr


def test_journal_outside_a_workspace_says_how_to_start(cli, ws):
    r = cli("journal", "list")
    assert r.exit_code == 2, r.output
    assert "labpath init" in r.stderr


def test_export_markdown_and_json_to_files(cli, logged, tmp_path):
    out = tmp_path / "post.md"
    r = cli("journal", "export", "--out", out, "--title", "My month")
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("# My month") and text.index("Residuals") < text.index(
        "Tanh"
    )
    r = cli("journal", "export", "--format", "json", "--lab", "mlp")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["entries"]) == 1
    r = cli("journal", "export", "--out", tmp_path)
    assert r.exit_code == 2, r.output


def _editor(tmp_path, code: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\nt = p.read_text()\n" + code
    )
    return f"{sys.executable} {script}"


def _by_title(ws, start):
    es = journal.entries(workspace.open_workspace(str(ws)))
    return next(e for e in es if e.title.startswith(start))


def test_edit_keeps_id_and_unknown_keys_and_commits(cli, logged, tmp_path):
    e = _by_title(logged, "Residuals")
    path = Path(e.path)
    path.write_text(path.read_text().replace("---\n\n", "mood: proud\n---\n\n", 1))
    git(logged, "commit", "-qam", "hand edit")
    editor = _editor(
        tmp_path,
        "p.write_text(t.replace('keep gradients alive', "
        "'keep gradients flowing') + '\\nMore detail.\\n')",
    )
    r = cli("journal", "edit", e.id[:14], env={"EDITOR": editor})
    assert r.exit_code == 0, r.output
    after = journal.read_entry(path)
    assert after.id == e.id and after.extra == {"mood": "proud"}
    assert after.title == "Residuals keep gradients flowing" and after.modified
    assert commits(logged)[0].startswith(
        'journal: edit "Residuals keep gradients flowing'
    )


def test_edit_with_broken_front_matter_saves_nothing(cli, logged, tmp_path):
    e = _by_title(logged, "Residuals")
    before = Path(e.path).read_text()
    editor = _editor(tmp_path, "p.write_text(t.replace('tags:', 'tags: [unclosed', 1))")
    r = cli("journal", "edit", e.id, env={"EDITOR": editor})
    assert r.exit_code == 2, r.output
    assert "not valid YAML" in r.stderr and "your text is kept in" in r.stderr
    assert Path(e.path).read_text() == before


def test_edit_without_changes_commits_nothing(cli, logged, tmp_path):
    n = len(commits(logged))
    r = cli("journal", "edit", env={"EDITOR": _editor(tmp_path, "pass")})
    assert r.exit_code == 0, r.output
    assert "No changes" in r.stdout and len(commits(logged)) == n


def test_star_and_unstar(cli, logged):
    r = cli("journal", "star", "last")
    assert r.exit_code == 0, r.output
    r = cli("journal", "list", "--starred", "--json")
    assert len(json.loads(r.stdout)["entries"]) == 2
    r = cli("journal", "star", "last", "--off")
    assert r.exit_code == 0, r.output
    assert commits(logged)[0].startswith("journal: unstar")


def test_tags_with_counts(cli, logged):
    assert (
        cli("log", "Another about residuals", "-t", "resnet", "-t", "depth").exit_code
        == 0
    )
    r = cli("journal", "tags", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"resnet": 2, "depth": 1}
    r = cli("journal", "tags")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].split() == ["2", "#resnet"]


def test_without_git_commands_that_commit_exit_3(cli, ws):
    import shutil

    assert cli("init", ws).exit_code == 0
    assert cli("log", "Before git went away").exit_code == 0
    shutil.rmtree(ws / ".git")
    for args in (["journal", "star", "last"], ["time", "add", "10m"], ["repair"]):
        r = cli(*args)
        assert r.exit_code == 3, r.output
        assert "not a git repository" in r.stderr and "Hint:" in r.stderr
