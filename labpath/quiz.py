"""Quiz the learner on the plan's questions; each answer is review evidence for FSRS."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from labpath import review
from labpath.errors import UsageError
from labpath.progress import PENDING

LETTERS = "abcdefghij"
# A graded multiple choice rates itself: right is "good", wrong is "again".
RIGHT, WRONG = 3, 1


@dataclass(frozen=True)
class Item:
    """One question to ask, with the task it belongs to and its review card."""

    task: str
    card: str
    question: object  # curriculum.Question

    def to_json(self) -> dict:
        q = self.question
        return {
            "task": self.task,
            "card": self.card,
            "q": q.text,
            "kind": "choice" if q.choices else "recall",
            "choices": list(q.choices),
            "correct": q.correct,
            "answer": q.answer,
        }


# --- the events of a quiz session, shown and asked through the ui -------------------


@dataclass(frozen=True)
class Asked:
    """A question's text (and choices); then ask for a choice, or for recall."""

    item: Item
    number: int
    total: int


@dataclass(frozen=True)
class Graded:
    """A multiple choice answer, right or wrong, with the right one and why."""

    item: Item
    given: int  # 1-based
    right: bool


@dataclass(frozen=True)
class Revealed:
    """A free-text question's written answer; then ask how well it was recalled."""

    item: Item


@dataclass(frozen=True)
class Scheduled:
    item: Item
    due: str  # ISO time of the card's next review


@dataclass(frozen=True)
class Answered:
    item: Item
    rating: int
    due: str
    given: int | None = None  # the choice typed, for multiple choice
    right: bool | None = None

    def to_json(self) -> dict:
        return {
            **self.item.to_json(),
            "given": self.given,
            "right": self.right,
            "rating": self.rating,
            "due": self.due,
        }


@dataclass(frozen=True)
class QuizList:
    items: tuple[Item, ...]
    notices: tuple = ()  # app.results.Notice

    def to_json(self) -> dict:
        return {"questions": [i.to_json() for i in self.items]}


@dataclass(frozen=True)
class QuizResult:
    answered: tuple[Answered, ...]
    remaining: int
    commit: str | None = None
    notices: tuple = ()  # app.results.Notice

    @property
    def right(self) -> int:
        return sum(1 for a in self.answered if a.right)

    @property
    def graded(self) -> int:
        return sum(1 for a in self.answered if a.right is not None)

    def to_json(self) -> dict:
        return {
            "answered": [a.to_json() for a in self.answered],
            "right": self.right,
            "graded": self.graded,
            "remaining": self.remaining,
            "commit": self.commit,
        }


# --- choosing the questions ----------------------------------------------------------


def select(ctx, task_id: str | None, all_reached: bool) -> list[Item]:
    """The questions of the task named, else of the current task, or with all_reached
    of every task started, done or current."""
    cur = ctx.curriculum
    if task_id and all_reached:
        raise UsageError(
            "name a task or pass --all, not both", hint="labpath quiz --all"
        )
    if all_reached:
        current = ctx.current
        tasks = [
            t
            for t in cur.tasks
            if ctx.state(t).status != PENDING or (current and t.id == current.id)
        ]
        items = [i for t in tasks for i in items_of(t)]
        if not items:
            raise UsageError(
                "no task you have reached has questions yet",
                hint="start one with `labpath next`, or quiz any task: labpath quiz TASK",
            )
        return items
    if task_id:
        task = cur.task(task_id)  # an unknown id fails here with a did-you-mean
    else:
        task = ctx.current
        if task is None:
            raise UsageError(
                "every task is done, so there is no current task to quiz",
                hint="name one (labpath quiz micrograd) or quiz them all: "
                "labpath quiz --all",
            )
    items = items_of(task)
    if not items:
        raise UsageError(
            f"task '{task.id}' has no questions",
            hint="quiz every task you have reached: labpath quiz --all",
        )
    return items


def items_of(task) -> list[Item]:
    return [
        Item(task.id, review.question_card(task.id, q.text), q) for q in task.questions
    ]


def parse_choice(text: str, n: int) -> int | None:
    """A typed choice, 'b' or '2' (1-based); None for anything else."""
    t = text.strip().lower().rstrip(")").strip()
    if len(t) == 1 and t in LETTERS[:n]:
        return LETTERS.index(t) + 1
    if t.isdigit() and 1 <= int(t) <= n:
        return int(t)
    return None


# --- the session ------------------------------------------------------------------------


def session(ws, items: list[Item], ask, show, now=None) -> QuizResult:
    """Ask each question in turn.

    show(event) shows an Asked, Graded, Revealed or Scheduled event; ask(event) asks
    about an Asked (the choice, or Enter once recalled) or a Revealed (the rating) and
    returns the answer; q or EOFError stops. Each answer is appended to the review log
    at once (a stop keeps what was done); one commit at the end.
    """
    from labpath import vcs

    vcs.open_repo(ws.root)
    clock = now or (lambda: dt.datetime.now().astimezone())
    done: list[Answered] = []
    try:
        for n, item in enumerate(items, 1):
            answer = _one(item, n, len(items), ask, show)
            if answer is None:
                break
            rating, given, right = answer
            state = review.record(
                ws, item.card, rating, clock(), via="quiz", **_given(given)
            )
            done.append(Answered(item, rating, state["due"], given, right))
            show(Scheduled(item, state["due"]))
    except KeyboardInterrupt:
        pass
    commit = None
    if done:
        from labpath.fsutil import locked

        graded = [a for a in done if a.right is not None]
        score = (
            f", {sum(a.right for a in graded)}/{len(graded)} right" if graded else ""
        )
        with locked(ws.lock_file):
            result = vcs.commit_paths(
                ws.root,
                [review.review_file(ws)],
                f"quiz: {len(done)} question(s){score}",
            )
        commit = result.sha
    return QuizResult(tuple(done), len(items) - len(done), commit)


def _given(given: int | None) -> dict:
    return {} if given is None else {"choice": given}


def _one(item: Item, n: int, total: int, ask, show):
    """(rating, choice given, right) for one question, or None when the learner stops."""
    q = item.question
    show(Asked(item, n, total))
    while True:
        try:
            typed = ask(Asked(item, n, total))
        except EOFError:
            return None
        if typed.strip().lower() == "q":
            return None
        if not q.choices:
            break
        given = parse_choice(typed, len(q.choices))
        if given is not None:
            right = given == q.correct
            show(Graded(item, given, right))
            return (RIGHT if right else WRONG), given, right
    show(Revealed(item))
    while True:
        try:
            typed = ask(Revealed(item))
        except EOFError:
            return None
        if typed.strip().lower() == "q":
            return None
        rating = review.parse_rating(typed)
        if rating is not None:
            return rating, None, None


def scripted(lines: list[str]):
    """An ask() that answers from piped lines (the first EOF stops the quiz)."""
    it = iter(lines)

    def ask(event) -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return ask


def no_answers() -> UsageError:
    return UsageError(
        "no answers on stdin: labpath quiz asks its questions in a terminal",
        hint="run it in a terminal, pipe one answer a line "
        "(printf 'b\\n\\n3\\n' | labpath quiz TASK), or see them with --list",
    )
