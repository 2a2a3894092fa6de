"""Selecting entries: the Query a command builds, the filters, and finding one entry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from labpath import dates
from labpath.errors import UsageError
from labpath.journal.entry import ENTRY_TYPES, FIELDS, JournalEntry, created_at
from labpath.journal.store import index_file, read_through


@dataclass(frozen=True)
class Query:
    """What `labpath journal list|search|export` selects; every given filter must hold."""

    text: tuple[str, ...] = ()  # each word or phrase must appear (case-insensitive)
    tags: tuple[str, ...] = ()  # each tag must be on the entry
    lab: str | None = None
    task: str | None = None
    phase: int | None = None
    week: int | None = None
    type: str | None = None
    starred: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None


def matches(entry: JournalEntry, q: Query) -> bool:
    """Whether one entry passes every filter of the query."""
    if q.starred and not entry.starred:
        return False
    if q.type and entry.type != q.type:
        return False
    if q.lab and entry.lab != q.lab:
        return False
    if q.task and entry.task != q.task:
        return False
    if q.phase is not None and entry.phase != q.phase:
        return False
    if q.week is not None and entry.week != q.week:
        return False
    if q.tags:
        have = {t.lower().lstrip("#@") for t in entry.tags}
        if not all(t.lower().lstrip("#@") in have for t in q.tags):
            return False
    if q.since or q.until:
        when = created_at(entry)
        if when is None:
            return False
        if q.since and when < q.since:
            return False
        if q.until and when > q.until:
            return False
    if q.text:
        hay = " ".join((entry.title, entry.body, " ".join(entry.tags))).lower()
        if not all(word.lower() in hay for word in q.text):
            return False
    return True


def select(entries: list[JournalEntry], q: Query) -> list[JournalEntry]:
    """The entries matching q, newest first, at most q.limit of them."""
    hits = [e for e in entries if matches(e, q)]
    hits.sort(
        key=lambda e: (
            created_at(e) or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
            e.id,
        ),
        reverse=True,
    )
    return hits[: q.limit] if q.limit else hits


def find(entries: list[JournalEntry], ref: str) -> JournalEntry:
    """The entry an id (or id prefix, or file-name part) names; 'last' is the newest."""
    if not entries:
        raise UsageError(
            "the journal is empty", hint='add an entry: labpath log "what clicked"'
        )
    ref = ref.strip()
    if ref in ("last", "latest", "-1"):
        return select(entries, Query(limit=1))[0]
    key = ref.upper()
    hits = [e for e in entries if e.id.upper() == key]
    if len(hits) > 1:  # two files claim one id (a copy, a merge): name one by its file
        names = ", ".join(Path(e.path).stem for e in hits if e.path)
        raise UsageError(
            f"{len(hits)} journal entries have the id {hits[0].id} ({names})",
            hint="name one by its file: labpath journal show "
            f"{Path(hits[0].path).stem if hits[0].path else 'FILE'}",
        )
    if not hits:
        hits = [e for e in entries if e.path and Path(e.path).stem == ref]
    if not hits:
        hits = [e for e in entries if e.id.upper().startswith(key)]
    if not hits and len(ref) >= 3:
        hits = [
            e for e in entries if e.path and ref.lower() in Path(e.path).name.lower()
        ]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UsageError(
            f"no journal entry '{ref}'",
            hint="list entries with their ids: labpath journal list",
        )
    ids = ", ".join(e.id[:12] for e in hits[:5])
    raise UsageError(
        f"'{ref}' matches {len(hits)} entries ({ids}{', ...' if len(hits) > 5 else ''})",
        hint="give more characters of the id: labpath journal show ID",
    )


def make_query(
    text=(),
    tags=(),
    lab=None,
    task=None,
    phase=None,
    week=None,
    type=None,
    starred=False,
    since=None,
    until=None,
    limit=None,
    now: dt.datetime | None = None,
) -> Query:
    """A Query from command-line strings; bad dates, types and counts are usage errors."""
    now = now or dates.now()
    if type is not None and type not in ENTRY_TYPES:
        raise UsageError(
            f"unknown entry type '{type}'", hint=f"types: {', '.join(ENTRY_TYPES)}"
        )
    if limit is not None and limit < 1:
        raise UsageError("-n must be at least 1")
    start, end = dates.period(since, until, now, why=": nothing can match")
    return Query(
        text=tuple(w for w in (text or ()) if w.strip()),
        tags=tuple(t.lstrip("#@") for t in (tags or ())),
        lab=lab,
        task=task,
        phase=phase,
        week=week,
        type=type,
        starred=starred,
        since=start,
        until=end,
        limit=limit,
    )


def search(ws, q: Query, problems: list | None = None) -> list[JournalEntry]:
    """The workspace's entries matching q, newest first (select() on every entry).

    The index holds the entries newest first with each one's lower-case text, so the
    words are looked for in those bytes, the other filters run on light named tuples,
    and only the entries returned are decoded and become dataclasses; with a limit the
    walk stops once it has that many.
    """
    import collections
    import dataclasses

    words = list(q.text)
    rest = dataclasses.replace(q, text=(), limit=None)
    view = collections.namedtuple("EntryView", FIELDS) if rest != Query() else None

    def walk(ix) -> list[JournalEntry]:
        hits = []
        for i in ix.newest_with(words):
            row = ix.row(i)
            if view is not None and not matches(view._make(row), rest):
                continue
            hits.append(JournalEntry(*row))
            if q.limit and len(hits) >= q.limit:
                break
        return hits

    return read_through(ws.journal_dir, index_file(ws), problems, walk)


def tag_counts(entries) -> list[tuple[str, int]]:
    """Every tag with its number of entries, most used first (jrnl's --tags)."""
    counts: dict[str, int] = {}
    for e in entries:
        for t in e.tags:
            counts[t] = counts.get(t, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
