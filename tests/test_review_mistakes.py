"""Review cards from the learner's own mistakes: diagnosed check failures, failure entries."""

import json

import pytest

from labpath import curriculum, devcheck, journal, labs, labspec, progress, review
from labpath import workspace as workspace_mod
from labpath.checks.result import CheckResult
from labpath.errors import UsageError

from .conftest import flat

CUR = curriculum.load()
LAB = labs.load("micrograd")
BUGS = labspec.read_bugs(LAB)
ADD = next(b for b in BUGS if b.id == "add-overwrites-grad")
TANH = next(b for b in BUGS if b.id == "tanh-derivative-uses-input")


def _events(ws):
    return progress.read_events(ws.progress_file)


def _mistakes(ws):
    entries = journal.entries(ws)
    return review.mistake_cards(_events(ws), entries, CUR)


@pytest.mark.torch
def test_a_diagnosed_check_failure_becomes_one_card_however_often_it_fails(cli, ws):
    assert cli("start", "micrograd").exit_code == 0
    ws = workspace_mod.open_workspace(str(ws))
    (ws.lab_dir("micrograd") / "engine.py").write_text(devcheck.bugged(LAB, ADD))
    r = cli("check", "micrograd")
    assert r.exit_code == 1, r.output
    checks = [e for e in _events(ws) if e["event"] == "check"]
    assert checks[-1]["mistakes"] == ["add-overwrites-grad"]
    (card,) = _mistakes(ws)
    assert card.id == "m:micrograd:add-overwrites-grad" and card.kind == "mistake"
    assert "assigns the gradient instead of accumulating" in card.front
    assert "use += in every _backward" in card.front
    assert "test_reused_node_accumulates_gradient" in card.back
    r = cli("check", "micrograd")
    assert r.exit_code == 1, r.output
    assert len([e for e in _events(ws) if e.get("mistakes")]) == 2
    assert [c.id for c in _mistakes(ws)] == [card.id]
    # the learner's own note on the lab joins the card's back, and is a card too
    r = cli(
        "log", "--type", "failure", "--lab", "micrograd", "a + a gave 1\n\n= lost it"
    )
    assert r.exit_code == 0, r.output
    cards = {c.kind: c for c in _mistakes(ws)}
    assert "Your note: a + a gave 1" in cards["mistake"].back
    assert "= lost it" in cards["failure"].back
    r = cli("review", "--source", "mistakes", "--list")
    assert r.exit_code == 0, r.output
    assert "mistake" in r.stdout and "assigns the gradient" in r.stdout
    assert "failure" in r.stdout and "question" not in r.stdout
    r = cli("review", "--source", "mistakes", "-n", "1", input="\n3\n")
    assert r.exit_code == 0, r.output
    assert "Caught by test_reused_node_accumulates_gradient" in flat(r.stdout)
    assert "Reviewed 1 card(s)" in r.stdout


def _result(name, diagnosis, outcome="failed"):
    return CheckResult(name=name, outcome=outcome, diagnosis=diagnosis)


def test_a_diagnosis_names_the_first_bug_of_that_check_with_its_fingerprint():
    reuse = "test_reused_node_accumulates_gradient"
    said = "you assigned a gradient: use += in every _backward"
    assert review.diagnosed(BUGS, [_result(reuse, said)]) == ["add-overwrites-grad"]
    two = [_result(reuse, said), _result("test_x", said)]
    assert review.diagnosed(BUGS, two) == ["add-overwrites-grad"]
    assert review.diagnosed(BUGS, [_result(reuse, said, "passed")]) == []
    assert review.diagnosed(BUGS, [_result(reuse, "something else")]) == []
    assert review.diagnosed(BUGS, [_result(reuse, None)]) == []


def _workspace_with_one_of_each(cli, ws):
    """An aha and a failure entry, micrograd started, a diagnosed tanh mistake logged."""
    assert cli("start", "micrograd").exit_code == 0
    assert cli("log", "Gradients add up\n\nTwo paths, two terms.").exit_code == 0
    r = cli("log", "--type", "failure", "--lab", "bigram", "Rows did not sum to 1")
    assert r.exit_code == 0, r.output
    w = workspace_mod.open_workspace(str(ws))
    progress.record(
        w.progress_file, "check", "micrograd", lab="micrograd", status="failed"
    )
    for _ in range(3):
        progress.record(
            w.progress_file,
            "check",
            "micrograd",
            lab="micrograd",
            status="failed",
            mistakes=[TANH.id],
        )
    return w


def test_source_chooses_mistakes_questions_or_journal(cli, ws):
    _workspace_with_one_of_each(cli, ws)

    def kinds(*args):
        r = cli("review", "--json", "-n", "50", "--new", "50", *args)
        assert r.exit_code == 0, r.output
        return sorted({d["card"]["kind"] for d in json.loads(r.stdout)["due"]})

    assert kinds() == ["aha", "failure", "mistake", "question"]
    assert kinds("--source", "mistakes") == ["failure", "mistake"]
    assert kinds("--source", "questions") == ["question"]
    assert kinds("--source", "journal") == ["aha"]
    r = cli("review", "--json", "--source", "mistakes")
    fronts = [d["card"]["front"] for d in json.loads(r.stdout)["due"]]
    assert TANH.card.text in fronts  # a bug's `card:` question is the front
    assert fronts.count(TANH.card.text) == 1


def test_an_unknown_source_is_one_error_line(cli, ws):
    assert cli("init", ws).exit_code == 0
    r = cli("review", "--source", "mistake")
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert (
        lines[0]
        == "Error: --source mistake: expected one of journal, questions, mistakes"
    )
    assert lines[1] == "Hint: did you mean 'mistakes'?"


def test_a_card_field_needs_a_diagnosis_and_both_its_keys(tmp_path):
    import shutil

    dest = tmp_path / "micrograd"
    shutil.copytree(labs.LABS_ROOT / "micrograd", dest)
    bugs = dest / "bugs.yaml"
    text = bugs.read_text()
    plain = "    fails: test_mul_matches_torch\n"
    bugs.write_text(text.replace(plain, plain + "    card: {q: Why?, answer: So.}\n"))
    lab = labspec.read_lab(dest / "lab.yaml")
    with pytest.raises(UsageError, match=r"bugs.yaml:\d+: bugs\[2\].card: only a bug"):
        labspec.read_bugs(lab)
    said = '    diagnosis: "the exponent in the power rule is off by one"\n'
    bugs.write_text(text.replace(said, said + "    card: {q: Why?}\n", 1))
    with pytest.raises(UsageError, match=r"\.card: missing required key 'answer'"):
        labspec.read_bugs(lab)
