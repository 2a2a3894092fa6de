"""Spaced review of the learner's own aha entries and the labs' questions, scheduled by FSRS."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import UsageError
from labpath.progress import PENDING, state_of

RATINGS = {"1": 1, "again": 1, "2": 2, "hard": 2, "3": 3, "good": 3, "4": 4, "easy": 4}
_Q = re.compile(r"^\s*(?:\*\*)?Q(?:uestion)?:(?:\*\*)?\s*(.+)$", re.I)
_A = re.compile(r"^\s*(?:\*\*)?A(?:nswer)?:(?:\*\*)?\s*(.*)$", re.I)


@dataclass(frozen=True)
class Card:
    id: str  # an aha entry's id, or q:<task>:<slug> for a curriculum question
    kind: str  # aha | question
    front: str
    back: str
    source: str  # the entry's path or the task id
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


def cards_from(entries, curriculum, states) -> list[Card]:
    """Cards for every aha entry, and for the questions of tasks the learner has reached."""
    from labpath.journal import slugify

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
                    f"q:{t.id}:{slugify(q, 40)}",
                    "question",
                    q,
                    f"Answer it aloud; compare with your notes on {t.id}: "
                    f"labpath journal list --task {t.id}",
                    t.id,
                    t.id,
                )
            )
    return out


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


def due_now(ctx, limit: int = 10, new_limit: int = 5, now: dt.datetime | None = None):
    """(the cards due for this workspace now, how many cards there are in all)."""
    from labpath import journal

    ws = ctx.workspace
    cards = cards_from(journal.entries(ws), ctx.curriculum, ctx.states)
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


def parse_rating(text: str) -> int | None:
    """1-4 or again/hard/good/easy; None for anything else."""
    return RATINGS.get(text.strip().lower())
