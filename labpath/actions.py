"""The core of each command: plain functions over a workspace that return data to show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from labpath import curriculum as curriculum_mod
from labpath import journal, labs, progress, workspace
from labpath.curriculum import Curriculum, Phase, Task
from labpath.errors import EnvironmentFailure, UsageError, did_you_mean
from labpath.fsutil import locked
from labpath.labs import brief
from labpath.progress import DONE, TaskState
from labpath.workspace import Workspace


@dataclass(frozen=True)
class Context:
    """A workspace with its curriculum and progress, read once per command."""

    workspace: Workspace
    curriculum: Curriculum
    states: dict[str, TaskState]
    focus: str | None = None  # the task `labpath start` made current

    def state(self, task: Task) -> TaskState:
        return progress.state_of(self.states, task)

    @property
    def current(self) -> Task | None:
        return progress.next_task(self.curriculum, self.states, self.focus)


def load_context(
    ws_path: str | None = None, curriculum_dir: str | None = None, create: bool = False
) -> tuple[Context, list[str]]:
    """Open (or, for `next`, create) the workspace and read its curriculum and progress."""
    notices: list[str] = []
    try:
        ws = workspace.open_workspace(ws_path)
    except UsageError:
        if not create:
            raise
        root = workspace.find(ws_path)
        ws, _, result = workspace.init(root)
        notices.append(f"Created a labpath workspace at {root}")
        if result and result.warning:
            notices.append(result.warning)
    cdir = curriculum_dir or ws.curriculum_dir()
    cur = curriculum_mod.load(cdir)
    events = progress.read_events(ws.progress_file)
    return Context(ws, cur, progress.derive(events), progress.focus_of(events)), notices


def refreshed(ctx: Context) -> Context:
    """The same context with progress read again (after a command recorded events)."""
    events = progress.read_events(ctx.workspace.progress_file)
    return Context(ctx.workspace, ctx.curriculum, progress.derive(events),
                   progress.focus_of(events))  # fmt: skip


def _guard(ws: Workspace) -> None:
    """Refuse to record while a rebase, merge or detached HEAD would swallow the commit."""
    from labpath import vcs

    if vcs.is_repo(ws.root):
        vcs.ensure_committable(ws.root)


def _committable(ws: Workspace) -> bool:
    from labpath import vcs

    return vcs.is_repo(ws.root) and vcs.blocked(ws.root) is None


# --- init ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InitResult:
    root: Path
    created: bool
    warning: str | None


def init(directory: str | None, curriculum_dir: str | None = None) -> InitResult:
    root = Path(directory) if directory else workspace.find(None)
    if curriculum_dir:
        curriculum_mod.load(curriculum_dir)  # refuse a broken curriculum up front
    ws, created, result = workspace.init(root, curriculum=curriculum_dir)
    return InitResult(ws.root, created, result.warning if result else None)


# --- next ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskCard:
    task: Task
    phase: Phase
    state: TaskState
    lab_ready: bool  # the task's lab ships with this labpath
    lab_dir: Path | None
    created: tuple[Path, ...] = ()
    command: str = ""
    position: tuple[int, int] = (0, 0)  # (done, total)


def next_task(ctx: Context) -> tuple[TaskCard | None, list[str]]:
    """Pick the current task, scaffold its lab, record that it started."""
    from labpath import scaffold, vcs

    notices: list[str] = []
    task = ctx.current
    if task is None:
        return None, notices
    ws = ctx.workspace
    lab_ready = bool(task.lab) and labs.exists(task.lab)
    created: list[Path] = []
    _guard(ws)
    with locked(ws.lock_file):
        leftover: list[Path] = []
        if lab_ready:
            lab = labs.load(task.lab)
            created = scaffold.scaffold(lab, ws.lab_dir(task.lab), ws.root)
            # starter files an earlier, interrupted `next` copied but never committed
            leftover = vcs.uncommitted(
                ws.root, _starter_targets(lab, ws.lab_dir(lab.id))
            )
            leftover = [p for p in leftover if p not in created]
        pending = ctx.state(task).status == progress.PENDING
        if pending:
            progress.record(ws.progress_file, "start", task.id)
        if created or leftover or pending or vcs.dirty(ws.root, [ws.progress_file]):
            what = f"scaffold {task.lab}" if created or leftover else "start"
            result = vcs.commit_or_warn(
                ws.root,
                [*created, *leftover, ws.progress_file],
                f"next: {what} {task.id}",
                "the task's start",
            )
            if result.warning:
                notices.append(result.warning)
    states = progress.derive(progress.read_events(ws.progress_file))
    return card(ctx, task, states, tuple(created)), notices


def start(ctx: Context, lab_id: str) -> tuple[TaskCard, list[str]]:
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
    notices: list[str] = []
    _guard(ws)
    with locked(ws.lock_file):
        created = scaffold.scaffold(lab, ws.lab_dir(lab.id), ws.root)
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
        if result.warning:
            notices.append(result.warning)
    ctx = refreshed(ctx)
    return card(ctx, task, ctx.states, tuple(created)), notices


def _starter_targets(lab, dest: Path) -> list[Path]:
    """Where scaffolding puts each of the lab's starter files (and its brief)."""
    found = [
        dest / p.relative_to(lab.starter_dir)
        for p in sorted(lab.starter_dir.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    return found + ([dest / "README.md"] if lab.brief.is_file() else [])


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


# --- check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOutcome:
    report: object  # checks.runner.CheckReport
    task: Task | None
    recorded: bool
    commit: str | None = None
    newly_done: bool = False
    notices: tuple[str, ...] = ()


def resolve_lab(ctx: Context | None, lab_id: str | None) -> str:
    if lab_id is None and ctx is not None:
        lab_id = ctx.workspace.lab_at()  # standing in labs/<lab>/ names the lab
    if lab_id:
        labs.load(lab_id)  # unknown ids fail here with a did-you-mean
        return lab_id
    if ctx is None:
        raise UsageError(
            "name the lab to check, e.g. `labpath check micrograd --path DIR`"
        )
    task = ctx.current
    if task is None:
        raise UsageError(
            "every task is done; name a lab to re-check: labpath check LAB"
        )
    if not task.lab:
        raise UsageError(
            f"the current task '{task.id}' has no automated checks",
            hint=f"mark it complete with `labpath done {task.id}`",
        )
    if not labs.exists(task.lab):
        raise UsageError(
            f"the checks for lab '{task.lab}' are not in this version of labpath yet",
            hint=f"mark the task complete with `labpath done {task.id} --evidence ...`",
        )
    return task.lab


def check(
    ctx: Context | None,
    lab_id: str | None,
    path: str | None,
    timeout: float | None = None,
    seed: int | None = None,
    data: str | None = None,
    device: str | None = None,
    worker=None,
    on_progress=None,
    on_report=None,
) -> CheckOutcome:
    """Run a lab's checks on the learner's folder; a pass completes the task and commits.

    on_report(outcome) is called once the result is recorded and before the commit, so
    the learner sees the report even when git is slow or fails.
    A re-pass with no change to the lab's files is recorded without a commit.
    """
    from labpath import vcs
    from labpath.checks.runner import run

    lab = labs.load(resolve_lab(ctx, lab_id))
    if ctx is not None:
        _guard(ctx.workspace)
    if path:
        target = Path(path).expanduser().resolve()
        if not target.is_dir():
            raise UsageError(f"--path {path}: no such folder")
    elif ctx is not None:
        target = ctx.workspace.lab_dir(lab.id)
        if not target.is_dir():
            raise UsageError(
                f"no lab folder at {target}",
                hint=f"run `labpath start {lab.id}` to scaffold it, or pass --path DIR",
            )
    else:
        raise UsageError(
            "no workspace to find the lab folder in",
            hint=f"pass the folder to check: labpath check {lab.id} --path DIR",
        )
    if data is not None and not Path(data).expanduser().exists():
        raise UsageError(
            f"--data {data}: no such file or folder",
            hint="give the lab's kind of data: a text file (one word per line for the "
            "names labs) or a folder (your scripts with a questions.jsonl for retrieval)",
        )
    if device is not None and device not in ("auto", "cpu", "cuda", "mps"):
        raise UsageError(f"--device {device}: expected auto, cpu, cuda or mps")
    if timeout is not None and timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    artifacts = None
    if ctx is not None:
        artifacts = attempt_dir(ctx.workspace.state_dir / "artifacts" / lab.id)
    spec = check_spec(
        ctx,
        lab,
        target,
        timeout=timeout,
        seed=seed,
        artifacts_dir=artifacts,
        data=Path(data).expanduser() if data else None,
        device=device,
    )
    report = run(spec, worker=worker, progress=on_progress)
    if artifacts is not None:
        try:
            artifacts.rmdir()  # only when the attempt saved nothing
        except OSError:
            pass
    if ctx is None:
        return CheckOutcome(report, None, recorded=False)
    ws = ctx.workspace
    task = ctx.curriculum.task_for_lab(lab.id)
    inside = _inside(target, ws.root)
    notices = []
    if not inside:
        notices.append(f"{target} is outside the workspace: its code is not committed")
    task_id = task.id if task else lab.id
    commit = None
    newly_done = False
    with locked(ws.lock_file):
        progress.record(
            ws.progress_file,
            "check",
            task_id,
            lab=lab.id,
            status=report.status,
            passed=report.passed,
            total=report.total,
            seed=report.seed,
            path=str(target),
            hints=ctx.state(task).hints if task else 0,
            **_plots_field(report, ws.root),
        )
        if report.ok:
            newly_done = task is not None and ctx.state(task).status != DONE
            if newly_done:
                progress.record(ws.progress_file, "done", task_id, via="check")
        if on_report is not None:
            on_report(
                CheckOutcome(report, task, True, None, newly_done, tuple(notices))
            )
        if report.ok and (newly_done or (inside and vcs.dirty(ws.root, [target]))):
            paths = [ws.progress_file] + ([target] if inside else [])
            try:
                result = vcs.commit_or_warn(
                    ws.root,
                    paths,
                    f"check: {lab.id} passed {report.passed}/{report.total}",
                    "the pass",
                )
            except UsageError as exc:  # a rewritten log: refused, the report shows
                result = vcs.CommitResult(None, f"{exc.message} ({exc.hint})")
            commit = result.sha
            if result.warning:
                notices.append(result.warning)
    return CheckOutcome(report, task, True, commit, newly_done, tuple(notices))


def attempt_dir(parent: Path, now: dt.datetime | None = None) -> Path:
    """A new folder for one attempt's plots, named by time, never shared with another.

    Two checks started in the same second (two terminals, `watch` and `check`) each
    create their own: the first takes the bare timestamp, the next `-2`, `-3`, ...
    """
    stamp = (now or dt.datetime.now()).strftime("%Y%m%dT%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentFailure(
            f"cannot create {parent}: {exc.strerror or exc}",
            hint="check that the workspace is writable and the disk has space",
        ) from None
    for n in range(1, 10_000):
        folder = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise EnvironmentFailure(
                f"cannot create {folder}: {exc.strerror or exc}",
                hint="check that the workspace is writable and the disk has space",
            ) from None
        return folder
    raise EnvironmentFailure(f"too many attempts in one second under {parent}")


def _plots_field(report, root: Path) -> dict:
    """The attempt's plots, relative to the workspace, for the progress event."""
    found = [a for r in report.results for a in r.artifacts] + list(report.artifacts)
    plots = [
        str(Path(a).resolve().relative_to(root.resolve()))
        if _inside(Path(a), root)
        else a
        for a in dict.fromkeys(found)
    ]
    return {"plots": plots} if plots else {}


def check_spec(ctx: Context | None, lab, target: Path, **options):
    """The finished spec of a check, each lab it builds on resolved.

    A lab it builds on is the learner's own folder for it when that holds code, else
    the reference solution.
    """
    from labpath.checks.runner import spec_for

    uses = {}
    for name in lab.uses:
        folder = ctx.workspace.lab_dir(name) if ctx is not None else None
        mine = folder is not None and folder.is_dir() and any(folder.glob("*.py"))
        uses[name] = folder if mine else labs.load(name).solution_dir
    return spec_for(lab, target, uses, **options)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


# --- done ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DoneResult:
    task: Task
    already: bool
    commit: str | None
    evidence: str | None
    next: Task | None
    notices: tuple[str, ...] = ()


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
    notices = []
    if evidence and not evidence.startswith(("http://", "https://")):
        epath = Path(evidence).expanduser()
        if not epath.is_absolute():
            epath = (Path.cwd() / epath).resolve()
        if not epath.exists():
            raise UsageError(
                f"--evidence {evidence}: no such file or folder",
                hint="give a URL (https://...) or the path of an existing file",
            )
        if _inside(epath, ws.root):
            evidence = str(epath.relative_to(ws.root.resolve()))
        else:
            evidence = str(epath)
            notices.append(f"{epath} is outside the workspace: recorded by path only")
    _guard(ws)
    already = ctx.state(task).status == DONE
    commit = None
    if already and vcs.dirty(ws.root, [ws.progress_file]):
        # an earlier `done` recorded the task and was stopped before its commit
        with locked(ws.lock_file):
            result = vcs.commit_or_warn(
                ws.root, [ws.progress_file], f"done: {task.id}", "the record"
            )
        commit = result.sha
        if result.warning:
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
            if (
                evidence
                and _inside(ws.root / evidence, ws.root)
                and (ws.root / evidence).exists()
            ):
                paths.append(ws.root / evidence)
            result = vcs.commit_or_warn(
                ws.root, paths, f"done: {task.id}", "the record"
            )
            commit = result.sha
            if result.warning:
                notices.append(result.warning)
    states = progress.derive(progress.read_events(ws.progress_file))
    return DoneResult(
        task,
        already,
        commit,
        evidence,
        progress.next_task(ctx.curriculum, states),
        tuple(notices),
    )


# --- log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogResult:
    entry: journal.JournalEntry
    commit: str | None
    notices: tuple[str, ...] = field(default_factory=tuple)


def log(
    ctx: Context,
    text: str,
    tags: list[str],
    lab_id: str | None = None,
    entry_type: str = "aha",
    starred: bool = False,
    when: dt.datetime | None = None,
) -> LogResult:
    """Save one journal entry tied to the current work and commit that file alone."""
    from labpath import vcs

    ws = ctx.workspace
    text = (text or "").strip()
    if not text:
        raise UsageError(
            "the entry is empty; nothing saved", hint='labpath log "what clicked"'
        )
    if entry_type not in journal.ENTRY_TYPES:
        raise UsageError(f"unknown entry type '{entry_type}'")
    vcs.open_repo(ws.root)  # fail before writing anything when git is unusable
    _guard(ws)
    if lab_id:
        task = ctx.curriculum.task_for_lab(lab_id)
        if task is None:
            known = sorted({t.lab for t in ctx.curriculum.tasks if t.lab})
            raise UsageError(
                f"no lab '{lab_id}' in the curriculum",
                hint=did_you_mean(lab_id, known) or f"labs: {', '.join(known)}",
            )
    else:
        task = last_worked(ctx) or ctx.current
    state = ctx.state(task) if task else None
    last = state.last_check if state else None
    check = None
    plots: tuple[str, ...] = ()
    if last:
        check = {
            k: last.get(k) for k in ("status", "passed", "total", "at") if k in last
        }
        plots = (
            tuple(  # plots inside the workspace that still exist; they are committed
                p
                for p in last.get("plots", ())
                if not Path(p).is_absolute() and (ws.root / p).is_file()
            )
        )
    when = (when or dt.datetime.now()).astimezone().replace(microsecond=0)
    entry = journal.JournalEntry(
        id=journal.new_id(),  # to the millisecond, so entries of one second keep their order
        created=when.isoformat(),
        title=journal.title_of(text),
        body=text,
        type=entry_type,
        tags=tuple(dict.fromkeys(t.strip().lstrip("#") for t in tags if t.strip())),
        starred=starred,
        phase=task.phase if task else None,
        week=task.week if task else None,
        task=task.id if task else None,
        lab=lab_id or (task.lab if task else None),
        check=check,
        commit=vcs.head(ws.root),
        plots=plots,
    )
    notices = []
    with locked(ws.lock_file):
        stored = _unsaved_twin(ws, entry)
        if stored is not None:
            notices.append(
                f"this entry was already saved as {stored.path} by an earlier "
                "`labpath log` whose commit failed; committing that one"
            )
        else:
            stored = journal.write(ws.journal_dir, entry, when)
        result = vcs.commit_or_warn(
            ws.root,
            [Path(stored.path), *(ws.root / p for p in stored.plots)],
            f'log: {entry.type} "{entry.title[:50]}"',
            f"the entry ({stored.path})",
        )
    if result.warning:
        notices.append(result.warning)
    return LogResult(stored, result.sha, tuple(notices))


def last_worked(ctx: Context) -> Task | None:
    """The task of the lab the learner last checked or scaffolded, per the progress log."""
    events = progress.read_events(ctx.workspace.progress_file)
    for e in reversed(events):
        if e.get("event") == "check" and isinstance(e.get("lab"), str):
            task = ctx.curriculum.task_for_lab(e["lab"])
        elif e.get("event") in ("start", "reset"):
            task = next((t for t in ctx.curriculum.tasks if t.id == e["task"]), None)
        else:
            continue
        if task is not None:
            return task
    return None


def _unsaved_twin(ws: Workspace, entry: journal.JournalEntry):
    """An uncommitted entry with the same text, left by a log whose commit failed."""
    from labpath import vcs

    for path in vcs.uncommitted(ws.root, [ws.journal_dir]):
        if path.suffix != ".md" or path.is_symlink():
            continue
        try:
            old = journal.read_entry(path)
        except (OSError, UnicodeDecodeError):
            continue
        same = (old.body, old.type, old.lab, old.task, old.tags, old.starred)
        if same == (entry.body, entry.type, entry.lab, entry.task, entry.tags,
                    entry.starred):  # fmt: skip
            return old
    return None


# --- status --------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    context: Context
    current: Task | None
    journal_entries: int
    pace: object = None  # pace.Pace: calendar week, hours against the target, streaks

    @property
    def done(self) -> int:
        return sum(
            1
            for t in self.context.curriculum.tasks
            if self.context.state(t).status == DONE
        )


def status(ctx: Context, today: dt.date | None = None) -> Status:
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
    return Status(ctx, ctx.current, journal.count(ws.journal_dir), p)


# --- hint ----------------------------------------------------------------------------

HINT_NAMES = ("nudge", "concept", "near-solution")


@dataclass(frozen=True)
class HintResult:
    lab: str
    level: int  # 1-based
    total: int
    text: str
    name: str
    repeated: bool  # every hint was already revealed


def hint(ctx: Context, lab_id: str | None) -> HintResult:
    """Reveal the next hint tier of a lab and record it with the task's attempts."""
    lab = labs.load(resolve_lab(ctx, lab_id))
    if not lab.hints:
        raise UsageError(f"lab '{lab.id}' has no hints")
    task = ctx.curriculum.task_for_lab(lab.id)
    used = ctx.state(task).hints if task else 0
    level = min(used + 1, len(lab.hints))
    if task is not None and used < len(lab.hints):
        from labpath import vcs

        ws = ctx.workspace
        with locked(ws.lock_file):
            progress.record(ws.progress_file, "hint", task.id, lab=lab.id, level=level)
            if _committable(ws):
                vcs.commit_or_warn(
                    ws.root, [ws.progress_file], f"hint: {lab.id} level {level}"
                )
    name = HINT_NAMES[level - 1] if level <= len(HINT_NAMES) else f"hint {level}"
    return HintResult(
        lab.id,
        level,
        len(lab.hints),
        lab.hints[level - 1],
        name,
        used >= len(lab.hints),
    )


# --- reset ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetResult:
    lab: str
    folder: Path
    saved: str | None  # the commit holding the learner's files before the reset
    restored: tuple[Path, ...]
    restore_command: str
    untouched: tuple[
        str, ...
    ] = ()  # the learner's other uncommitted changes, left alone


def reset(ctx: Context, lab_id: str | None) -> ResetResult:
    """Save the learner's lab files in a commit, then put the starter back."""
    from labpath import scaffold, vcs

    lab = labs.load(resolve_lab(ctx, lab_id))
    ws = ctx.workspace
    folder = ws.lab_dir(lab.id)
    if not folder.is_dir():
        raise UsageError(
            f"nothing to reset: {folder} does not exist",
            hint=f"scaffold it with `labpath start {lab.id}` (or check a folder with --path)",
        )
    # Before the save commit: a link would be saved as a link and its target overwritten.
    scaffold.refuse_links(lab, folder, ws.root)
    repo = vcs.open_repo(ws.root)  # refuse before touching anything if git is unusable
    _guard(ws)
    rel = folder.resolve().relative_to(Path(repo.working_tree_dir).resolve())
    with locked(ws.lock_file):
        result = vcs.commit_paths(
            ws.root, [folder], f"reset: save {lab.id} before restoring the starter"
        )
        saved = result.sha or vcs.head(ws.root)
        restored = scaffold.restore(lab, folder, ws.root)
        restored += scaffold.scaffold(
            lab, folder, ws.root
        )  # anything else missing, e.g. the brief
        task = ctx.curriculum.task_for_lab(lab.id)
        progress.record(
            ws.progress_file,
            "reset",
            task.id if task else lab.id,
            lab=lab.id,
            saved=saved,
        )
        vcs.commit_paths(
            ws.root, [folder, ws.progress_file], f"reset: {lab.id} back to the starter"
        )
        own = (f"{rel.as_posix()}/", f"{_rel(ws.state_dir, repo)}/")
        others = [
            line[3:]
            for line in repo.git.status("--porcelain").splitlines()
            if not (line[3:] + "/").startswith(own)
        ]
    return ResetResult(
        lab.id,
        folder,
        saved,
        tuple(restored),
        f"git -C {ws.root} checkout {saved[:12] if saved else 'HEAD~1'} -- {rel}",
        tuple(others),
    )


def _rel(path: Path, repo) -> str:
    return path.resolve().relative_to(Path(repo.working_tree_dir).resolve()).as_posix()


# --- solution ------------------------------------------------------------------------


@dataclass(frozen=True)
class SolutionResult:
    lab: str
    files: tuple[tuple[str, str], ...]  # (relative name, text)
    forced: bool
    copied_to: Path | None = None


def solution(
    ctx: Context, lab_id: str | None, force: bool, copy_to: str | None
) -> SolutionResult:
    """The reference solution, unlocked by a pass (or by --force, which is recorded)."""
    if lab_id is None:
        task = ctx.current
        if task is None or not task.lab:
            what = f"the current task '{task.id}'" if task else "no current task"
            raise UsageError(
                f"{what} has no lab, so there is no reference solution",
                hint="name a lab: labpath solution LAB",
            )
    lab = labs.load(resolve_lab(ctx, lab_id))
    task = ctx.curriculum.task_for_lab(lab.id)
    state = ctx.state(task) if task else None
    passed = bool(state and state.passed)
    if not passed and not force:
        raise UsageError(
            f"the solution to '{lab.id}' unlocks once your checks pass",
            hint=f"keep going: `labpath hint {lab.id}`; to look anyway: "
            f"`labpath solution {lab.id} --force` (recorded in your progress)",
        )
    files = tuple(
        (str(p.relative_to(lab.solution_dir)), p.read_text(encoding="utf-8"))
        for p in sorted(lab.solution_dir.rglob("*.py"))
        if "__pycache__" not in p.parts
    )
    dest = None
    if copy_to:
        dest = Path(copy_to).expanduser().resolve()
        clashes = [name for name, _ in files if (dest / name).exists()]
        if clashes:
            raise UsageError(
                f"--copy {copy_to}: {', '.join(clashes)} already exists there; nothing copied",
                hint="choose an empty folder",
            )
    ws = ctx.workspace
    with locked(ws.lock_file):
        progress.record(
            ws.progress_file,
            "solution",
            task.id if task else lab.id,
            lab=lab.id,
            forced=not passed,
        )
        if _committable(ws):
            from labpath import vcs

            vcs.commit_or_warn(
                ws.root,
                [ws.progress_file],
                f"solution: {lab.id}" + (" (before a pass)" if not passed else ""),
            )
    if dest is not None:
        for name, text in files:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_text(text, encoding="utf-8")
    return SolutionResult(lab.id, files, not passed, dest)


# --- check --all ---------------------------------------------------------------------


@dataclass(frozen=True)
class RecheckRow:
    lab: str
    before: str
    now: str
    passed: int
    total: int

    @property
    def regressed(self) -> bool:
        return self.now != "passed"


def recheck_all(
    ctx: Context, timeout: float | None = None, progress_cb=None
) -> list[RecheckRow]:
    """Re-run every lab that once passed, against the learner's current code."""
    rows = []
    for task in ctx.curriculum.tasks:
        state = ctx.state(task)
        if not task.lab or not state.passed or not labs.exists(task.lab):
            continue
        folder = ctx.workspace.lab_dir(task.lab)
        if not folder.is_dir():
            rows.append(RecheckRow(task.lab, "passed", "missing", 0, 0))
            continue
        if progress_cb:
            progress_cb(task.lab)
        outcome = check(ctx, task.lab, None, timeout=timeout)
        r = outcome.report
        rows.append(RecheckRow(task.lab, "passed", r.status, r.passed, r.total))
    return rows


# --- run -----------------------------------------------------------------------------


def run_lab(
    lab_id: str,
    path: str | None,
    device: str,
    data: str | None,
    ws_path: str | None,
    extra: list[str],
    notice,
) -> int:
    """Run a lab's training script (labs/<lab>/run.py) on the learner's code; its exit code."""
    import subprocess
    import sys

    lab = labs.load(lab_id)
    script = lab.directory / "run.py"
    if not script.is_file():
        with_runs = [
            x for x in labs.available() if (labs.load(x).directory / "run.py").is_file()
        ]
        raise UsageError(
            f"lab '{lab.id}' has no training run",
            hint=f"labs with one: {', '.join(with_runs) or 'none'}; checks: labpath check {lab.id}",
        )
    if device not in ("auto", "cpu", "cuda", "mps"):
        raise UsageError(f"--device {device}: expected auto, cpu, cuda or mps")
    if data is not None and not Path(data).expanduser().exists():
        raise UsageError(f"--data {data}: no such file or folder")
    out_dir = None
    if path:
        target = Path(path).expanduser().resolve()
    else:
        ws = workspace.open_workspace(ws_path)
        target = ws.lab_dir(lab.id)
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        out_dir = ws.state_dir / "runs" / lab.id / stamp
    if not target.is_dir():
        raise UsageError(
            f"no folder {target}",
            hint=f"scaffold it with `labpath start {lab.id}` or pass --path DIR",
        )
    from labpath.checks import protocol
    from labpath.checks.runner import child_env

    env = child_env(**{protocol.TARGET: str(target), protocol.DEVICE: device})
    cmd = [sys.executable, str(script), "--device", device]
    if data:
        cmd += ["--data", str(Path(data).expanduser().resolve())]
    if out_dir is not None and "--out" not in extra:
        cmd += ["--out", str(out_dir)]
        notice(f"figures and plots go to {out_dir}")
    return subprocess.run([*cmd, *extra], env=env).returncode
