"""Use cases that look after the workspace: repair, sync, report, review, doctor."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from labpath import review as review_mod
from labpath.app.context import Context, open_workspace
from labpath.app.results import Notice, plain
from labpath.errors import CHECKS_FAILED, OK, LabpathError, UsageError
from labpath.fsutil import append_line, locked


@dataclass(frozen=True)
class Repaired:
    repairs: tuple  # recovery.Repair
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain({"repaired": self.repairs})


def repair(ws_path: str | None) -> Repaired:
    """Recover corrupt logs from git history, keeping a copy of each damaged file."""
    from labpath import recovery

    return Repaired(tuple(recovery.repair(open_workspace(ws_path))))


@dataclass(frozen=True)
class Synced:
    result: object  # sync.SyncResult
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain(self.result)


def sync(ws_path: str | None, remote: str | None) -> Synced:
    """Pull (fast-forward only) and push the workspace."""
    from labpath import sync as sync_mod

    return Synced(sync_mod.sync(open_workspace(ws_path).root, remote))


@dataclass(frozen=True)
class Written:
    report: object  # report.Report
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain(self.report)


def report(
    ctx: Context,
    since: str | None,
    until: str | None,
    lab: str | None,
    out: str | None,
) -> Written:
    """A progress report for a period, or with a lab: a blog post draft about it."""
    from labpath import report as report_mod

    if lab:
        if since or until:
            raise UsageError(
                "--lab drafts a post from the lab's whole history; drop --since/--until"
            )
        return Written(report_mod.lab_post(ctx.workspace, ctx.curriculum, lab, out))
    return Written(
        report_mod.progress_report(ctx.workspace, ctx.curriculum, since, until, out)
    )


# --- review ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Front:
    """Show a card's front, then ask whether to reveal it (an answer of q stops)."""

    item: review_mod.Due


@dataclass(frozen=True)
class Back:
    """Show a card's back, then ask for a rating (1-4, again/hard/good/easy, q)."""

    item: review_mod.Due


@dataclass(frozen=True)
class Scheduled:
    item: review_mod.Due
    due: str  # the ISO time of the next review


@dataclass(frozen=True)
class DueCards:
    due: tuple[review_mod.Due, ...]
    cards: int  # cards in all, due or not
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain({"due": self.due, "cards": self.cards})


@dataclass(frozen=True)
class SessionResult:
    reviewed: tuple[tuple[str, int, str], ...]  # (card id, rating, next due)
    remaining: int
    commit: str | None = None
    notices: tuple[Notice, ...] = ()


def review_limits(limit: int, new: int, source: str | None = None) -> None:
    """Refuse limits that could select nothing, or an unknown source, before the
    workspace is opened."""
    if limit < 1 or new < 0:
        raise UsageError(
            "--limit must be at least 1 and --new at least 0",
            hint="labpath review -n 10",
        )
    review_mod.of_source([], source)


def due(ctx: Context, limit: int, new: int, source: str | None = None) -> DueCards:
    """The cards due now (at most limit, of them at most new never seen), of one
    source (journal, questions, mistakes) or all."""
    review_limits(limit, new, source)
    found, total = review_mod.due_now(ctx, limit, new, source=source)
    return DueCards(tuple(found), total)


def review(ctx: Context, cards: DueCards, ask, show) -> SessionResult:
    """`labpath review` with cards due: the session, talking through ask and show."""
    return session(ctx.workspace, list(cards.due), ask, show)


def session(ws, due: list, ask, show, now=None) -> SessionResult:
    """Review the due cards one by one.

    show(event) shows a Front, Back or Scheduled event; ask(event) asks about a Front
    or a Back and returns the answer (EOFError counts as q). Each rating is appended at
    once (a stop keeps what was done); one commit at the end.
    """
    from labpath import vcs

    vcs.open_repo(ws.root)
    path = review_mod.review_file(ws)
    done = []
    clock = now or (lambda: dt.datetime.now().astimezone())
    try:
        for item in due:
            show(Front(item))
            try:
                if ask(Front(item)).strip().lower() == "q":
                    break
            except EOFError:
                break
            show(Back(item))
            rating = None
            while rating is None:
                try:
                    answer = ask(Back(item))
                except EOFError:
                    answer = "q"
                if answer.strip().lower() == "q":
                    break
                rating = review_mod.parse_rating(answer)
            if rating is None:
                break
            when = clock()
            with locked(ws.lock_file):
                history = review_mod.read_log(path).get(item.card.id, [])
                state = review_mod.next_state(history, rating, when)
                record = {
                    "card": item.card.id,
                    "rating": rating,
                    "at": when.isoformat(),
                    "state": state,
                }
                append_line(path, json.dumps(record))
            done.append((item.card.id, rating, state["due"]))
            show(Scheduled(item, state["due"]))
    except KeyboardInterrupt:
        pass
    commit = None
    if done:
        with locked(ws.lock_file):
            result = vcs.commit_paths(ws.root, [path], f"review: {len(done)} card(s)")
        commit = result.sha
    return SessionResult(tuple(done), len(due) - len(done), commit)


# --- doctor ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple  # doctor.Finding
    notices: tuple[Notice, ...] = ()

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def exit_code(self) -> int:
        return OK if self.ok else CHECKS_FAILED

    def to_json(self) -> dict:
        return plain({"ok": self.ok, "findings": self.findings})


def doctor(ws_path: str | None) -> Diagnosis:
    """The machine's and the workspace's health, with the fix for each problem."""
    from labpath import doctor as doctor_mod
    from labpath.app.context import load

    try:
        loaded = load(ws_path)
    except LabpathError as exc:
        loaded = exc
    return Diagnosis(tuple(doctor_mod.diagnose(ws_path, loaded)))
