"""Quiz: questions with answers and choices, graded in the terminal, kept as review evidence."""

import json

import pytest

from labpath import curriculum, quiz, review, workspace
from labpath.errors import UsageError

from .conftest import DATA, commits, flat

CUR = curriculum.load()
MICROGRAD = CUR.task("micrograd").questions
TOPO = next(q for q in MICROGRAD if q.choices)  # the micrograd multiple choice


def _variant(tmp_path, questions: str):
    """The valid test curriculum with these `questions:` lines on its first task."""
    folder = tmp_path / "cur"
    folder.mkdir(exist_ok=True)
    text = (DATA / "curricula" / "valid" / "01-basics.yaml").read_text()
    text = text.replace("        hours: 6\n", "        hours: 6\n" + questions, 1)
    (folder / "01-basics.yaml").write_text(text)
    return folder


def _error(folder) -> str:
    with pytest.raises(UsageError) as err:
        curriculum.load(folder)
    return f"{err.value.message} {err.value.hint or ''}"


def test_every_builtin_question_has_an_answer_and_each_phase_a_multiple_choice():
    questions = [(t, q) for t in CUR.tasks for q in t.questions]
    assert len(questions) >= 60
    assert all(q.answer for _, q in questions)
    for phase in CUR.phases:
        mc = [q for t, q in questions if t.phase == phase.number and q.choices]
        assert mc, phase.id
        for q in mc:
            assert len(q.choices) >= 3 and 1 <= q.correct <= len(q.choices)
    # the right choice is not always in the same place
    assert len({q.correct for _, q in questions if q.choices}) > 1


def test_plain_strings_answers_and_choices_load(tmp_path):
    cur = curriculum.load(
        _variant(
            tmp_path,
            "        questions:\n"
            '          - "A plain one?"\n'
            "          - q: With an answer?\n"
            "            answer: Yes.\n"
            "          - q: Which?\n"
            "            choices: [this, that]\n"
            "            correct: 2\n",
        )
    )
    plain, written, mc = cur.task("micrograd").questions
    assert (plain.text, plain.answer, plain.choices) == ("A plain one?", "", ())
    assert written.answer == "Yes." and str(written) == "With an answer?"
    assert mc.choices == ("this", "that") and mc.correct == 2
    assert mc.back == "b) that"


@pytest.mark.parametrize(
    "questions, words",
    [
        (
            "          - q: Which?\n            choices: [a, b]\n",
            ":21: weeks[0].tasks[0].questions[0]: a question with `choices:` needs "
            "`correct:`",
        ),
        (
            "          - q: Which?\n            choices: [a, b]\n            correct: 3\n",
            ":23: weeks[0].tasks[0].questions[0].correct: must be the number of a "
            "choice, 1 to 2, got 3",
        ),
        (
            "          - q: Which?\n            answer: x\n            correct: 1\n",
            ":23: weeks[0].tasks[0].questions[0].correct: only a question with "
            "`choices:` has a correct one",
        ),
        (
            "          - q: Lonely?\n",
            ":21: weeks[0].tasks[0].questions[0]: a question written as a mapping "
            "needs an `answer:`",
        ),
        (
            "          - q: Which?\n            answr: x\n",
            ":22: weeks[0].tasks[0].questions[0]: unknown key 'answr' did you mean "
            "'answer'?",
        ),
        (
            "          - q: Which?\n            choices: [a]\n            correct: 1\n",
            "questions[0].choices: must list 2 to 10 choices, got 1",
        ),
        (
            '          - "Twice?"\n          - "Twice?"\n',
            ":22: weeks[0].tasks[0].questions[1]: the same question as "
            "weeks[0].tasks[0].questions[0]",
        ),
    ],
)
def test_malformed_questions_name_the_file_line_and_key(tmp_path, questions, words):
    text = _error(_variant(tmp_path, "        questions:\n" + questions))
    assert "01-basics.yaml" in text and words in flat(text)


def test_choices_typed_as_letters_or_numbers():
    assert quiz.parse_choice("b", 4) == 2 and quiz.parse_choice(" 3 ", 4) == 3
    assert quiz.parse_choice("C)", 4) == 3
    assert quiz.parse_choice("e", 4) is None and quiz.parse_choice("0", 4) is None


