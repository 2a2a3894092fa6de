"""Repair of the append-only logs: drop corrupt lines, restore lost ones from git history."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import EnvironmentFailure
from labpath.fsutil import atomic_write, locked


@dataclass(frozen=True)
class Repair:
    path: Path
    bad_lines: tuple[tuple[int, str], ...]  # (line number, text) found corrupt
    restored: int  # lines brought back from the last good committed version
    from_commit: str | None
    backup: Path | None  # the corrupt file as it was, kept beside the repaired one
    commit: str | None = None


def _progress_line(rec) -> bool:
    return isinstance(rec, dict) and "event" in rec and "task" in rec


def _time_line(rec) -> bool:
    if not isinstance(rec, dict) or "id" not in rec:
        return False
    if rec.get("kind") == "skip":
        return isinstance(rec.get("date"), str)
    return (
        rec.get("kind") in ("sprint", "manual")
        and isinstance(rec.get("minutes"), (int, float))
        and isinstance(rec.get("start"), str)
    )


def _review_line(rec) -> bool:
    return isinstance(rec, dict) and "card" in rec and "rating" in rec


VALIDATORS = {
    "progress.jsonl": _progress_line,
    "time.jsonl": _time_line,
    "review.jsonl": _review_line,
}


def valid(line: str, check) -> bool:
    try:
        return bool(check(json.loads(line)))
    except ValueError:
        return False


def plan(
    current: list[str], history: list[str] | None, check
) -> tuple[list[str], list[tuple[int, str]], int]:
    """The repaired lines, the corrupt ones and how many came back from history (pure).

    Order: the last good committed version first, then lines added since, as they stand.
    """
    bad = [
        (n, line)
        for n, line in enumerate(current, 1)
        if line.strip() and not valid(line, check)
    ]
    good_now = [line for line in current if line.strip() and valid(line, check)]
    base = history or []
    seen = set(base)
    merged = list(base) + [line for line in good_now if line not in seen]
    restored = sum(1 for line in base if line not in set(good_now))
    return merged, bad, restored


def _history(root: Path, path: Path, check) -> tuple[list[str] | None, str | None]:
    """The newest committed version of path whose every line is valid."""
    from labpath import vcs

    repo = vcs.open_repo(root)
    top = Path(repo.working_tree_dir).resolve()
    rel = path.resolve().relative_to(top).as_posix()
    try:
        shas = repo.git.log("--format=%H", "--", rel).split()
    except Exception:  # no commits yet
        return None, None
    for sha in shas:
        try:
            text = repo.git.show(f"{sha}:{rel}")
        except Exception:
            continue
        lines = [line for line in text.splitlines() if line.strip()]
        if all(valid(line, check) for line in lines):
            return lines, sha
    return None, None


def _lost_committed_lines(root: Path, path: Path) -> bool:
    """Whether the file no longer starts with its committed version (lines were removed)."""
    from labpath import vcs

    try:
        return vcs.shrunk(vcs.open_repo(root), path) > 0
    except EnvironmentFailure:
        return False


def repair(ws, now: dt.datetime | None = None) -> list[Repair]:
    """Repair every log that has corrupt lines or lost committed ones; commit the result.

    Nothing is deleted: the corrupt file is kept as <name>.corrupt-<time> and committed.
    """
    from labpath import vcs

    vcs.open_repo(ws.root)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%dT%H%M%S")
    done = []
    with locked(ws.lock_file):
        for name, check in VALIDATORS.items():
            path = ws.state_dir / name
            if not path.exists():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            current = text.splitlines()
            intact = all(valid(line, check) for line in current if line.strip())
            if intact and not _lost_committed_lines(ws.root, path):
                continue
            history, sha = _history(ws.root, path, check)
            merged, bad, restored = plan(current, history, check)
            backup = ws.state_dir / "recovered" / f"{name}.corrupt-{stamp}"
            atomic_write(backup, text)
            atomic_write(path, "".join(line + "\n" for line in merged))
            lines = ", ".join(str(n) for n, _ in bad)
            what = f"had corrupt line(s) {lines}" if bad else "had lost committed lines"
            origin = sha[:10] if sha else "no earlier commit"
            try:
                result = vcs.commit_paths(
                    ws.root,
                    [path, backup],
                    f"repair: {name} {what}; kept a copy, restored {restored} line(s) "
                    f"from {origin}",
                    rewrites=True,
                )
            except EnvironmentFailure:
                result = None
            done.append(
                Repair(
                    path,
                    tuple(bad),
                    restored,
                    sha,
                    backup,
                    result.sha if result else None,
                )
            )
    return done
