"""Spaced review of the learner's aha entries, the plan's questions and their own mistakes
(FSRS)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import UsageError
from labpath.progress import PENDING, state_of

# What `labpath review --source` picks: each source and the kinds of card it holds.
SOURCES = {
    "journal": ("aha",),
    "questions": ("question",),
    "mistakes": ("mistake", "failure"),
}
RATINGS = {"1": 1, "again": 1, "2": 2, "hard": 2, "3": 3, "good": 3, "4": 4, "easy": 4}
_Q = re.compile(r"^\s*(?:\*\*)?Q(?:uestion)?:(?:\*\*)?\s*(.+)$", re.I)
_A = re.compile(r"^\s*(?:\*\*)?A(?:nswer)?:(?:\*\*)?\s*(.*)$", re.I)


@dataclass(frozen=True)
class Card:
    # an aha or failure entry's id, q:<task>:<slug> for a curriculum question,
    # m:<lab>:<bug id> for a catalogued mistake a check diagnosed
    id: str
    kind: str  # aha | question | mistake | failure
    front: str
    back: str
    source: str  # the entry's path, the task id, or a mistake's lab
    task: str | None = None


@dataclass(frozen=True)
class Due:
    card: Card
    due: str | None  # None: never reviewed (a new card)
    reviews: int


def review_file(ws) -> Path:
    return ws.state_dir / "review.jsonl"


def _split_qa(body: str) -> tuple[str, str] | None:
    """A 'Q: ... / A: ...' pair in an entry body, if the learner wrote one."""
    q, a, in_answer = None, [], False
    for line in body.splitlines():
        if q is None and (m := _Q.match(line)):
            q = m[1].strip()
        elif q is not None and not in_answer and (m := _A.match(line)):
            in_answer = True
            a.append(m[1])
        elif in_answer:
            a.append(line)
    if q and "".join(a).strip():
        return q, "\n".join(a).strip()
    return None


def question_card(task_id: str, text: str) -> str:
    """The review card id of a curriculum question (stable while its text stays)."""
    from labpath.journal import slugify

    return f"q:{task_id}:{slugify(text, 40)}"


def question_back(task, q) -> str:
    """A question card's back: the written answer, else where to compare."""
    return q.back or (
        f"Answer it aloud; compare with your notes on {task.id}: "
        f"labpath journal list --task {task.id}"
    )


def cards_from(entries, curriculum, states, events=()) -> list[Card]:
    """Cards for every aha entry, the questions of tasks the learner has reached, and
    (from the progress events and failure entries) the learner's own mistakes."""
    entries = list(entries)
    out = []
    for e in entries:
        if e.type != "aha":
            continue
        qa = _split_qa(e.body)
        if qa:
            front, back = qa
        else:
            rest = e.body.strip()
            first, _, tail = rest.partition("\n")
            back = (
                tail.strip() if first.strip().lstrip("#").strip() == e.title else rest
            )
            front = f"{e.title}: why is that so?" if back else e.title
            back = back or "(recall it in your own words, then open the entry)"
        out.append(Card(e.id, "aha", front, back, e.path or "", e.task))
    for t in curriculum.tasks:
        if not t.questions or state_of(states, t).status == PENDING:
            continue
        for q in t.questions:
            out.append(
                Card(
                    question_card(t.id, q.text),
                    "question",
                    q.text,
                    question_back(t, q),
                    t.id,
                    t.id,
                )
            )
    out += mistake_cards(events, entries, curriculum)
    return out


def of_source(cards: list[Card], source: str | None) -> list[Card]:
    """The cards of one source (journal, questions, mistakes); None keeps them all."""
    if source is None:
        return cards
    if source not in SOURCES:
        from labpath.errors import did_you_mean

        raise UsageError(
            f"--source {source}: expected one of {', '.join(SOURCES)}",
            hint=did_you_mean(source, SOURCES) or "labpath review --source mistakes",
        )
    return [c for c in cards if c.kind in SOURCES[source]]


# --- cards from the learner's mistakes ---------------------------------------------------


def diagnosed(bugs, results) -> list[str]:
    """The catalogued mistakes a check run named: for each failed check whose diagnosis
    contains a bug's `diagnosis:`, that bug's id (the first such bug in the catalogue
    caught by that same check, else the first), so one mistake always has one id."""
    found: list[str] = []
    for r in results:
        if r.outcome not in ("failed", "error") or not r.diagnosis:
            continue
        named = [b for b in bugs if b.diagnosis and b.diagnosis in r.diagnosis]
        if not named:
            continue
        bug = next((b for b in named if b.fails == r.name), named[0])
        if bug.id not in found:
            found.append(bug.id)
    return found


def mistake_cards(events, entries, curriculum=None) -> list[Card]:
    """One card per lab and diagnosed mistake (however often it failed), and one per
    failure entry of the journal; a mistake's back adds the learner's latest failure
    note on that lab."""
    from labpath import labs, labspec

    notes: dict[str, object] = {}  # lab -> its latest failure entry
    out: list[Card] = []
    for e in entries:
        if e.type != "failure":
            continue
        lab = e.lab or _lab_of(curriculum, e.task)
        if lab:
            notes[lab] = e
        body = _without_title(e.body, e.title)
        front = f"{e.title}: what went wrong, and how do you spot it next time?"
        out.append(
            Card(
                e.id,
                "failure",
                front,
                body or "(recall it in your own words, then open the entry)",
                e.path or "",
                e.task,
            )
        )
    seen: dict[tuple[str, str], dict] = {}
    for ev in events:
        if ev.get("event") != "check" or not isinstance(ev.get("mistakes"), list):
            continue
        lab = ev.get("lab") or ev.get("task")
        for bug_id in ev["mistakes"]:
            seen.setdefault((str(lab), str(bug_id)), ev)
    catalogues: dict[str, dict] = {}
    cards = []
    for (lab, bug_id), ev in seen.items():
        if lab not in catalogues:
            try:
                catalogues[lab] = {b.id: b for b in labspec.read_bugs(labs.load(lab))}
            except UsageError:
                catalogues[lab] = {}
        bug = catalogues[lab].get(bug_id)
        if bug is None:  # a mistake a later labpath no longer catalogues
            continue
        cards.append(
            Card(
                f"m:{lab}:{bug_id}",
                "mistake",
                mistake_front(lab, bug),
                _mistake_back(bug, notes.get(lab)),
                lab,
                ev.get("task"),
            )
        )
    return cards + out