@pytest.fixture()
def started(cli, ws):
    r = cli("next")
    assert r.exit_code == 0, r.output
    return workspace.open_workspace(str(ws))


def _answers(wrong: bool = False) -> str:
    """Keys for micrograd's three questions: recall, the choice, recall."""
    letter = "abcd"[TOPO.correct % 4] if wrong else "abcd"[TOPO.correct - 1]
    return f"\n3\n{letter}\n\n4\n"


def test_quiz_grades_a_choice_and_records_every_answer_for_review(cli, started):
    r = cli("quiz", input=_answers())
    assert r.exit_code == 0, r.output
    right = f"{'abcd'[TOPO.correct - 1]}) {TOPO.choices[TOPO.correct - 1]}"
    assert f"✓ right: {right}" in flat(r.stdout)
    assert MICROGRAD[0].answer.split(".")[0] in flat(r.stdout)  # a recall's answer
    assert "Answered 3 question(s) · 1/1 choices right." in r.stdout
    log = review.read_log(review.review_file(started))
    cards = [review.question_card("micrograd", q.text) for q in MICROGRAD]
    assert sorted(log) == sorted(cards)
    ratings = [log[c][0]["rating"] for c in cards]
    assert ratings == [3, quiz.RIGHT, 4]
    assert {log[c][0]["via"] for c in cards} == {"quiz"}
    assert commits(started.root)[0] == "quiz: 3 question(s), 1/1 right"
    # answered questions are scheduled, so review no longer offers them as new
    r = cli("review", "--list", "--source", "questions")
    assert r.exit_code == 0, r.output
    assert "Nothing to review now" in r.stdout


def test_a_wrong_choice_shows_the_right_one_and_rates_again(cli, started):
    r = cli("quiz", "micrograd", "--json", input=_answers(wrong=True))
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    mc = next(a for a in data["answered"] if a["kind"] == "choice")
    assert mc["right"] is False and mc["rating"] == quiz.WRONG
    assert mc["correct"] == TOPO.correct and (data["right"], data["graded"]) == (0, 1)
    r = cli("quiz", input=f"\n1\n{'abcd'[TOPO.correct % 4]}\nq\n")
    assert r.exit_code == 0, r.output
    assert "✗ wrong (you chose" in r.stdout and "the answer is" in r.stdout
    assert "Answered 2 question(s)" in r.stdout and "1 left" in r.stdout


def test_list_shows_questions_and_answers_without_asking(cli, started):
    r = cli("quiz", "--all", "--list", "--json")
    assert r.exit_code == 0, r.output
    qs = json.loads(r.stdout)["questions"]
    assert [q["task"] for q in qs] == ["micrograd"] * 3
    assert all(q["answer"] for q in qs)
    r = cli("quiz", "bigram", "--list")
    assert r.exit_code == 0, r.output
    assert "keepdim" in r.stdout


def test_review_shows_the_written_answer_on_a_question_card(cli, started):
    r = cli("review", "--source", "questions", "-n", "1", input="\n3\n")
    assert r.exit_code == 0, r.output
    assert MICROGRAD[0].text in flat(r.stdout)
    assert "Answer it aloud" not in r.stdout
    assert MICROGRAD[0].answer.split(".")[0] in flat(r.stdout)


@pytest.mark.parametrize(
    "args, stdin, words",
    [
        (["domain-gpt-dataset"], "\n", "task 'domain-gpt-dataset' has no questions"),
        (["micrgrad"], "\n", "no task 'micrgrad' in the curriculum"),
        ([], "", "no answers on stdin"),
        (["micrograd", "--all"], "\n", "name a task or pass --all, not both"),
    ],
)
def test_quiz_errors_are_one_line_with_a_hint(cli, started, args, stdin, words):
    r = cli("quiz", *args, input=stdin)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ") and words in lines[0]
    assert lines[1].startswith("Hint: ") and len(lines) == 2
    assert not review.review_file(started).exists()


def test_all_without_any_reached_task_with_questions_is_an_error(cli, ws):
    assert cli("init", ws).exit_code == 0
    r = cli("quiz", "--all", "--curriculum", DATA / "curricula" / "valid")
    assert r.exit_code == 2, r.output
    assert "no task you have reached has questions" in r.stderr
