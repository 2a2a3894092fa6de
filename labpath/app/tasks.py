"""Use cases of the plan: init, next, start, done and status."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from labpath import curriculum as curriculum_mod
from labpath import journal, labs, progress, workspace
from labpath.app.context import Context, guard, inside, refreshed
from labpath.app.results import Notice, info, warnings
from labpath.curriculum import Phase, Task
from labpath.errors import UsageError
from labpath.fsutil import locked
from labpath.labs import brief
from labpath.progress import DONE, TaskState
from labpath.structs import struct

# --- init ----------------------------------------------------------------------------


@struct
class InitResult:
    root: Path
    created: bool
    notices: tuple[Notice, ...] = ()


def init(directory: str | None, curriculum_dir: str | None = None) -> InitResult:
    """Create a workspace (or say it already is one)."""
    root = Path(directory) if directory else workspace.find(None)
    if curriculum_dir:
        curriculum_mod.load(curriculum_dir)  # refuse a broken curriculum up front
    ws, created, result = workspace.init(root, curriculum=curriculum_dir)
    return InitResult(ws.root, created, warnings(result.warning if result else None))


# --- next / start ----------------------------------------------------------------------


@struct
class TaskCard:
    task: Task
    phase: Phase
    state: TaskState
    lab_ready: bool  # the task's lab ships with this labpath
    lab_dir: Path | None
    created: tuple[Path, ...] = ()
    command: str = ""
    position: tuple[int, int] = (0, 0)  # (done, total)

    def to_json(self) -> dict:
        t = self.task
        return {
            "id": t.id,
            "title": t.title,
            "kind": t.kind,
            "phase": {
                "number": self.phase.number,
                "id": self.phase.id,
                "title": self.phase.title,
            },
            "week": t.week,
            "goal": t.goal,
            "steps": list(t.steps),
            "deliverables": list(t.deliverables),
            "resources": [{"title": r.title, "url": r.url} for r in t.resources],
            "hours": t.hours,
            "lab": t.lab,
            "checkable": self.lab_ready,
            "lab_dir": str(self.lab_dir) if self.lab_dir else None,
            "created": [str(p) for p in self.created],
            "status": self.state.status,
            "command": self.command,
            "progress": {"done": self.position[0], "total": self.position[1]},
        }


@struct
class CardResult:
    """The task to work on now; None once every task is done."""

    card: TaskCard | None
    total: int
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return (
            {"task": None, "done": True} if self.card is None else self.card.to_json()
        )


def next_task(ctx: Context, faults: int | None = None) -> CardResult:
    """Pick the current task, scaffold its lab, record that it started."""
    from labpath import scaffold, vcs

    total = len(ctx.curriculum.tasks)
    task = ctx.current
    if task is None:
        return CardResult(None, total)
    ws = ctx.workspace
    lab_ready = bool(task.lab) and labs.exists(task.lab)
    if faults is not None and not lab_ready:
        raise UsageError(
            f"--faults: the current task '{task.id}' has no lab to plant faults in",
            hint="start the lab itself: labpath start fixit --faults K",
        )
    created: list[Path] = []
    notices: list[str] = []
    with locked(ws.lock_file):
        lab = labs.load(task.lab) if lab_ready else None
        targets = scaffold.targets(lab, ws.lab_dir(lab.id)) if lab else []
        pending = ctx.state(task).status == progress.PENDING
        # Only a run that writes asks git first whether it may (a rebase, a merge or a
        # detached HEAD would swallow its commit): the usual `next` writes nothing.
        guarded = (
            pending or faults is not None or not all(map(os.path.lexists, targets))
        )
        if guarded:
            guard(ws)
        if lab is not None:
            created = scaffold.scaffold(lab, ws.lab_dir(lab.id), ws.root, faults)
        if pending:
            progress.record(ws.progress_file, "start", task.id)
        targets = [p for p in targets if p.exists()]
        # one `git status` for both questions: starter files an earlier, interrupted
        # `next` copied but never committed, and progress not yet committed
        changes = vcs.changes(
            ws.root, [*targets, ws.progress_file], "--untracked-files=all"
        )
        progress_file = ws.progress_file.resolve()
        leftover = [
            path
            for code, path in changes
            if code in vcs.NEW and path != progress_file and path not in created
        ]
        if (
            created
            or leftover
            or pending
            or any(p == progress_file for _, p in changes)
        ):
            if not guarded:
                guard(ws)
            what = f"scaffold {task.lab}" if created or leftover else "start"
            result = vcs.commit_or_warn(
                ws.root,
                [*created, *leftover, ws.progress_file],
                f"next: {what} {task.id}",
                "the task's start",
            )
            notices.append(result.warning)
    states = progress.derive(progress.read_events(ws.progress_file))
    return CardResult(
        card(ctx, task, states, tuple(created)),
        total,
        warnings(*notices),
    )


def start(ctx: Context, lab_id: str, faults: int | None = None) -> CardResult:
    """Scaffold any lab and make its task current until it is done."""
    from labpath import scaffold, vcs

    lab = labs.load(lab_id)
    task = ctx.curriculum.task_for_lab(lab.id)
    if task is None:
        raise UsageError(
            f"no task of the curriculum uses lab '{lab.id}'",
            hint=f"check any folder against it: labpath check {lab.id} --path DIR",
        )
    ws = ctx.workspace
    guard(ws)
    with locked(ws.lock_file):
        created = scaffold.scaffold(lab, ws.lab_dir(lab.id), ws.root, faults)
        if ctx.state(task).status == progress.PENDING:
            progress.record(ws.progress_file, "start", task.id)
        if ctx.focus != task.id:
            progress.record(ws.progress_file, "focus", task.id, lab=lab.id)
        result = vcs.commit_or_warn(
            ws.root,
            [*created, ws.progress_file],
            f"start: {lab.id} ({task.id})",
            "the lab's start",
        )
    notices = warnings(result.warning)
    ctx = refreshed(ctx)
    return CardResult(
        card(ctx, task, ctx.states, tuple(created)), len(ctx.curriculum.tasks), notices
    )


def card(ctx: Context, task: Task, states=None, created=()) -> TaskCard:
    states = ctx.states if states is None else states
    lab_ready = bool(task.lab) and labs.exists(task.lab)
    task = brief.with_steps(task)
    command = f"labpath check {task.lab}" if lab_ready else f"labpath done {task.id}"
    done = sum(
        1 for t in ctx.curriculum.tasks if progress.state_of(states, t).status == DONE
    )
    return TaskCard(
        task=task,
        phase=ctx.curriculum.phase_of(task),
        state=progress.state_of(states, task),
        lab_ready=lab_ready,
        lab_dir=ctx.workspace.lab_dir(task.lab) if lab_ready else None,
        created=created,
        command=command,
        position=(done, len(ctx.curriculum.tasks)),
    )


# --- done ----------------------------------------------------------------------------


@struct
class DoneResult:
    task: Task
    already: bool
    commit: str | None
    evidence: str | None
    next: Task | None
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return {
            "task": self.task.id,
            "already_done": self.already,
            "evidence": self.evidence,
            "commit": self.commit,
            "next": self.next.id if self.next else None,
        }


def done(
    ctx: Context, task_id: str, evidence: str | None, note: str | None
) -> DoneResult:
    """Complete a task that has no automated checks."""
    from labpath import vcs

    ws = ctx.workspace
    task = ctx.curriculum.task(task_id)
    if task.lab and labs.exists(task.lab):
        raise UsageError(
            f"task '{task.id}' is completed by passing its checks",
            hint=f"run `labpath check {task.lab}`",
        )
    notices: list[str | None] = []
    if evidence and not evidence.startswith(("http://", "https://")):
        epath = Path(evidence).expanduser()
        if not epath.is_absolute():
            epath = (Path.cwd() / epath).resolve()
        if not epath.exists():
            raise UsageError(
                f"--evidence {evidence}: no such file or folder",
                hint="give a URL (https://...) or the path of an existing file",
            )
        if inside(epath, ws.root):
            evidence = str(epath.relative_to(ws.root.resolve()))
        else:
            evidence = str(epath)
            notices.append(f"{epath} is outside the workspace: recorded by path only")
    guard(ws)
    already = ctx.state(task).status == DONE
    commit = None
    if already and vcs.dirty(ws.root, [ws.progress_file]):
        # an earlier `done` recorded the task and was stopped before its commit
        with locked(ws.lock_file):
            result = vcs.commit_or_warn(
                ws.root, [ws.progress_file], f"done: {task.id}", "the record"
            )
        commit = result.sha
        notices.append(result.warning)
    if not already:
        with locked(ws.lock_file):
            fields = {"via": "manual"}
            if evidence:
                fields["evidence"] = evidence
            if note:
                fields["note"] = note
            progress.record(ws.progress_file, "done", task.id, **fields)
            paths = [ws.progress_file]
            proof = ws.root / evidence if evidence else None
            if proof is not None and inside(proof, ws.root) and proof.exists():
                paths.append(proof)
            result = vcs.commit_or_warn(
                ws.root, paths, f"done: {task.id}", "the record"
            )
            commit = result.sha
            notices.append(result.warning)
    states = progress.derive(progress.read_events(ws.progress_file))
    return DoneResult(
        task,
        already,
        commit,
        evidence,
        progress.next_task(ctx.curriculum, states),
        info(*notices),
    )


# --- status --------------------------------------------------------------------------


@struct
class Status:
    context: Context
    current: Task | None
    journal_entries: int
    pace: object = None  # pace.Pace: calendar week, hours against the target, streaks
    shipped: frozenset[str] = frozenset()  # the curriculum's labs that have checks
    notices: tuple[Notice, ...] = ()

    @property
    def done(self) -> int:
        return sum(
            1
            for t in self.context.curriculum.tasks
            if self.context.state(t).status == DONE
        )

    def checkable(self, task: Task) -> bool:
        return bool(task.lab) and task.lab in self.shipped

    def to_json(self) -> dict:
        ctx = self.context
        phases = []
        for phase in ctx.curriculum.phases:
            weeks = []
            for week in phase.weeks:
                tasks = []
                for t in week.tasks:
                    s = ctx.state(t)
                    tasks.append(
                        {
                            "id": t.id,
                            "title": t.title,
                            "kind": t.kind,
                            "lab": t.lab,
                            "checkable": self.checkable(t),
                            "status": s.status,
                            "started_at": s.started_at,
                            "done_at": s.done_at,
                            "checks": s.checks,
                        }
                    )
                weeks.append(
                    {"number": week.number, "title": week.title, "tasks": tasks}
                )
            phases.append(
                {
                    "number": phase.number,
                    "id": phase.id,
                    "title": phase.title,
                    "weeks": weeks,
                }
            )
        return {
            "workspace": str(ctx.workspace.root),
            "current": self.current.id if self.current else None,
            "done": self.done,
            "total": len(ctx.curriculum.tasks),
            "journal_entries": self.journal_entries,
            "pace": pace_json(self.pace) if self.pace is not None else None,
            "phases": phases,
        }


def pace_json(p) -> dict:
    from labpath.app.results import plain

    data = plain(p)
    data["schedule"] = p.schedule
    data["recent_weeks"] = [{"week": w, "minutes": m} for w, m in p.recent_weeks]
    return data


def status(ctx: Context, today: dt.date | None = None) -> Status:
    """Progress through the plan, the pace against the calendar, the journal's size."""
    from labpath import pace, timelog

    ws = ctx.workspace
    log = timelog.read(timelog.time_file(ws))
    p = pace.compute(
        ctx.curriculum,
        ctx.states,
        log,
        ws.settings.start_date,
        ws.settings.weekly_hours,
        today or dt.date.today(),
        ctx.current,
    )
    shipped = frozenset(
        t.lab for t in ctx.curriculum.tasks if t.lab and labs.exists(t.lab)
    )
    return Status(ctx, ctx.current, journal.count(ws.journal_dir), p, shipped)