def mistake_front(lab: str, bug) -> str:
    """The situation in the learner's terms: the bug's `card:` question, else its
    summary and the check's diagnosis turned into one."""
    if bug.card is not None:
        return bug.card.text
    said = f' (the check said: "{bug.diagnosis}")' if bug.diagnosis else ""
    return f"Your {lab} code: {bug.summary}{said}. Why is that wrong?"


def _mistake_back(bug, note) -> str:
    if bug.card is not None:
        parts = [bug.card.answer]
    else:
        parts = [f"The mistake: {bug.summary}."]
        if bug.diagnosis:
            parts.append(f"The check's diagnosis: {bug.diagnosis}.")
    parts.append(f"Caught by {bug.fails} (labpath hint for more).")
    if note is not None:
        body = _without_title(note.body, note.title)
        parts.append(f"Your note: {note.title}" + (f"\n{body}" if body else ""))
    return "\n".join(parts)


def _lab_of(curriculum, task_id: str | None) -> str | None:
    if curriculum is None or not task_id:
        return None
    task = next((t for t in curriculum.tasks if t.id == task_id), None)
    return task.lab if task else None


def _without_title(body: str, title: str) -> str:
    rest = body.strip()
    first, _, tail = rest.partition("\n")
    return tail.strip() if first.strip().lstrip("#").strip() == title else rest


def read_log(path: Path) -> dict[str, list[dict]]:
    """Each card's reviews in time order; duplicates from a union merge count once."""
    if not path.exists():
        return {}
    seen, by_card = set(), {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            key = (rec["card"], rec["at"])
            int(rec["rating"])
            rec["state"]["due"]
        except (ValueError, KeyError, TypeError):
            raise UsageError(
                f"{path}:{n}: corrupt review entry: {line.strip()[:60]!r}",
                hint="run `labpath repair` to recover it from git history (nothing is deleted)",
            ) from None
        if key in seen:
            continue
        seen.add(key)
        by_card.setdefault(rec["card"], []).append(rec)
    for recs in by_card.values():
        recs.sort(key=lambda r: r["at"])
    return by_card


def due_cards(
    cards: list[Card],
    history: dict[str, list[dict]],
    now: dt.datetime,
    limit: int = 10,
    new_limit: int = 5,
) -> list[Due]:
    """Cards due now, most overdue first, then up to new_limit cards never seen."""
    old, new = [], []
    for c in cards:
        recs = history.get(c.id)
        if not recs:
            new.append(Due(c, None, 0))
            continue
        due = dt.datetime.fromisoformat(recs[-1]["state"]["due"])
        if due <= now:
            old.append((due, Due(c, due.isoformat(), len(recs))))
    old.sort(key=lambda x: x[0])
    picked = [d for _, d in old] + new[:new_limit]
    return picked[:limit]


def due_now(
    ctx,
    limit: int = 10,
    new_limit: int = 5,
    now: dt.datetime | None = None,
    source: str | None = None,
):
    """(the cards due for this workspace now, how many cards there are in all)."""
    from labpath import journal, progress

    ws = ctx.workspace
    events = progress.read_events(ws.progress_file)
    cards = cards_from(journal.entries(ws), ctx.curriculum, ctx.states, events)
    cards = of_source(cards, source)
    history = read_log(review_file(ws))
    now = now or dt.datetime.now().astimezone()
    return due_cards(cards, history, now, limit, new_limit), len(cards)


def _scheduler():
    from fsrs import Scheduler

    # No fuzzing: the same history always gives the same schedule (and testable dates).
    return Scheduler(enable_fuzzing=False)


def next_state(history: list[dict], rating: int, now: dt.datetime) -> dict:
    """The card's FSRS state after this rating, given its earlier reviews."""
    from fsrs import Card as FsrsCard
    from fsrs import Rating

    card = FsrsCard.from_dict(history[-1]["state"]) if history else FsrsCard()
    card, _ = _scheduler().review_card(
        card, Rating(rating), review_datetime=now.astimezone(dt.timezone.utc)
    )
    return card.to_dict()


def record(ws, card_id: str, rating: int, when: dt.datetime, **fields) -> dict:
    """Append one rating of a card to the review log (under the workspace lock); its
    new FSRS state."""
    from labpath.fsutil import append_line, locked

    path = review_file(ws)
    with locked(ws.lock_file):
        history = read_log(path).get(card_id, [])
        state = next_state(history, rating, when)
        rec = {"card": card_id, "rating": rating, "at": when.isoformat()}
        append_line(path, json.dumps({**rec, **fields, "state": state}))
    return state


def parse_rating(text: str) -> int | None:
    """1-4 or again/hard/good/easy; None for anything else."""
    return RATINGS.get(text.strip().lower())
