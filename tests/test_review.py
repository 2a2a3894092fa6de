"""Review: cards from aha entries and task questions, FSRS scheduling, history kept across edits."""

import datetime as dt
import json
import sys

import pytest

from labpath import curriculum, journal, review, workspace
from labpath.app import admin
from labpath.errors import UsageError
from labpath.progress import derive

from .conftest import commits, flat

NOW = dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.timezone.utc)
CUR = curriculum.load()


def aha(id, body, title=None, type="aha"):
    return journal.JournalEntry(
        id=id,
        created="2026-11-20T07:00:00+00:00",
        title=title or journal.title_of(body),
        body=body,
        type=type,
    )


def test_cards_from_aha_entries_and_started_tasks_questions():
    entries = [
        aha("E1", "Gradients add up\n\n`b = a + a` needs +="),
        aha(
            "E2",
            "Notes\n\nQ: Why += in _backward?\nA: a node used twice\ngets both paths",
        ),
        aha("E3", "just a note", type="note"),
    ]
    states = derive(
        [{"event": "start", "task": "micrograd", "at": "2026-11-20T07:00:00+00:00"}]
    )
    cards = review.cards_from(entries, CUR, states)
    by_id = {c.id: c for c in cards}
    assert by_id["E1"].front == "Gradients add up: why is that so?"
    assert by_id["E1"].back == "`b = a + a` needs +="
    assert (
        by_id["E2"].front == "Why += in _backward?" and "both paths" in by_id["E2"].back
    )
    assert "E3" not in by_id
    questions = [c for c in cards if c.kind == "question"]
    assert questions and all(c.task == "micrograd" for c in questions)
    assert not [c for c in review.cards_from(entries, CUR, {}) if c.kind == "question"]


def test_good_ratings_push_the_next_review_further_out():
    history = []
    dues = []
    when = NOW
    for _ in range(4):
        state = review.next_state(history, 3, when)
        history.append(
            {"card": "E1", "rating": 3, "at": when.isoformat(), "state": state}
        )
        due = dt.datetime.fromisoformat(state["due"])
        dues.append(due - when)
        when = due
    assert dues == sorted(dues) and dues[-1] > dt.timedelta(days=1)
    again = review.next_state(history, 1, when)
    assert dt.datetime.fromisoformat(again["due"]) - when < dues[-1]


def test_due_cards_overdue_first_then_a_few_new_ones():
    cards = [review.Card(str(i), "aha", f"f{i}", "b", "") for i in range(6)]
    hist = {
        "0": [{"at": "x", "state": {"due": "2026-11-24T00:00:00+00:00"}}],
        "1": [{"at": "x", "state": {"due": "2026-11-20T00:00:00+00:00"}}],
        "2": [{"at": "x", "state": {"due": "2026-12-20T00:00:00+00:00"}}],
    }
    due = review.due_cards(cards, hist, NOW, limit=10, new_limit=2)
    assert [d.card.id for d in due] == ["1", "0", "3", "4"]
    assert len(review.due_cards(cards, hist, NOW, limit=1)) == 1


def test_ratings_typed_by_people():
    assert review.parse_rating(" Good ") == 3 and review.parse_rating("1") == 1
    assert review.parse_rating("meh") is None


@pytest.fixture()
def with_entries(cli, ws):
    assert cli("init", ws).exit_code == 0
    assert (
        cli(
            "log",
            "Residual paths carry gradients\n\nThe identity path has derivative 1.",
        ).exit_code
        == 0
    )
    return workspace.open_workspace(str(ws))


def test_a_session_records_ratings_and_commits_once(with_entries):
    ws = with_entries
    cards = review.cards_from(journal.entries(ws), CUR, {})
    due = review.due_cards(cards, {}, NOW)
    answers = iter(["", "so-so", "good"])
    shown = []
    result = admin.session(
        ws, due, lambda event: next(answers), shown.append, now=lambda: NOW
    )
    assert [r[1] for r in result.reviewed] == [3] and result.commit
    assert [type(e) for e in shown] == [admin.Front, admin.Back, admin.Scheduled]
    assert shown[2].due == result.reviewed[0][2]
    hist = review.read_log(review.review_file(ws))
    assert list(hist) == [cards[0].id]
    assert commits(ws.root)[0] == "review: 1 card(s)"


def test_editing_an_entry_keeps_its_review_history(cli, with_entries, tmp_path):
    ws = with_entries
    (card,) = review.cards_from(journal.entries(ws), CUR, {})
    due = review.due_cards([card], {}, NOW)
    admin.session(ws, due, lambda event: "3", lambda event: None, now=lambda: NOW)
    script = tmp_path / "ed.py"
    script.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('derivative 1', 'derivative one'))\n"
    )
    r = cli("journal", "edit", "last", env={"EDITOR": f"{sys.executable} {script}"})
    assert r.exit_code == 0, r.output
    (after,) = review.cards_from(journal.entries(ws), CUR, {})
    assert after.id == card.id and "derivative one" in after.back
    assert len(review.read_log(review.review_file(ws))[after.id]) == 1


def test_review_cli_list_json_and_interactive(cli, with_entries):
    r = cli("review", "--list")
    assert r.exit_code == 0, r.output
    assert "Residual paths carry gradients" in r.stdout
    r = cli("review", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["due"][0]["card"]["kind"] == "aha"
    r = cli("review", input="\n4\n")
    assert r.exit_code == 0, r.output
    assert "Reviewed 1 card(s)" in r.stdout
    r = cli("review")
    assert r.exit_code == 0, r.output
    assert "Nothing to review now" in r.stdout


def test_review_errors(cli, with_entries):
    r = cli("review", "--limit", "0")
    assert r.exit_code == 2, r.output
    (with_entries.state_dir / "review.jsonl").write_text("{broken\n")
    r = cli("review", "--list")
    assert r.exit_code == 2, r.output
    assert "corrupt review entry" in flat(r.stderr) and "labpath repair" in flat(
        r.stderr
    )


def test_empty_review_says_where_cards_come_from(cli, ws):
    assert cli("init", ws).exit_code == 0
    r = cli("review")
    assert r.exit_code == 0, r.output
    assert "No cards yet" in r.stdout


def test_read_log_rejects_a_record_without_state(tmp_path):
    p = tmp_path / "review.jsonl"
    p.write_text(json.dumps({"card": "x", "rating": 3, "at": "t"}) + "\n")
    with pytest.raises(UsageError, match=":1: corrupt review entry"):
        review.read_log(p)
