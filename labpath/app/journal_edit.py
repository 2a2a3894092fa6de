"""The journal's edit and star workflows: the learner's editor, the lock, one commit each."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from labpath import dates
from labpath.errors import UsageError
from labpath.journal.entry import JournalEntry, edited, parse, render
from labpath.journal.query import find
from labpath.journal.store import entries, rewrite


@dataclass(frozen=True)
class EditResult:
    """An entry after edit or star; changed is False when nothing was saved."""

    entry: JournalEntry
    changed: bool
    commit: str | None = None
    notices: tuple[str, ...] = ()


def edit_entry(ws, ref: str, edit_text, now: dt.datetime | None = None) -> EditResult:
    """Let the learner edit an entry's file text (edit_text: str -> str), then commit it.

    edit_text is the editor, injected so tests can play the learner.
    """
    from labpath import vcs
    from labpath.fsutil import atomic_write, locked

    repo = vcs.ready_repo(ws.root)  # one rev-parse: no GitPython for one file
    entry = find(entries(ws), ref)
    path = Path(entry.path)
    before = path.read_text(encoding="utf-8")
    after = edit_text(before)
    if after is None or after.strip() == before.strip():
        return EditResult(entry, False)
    now = now or dates.now()
    try:
        new = edited(entry, after, now)
    except UsageError as exc:
        keep = ws.state_dir / "tmp" / f"edit-{entry.id}.md"
        atomic_write(keep, after)
        hint = (
            f"your text is kept in {keep}; fix it there and copy it over {path}, "
            f"or run `labpath journal edit {entry.id[:12]}` again"
        )
        raise UsageError(exc.message, hint=hint) from None
    notices = []
    if str(parse(after)[0].get("id", entry.id)) != entry.id:
        notices.append(f"kept the entry's id {entry.id}: review history is tied to it")
    with locked(ws.lock_file):
        if path.read_text(encoding="utf-8") != before:
            raise UsageError(
                f"{path} changed while you were editing it; nothing saved",
                hint=f"run `labpath journal edit {entry.id[:12]}` again",
            )
        rewrite(path, render(new))
        result = vcs.commit_files(
            ws.root, [path], f'journal: edit "{new.title[:50]}"', repo
        )
    if result.warning:
        notices.append(result.warning)
    return EditResult(new, True, result.sha, tuple(notices))


def set_star(ws, ref: str, starred: bool) -> EditResult:
    """Star or unstar an entry in place, keeping every other key."""
    from labpath import vcs
    from labpath.fsutil import locked

    repo = vcs.ready_repo(ws.root)
    entry = find(entries(ws), ref)
    if entry.starred == starred:
        return EditResult(entry, False)
    new = dataclasses.replace(entry, starred=starred)
    path = Path(entry.path)
    with locked(ws.lock_file):
        rewrite(path, render(new))
        verb = "star" if starred else "unstar"
        result = vcs.commit_files(
            ws.root, [path], f'journal: {verb} "{new.title[:50]}"', repo
        )
    return EditResult(
        new, True, result.sha, (result.warning,) if result.warning else ()
    )
