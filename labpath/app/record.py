"""Use cases of the learning record: write and commit it (record), re-check it (verify)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from labpath import record as rec
from labpath.app.context import Context, guard
from labpath.app.results import Notice, info, plain, warnings
from labpath.errors import CHECKS_FAILED, OK
from labpath.fsutil import locked


@dataclass(frozen=True)
class Recorded:
    record: dict
    paths: tuple[Path, ...]
    commit: str | None
    signed: bool
    signing: str  # signed with what, or why not
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return self.record


def record(ctx: Context) -> Recorded:
    """Write record/record.json and record/RECORD.md and commit them (signed if git can)."""
    from labpath import vcs

    ws = ctx.workspace
    vcs.quick_repo(ws.root)  # a workspace without git cannot pin a record
    guard(ws)
    with locked(ws.lock_file):
        data, notes = rec.build(ctx)
        paths = rec.write(ws, data)
        done = rec.commit(ws.root, paths, _message(data))
    return Recorded(
        data,
        tuple(paths),
        done.sha,
        done.signed,
        done.how,
        warnings(*notes, done.warning),
    )


def _message(data: dict) -> str:
    labs = [c["lab"] for c in data["labs"]]
    if not labs:
        return "record: no lab passed yet"
    shown = ", ".join(labs[:6]) + (
        f" and {len(labs) - 6} more" if len(labs) > 6 else ""
    )
    return f"record: {len(labs)} lab(s) passed ({shown})"


# --- verify ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimCheck:
    lab: str
    commit: str | None
    holds: bool
    status: str  # passed | failed | not_started | timeout | crashed | ... | unchecked
    passed: int = 0
    total: int = 0
    recorded: str = ""  # the record's figures, "20/20"
    failing: tuple[str, ...] = ()
    reason: str | None = None  # why it no longer holds, in one line
    duration: float = 0.0
    note: str | None = None  # the lab's checks differ from those the record names


@dataclass(frozen=True)
class Verified:
    source: str
    head: str
    record_commit: str | None
    signature: str
    recorded_with: str | None  # the labpath that wrote the record
    generated: str | None
    claims: tuple[ClaimCheck, ...]
    notices: tuple[Notice, ...] = ()

    @property
    def holds(self) -> bool:
        return all(c.holds for c in self.claims)

    @property
    def exit_code(self) -> int:
        return OK if self.holds else CHECKS_FAILED

    def to_json(self) -> dict:
        from labpath import __version__

        return {
            "source": self.source,
            "head": self.head,
            "record_commit": self.record_commit,
            "signature": self.signature,
            "generated": self.generated,
            "labpath": {"recorded": self.recorded_with, "now": __version__},
            "holds": self.holds,
            "exit_code": self.exit_code,
            "claims": [plain(c) for c in self.claims],
        }


@dataclass(frozen=True)
class _Clone:
    """What check_spec reads of a context: the workspace (the clone's)."""

    workspace: object


def verify(given: str | None, ws_path: str | None = None, on_lab=None) -> Verified:
    """Clone the source, read its committed record and re-check every claim at HEAD."""
    from labpath import workspace

    root = None
    if given is None:
        root = workspace.open_workspace(ws_path).root
    src = rec.source(given, root)
    notes: list[str | None] = []
    changed = rec.uncommitted(src.local)
    if changed:
        notes.append(
            f"{src.given} has {changed} uncommitted change(s): verify checks what is "
            "committed"
        )
    tmp = Path(tempfile.mkdtemp(prefix="labpath-verify-"))
    try:
        folder = rec.clone(src, tmp / "clone")
        data = rec.read_record(folder, src.given)
        head = rec.git(folder, "rev-parse", "HEAD")
        record_commit, signature = rec.record_commit(folder)
        ws = workspace.Workspace(folder, workspace.read_settings(folder))
        checked = []
        for claim in data["labs"]:
            checked.append(_check_claim(ws, folder, claim, on_lab))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from labpath import __version__

    if data.get("labpath") != __version__:
        notes.append(
            f"the record was written by labpath {data.get('labpath')}; these checks "
            f"are labpath {__version__}'s"
        )
    if not checked:
        notes.append("the record claims no passed lab")
    return Verified(
        src.given,
        head,
        record_commit,
        signature,
        data.get("labpath"),
        data.get("generated"),
        tuple(checked),
        info(*notes),
    )


def _check_claim(ws, folder: Path, claim: dict, on_lab=None) -> ClaimCheck:
    """One claim: its commit in HEAD's history, then the lab's checks on HEAD's code."""
    from labpath import labs
    from labpath.app.check import check_spec
    from labpath.checks.runner import run

    lab_id, sha = claim["lab"], claim.get("commit")
    recorded = f"{claim.get('passed')}/{claim.get('total')}"
    base = dict(lab=lab_id, commit=sha, recorded=recorded)
    broken = rec.broken_claim(folder, claim)
    if broken:
        return ClaimCheck(**base, holds=False, status="unchecked", reason=broken)
    if not labs.exists(lab_id):
        return ClaimCheck(
            **base,
            holds=False,
            status="unchecked",
            reason=f"this labpath has no lab '{lab_id}' to check it with",
        )
    lab = labs.load(lab_id)
    path = claim.get("path") or f"labs/{lab_id}"
    target = folder / path
    if not target.is_dir():
        return ClaimCheck(
            **base, holds=False, status="unchecked", reason=f"{path} is gone at HEAD"
        )
    seed = claim.get("seed") if isinstance(claim.get("seed"), int) else None
    note = None
    if claim.get("checks") and claim["checks"] != rec.lab_digest(lab):
        note = "its checks changed since the record (not the checks it passed)"
    if on_lab is not None:
        on_lab(lab_id)
    report = run(check_spec(_Clone(ws), lab, target, seed=seed))
    failing = tuple(
        r.name for r in report.results if r.outcome not in ("passed", "skipped")
    )
    reason = None
    if not report.ok:
        if failing:
            reason = (
                f"{len(failing)} of {report.total} checks fail now: "
                + ", ".join(failing[:3])
                + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
            )
        else:
            reason = report.message or f"the checks ended {report.status}"
    return ClaimCheck(
        **base,
        holds=report.ok,
        status=report.status,
        passed=report.passed,
        total=report.total,
        failing=failing,
        reason=reason,
        duration=round(report.duration, 3),
        note=note,
    )
