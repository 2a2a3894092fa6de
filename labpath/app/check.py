"""Use cases that run a lab's checks: check (in a workspace or on any folder), --all, watch."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from labpath import __version__, labs, progress
from labpath.app.context import Context, guard, inside
from labpath.app.results import Notice, info, plain
from labpath.curriculum import Task
from labpath.errors import (
    CHECKS_FAILED,
    ENV_ERROR,
    OK,
    EnvironmentFailure,
    UsageError,
)
from labpath.fsutil import locked
from labpath.progress import DONE


@dataclass(frozen=True)
class CheckOutcome:
    report: object  # checks.runner.CheckReport
    task: Task | None
    recorded: bool
    commit: str | None = None
    newly_done: bool = False
    notices: tuple[Notice, ...] = ()
    # For a lab that hides its faults: how many remain (the report says nothing else).
    planted: object = None  # planted.Count
    # False when the checked code lies outside the workspace: the commit holds the pass only.
    code_committed: bool = True
    warm: bool = False  # run by the warm check server (labpath.checks.server)

    @property
    def exit_code(self) -> int:
        status = self.report.status
        if status == "passed":
            return OK
        if status in ("failed", "not_started"):
            return CHECKS_FAILED
        return ENV_ERROR

    @property
    def start_with(self):
        """The check to work on first: the lead failure, else the first gap."""
        r = self.report
        if r.status == "failed":
            return r.lead
        if r.status == "not_started":
            return next(x for x in r.results if x.outcome == "not_started")
        return None

    @property
    def plots(self) -> list[str]:
        """Each plot once, though several checks may name the same file."""
        return list(dict.fromkeys(a for r in self.report.results for a in r.artifacts))

    def to_json(self) -> dict:
        r = self.report
        return {
            "lab": r.lab,
            "target": r.target,
            "status": r.status,
            "exit_code": self.exit_code,
            "passed": r.passed,
            "failed": r.count("failed"),
            "not_started": r.count("not_started"),
            "skipped": r.count("skipped"),
            "total": r.total,
            "duration": round(r.duration, 3),
            "seed": r.seed,
            "message": r.message,
            "task": self.task.id if self.task else None,
            "recorded": self.recorded,
            "newly_done": self.newly_done,
            "commit": self.commit,
            "code_committed": bool(self.commit) and self.code_committed,
            "warm": self.warm,
            "results": [plain(x) for x in r.results],
            **({"planted": self.planted.to_json()} if self.planted else {}),
        }


def resolve_lab(ctx: Context, lab_id: str | None) -> str:
    """The lab named, else the lab folder the learner stands in, else the current task's."""
    if lab_id is None:
        lab_id = ctx.workspace.lab_at()  # standing in labs/<lab>/ names the lab
    if lab_id:
        labs.load(lab_id)  # unknown ids fail here with a did-you-mean
        return lab_id
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


def _options(data: str | None, device: str | None, timeout: float | None) -> None:
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


def _run(
    ctx: Context | None,
    lab,
    target: Path,
    timeout=None,
    seed=None,
    data=None,
    device=None,
    worker=None,
    on_progress=None,
):
    """Build the run's spec (artifacts folder, the labs it uses) and run the checks.

    A notebook is written as the lab's files in a temporary folder first, and the
    report's locations are rewritten as its cells. Returns (report, notices).
    """
    from labpath.checks.runner import run

    if notebook_path(target):
        from labpath import notebook

        with notebook.as_folder(target, lab) as nb:
            report, _ = _run(
                ctx, lab, nb.folder, timeout, seed, data, device, worker, on_progress
            )
        report = nb.report(report, target)
        return report, info(nb.left_out(), nb.advice(report))
    if ctx is not None:
        artifacts = attempt_dir(ctx.workspace.state_dir / "artifacts" / lab.id)
    else:  # no workspace: the plots the report names still outlive the run
        from labpath.cache import cache_dir

        artifacts = attempt_dir(cache_dir() / "artifacts" / lab.id)
        keep_newest(artifacts.parent, KEPT_WITHOUT_WORKSPACE)
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
    # A lab that hides its faults shows no per-check progress (it would tell probes apart).
    shown = None if lab.planted else on_progress
    report = run(spec, worker=worker, progress=shown)
    if artifacts is not None:
        try:
            artifacts.rmdir()  # only when the attempt saved nothing
        except OSError:
            pass
    return report, ()


def notebook_path(target: Path) -> bool:
    """Whether --path names a Jupyter notebook (checked as the lab's files)."""
    return target.suffix == ".ipynb"


def _target(path: str) -> Path:
    """The folder or notebook --path names, which must exist."""
    target = Path(path).expanduser().resolve()
    if notebook_path(target):
        if not target.is_file():
            raise UsageError(f"--path {path}: no such notebook")
    elif not target.is_dir():
        raise UsageError(f"--path {path}: no such folder")
    return target


def _counted(lab, report, target: Path):
    """(report, count): for a lab that hides its faults, the report told as a count."""
    if not lab.planted:
        return report, None
    from labpath import planted

    count = planted.count(lab, report, target)
    return planted.conceal(report, count), count


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


def check_folder(
    lab_id: str | None,
    path: str,
    timeout: float | None = None,
    seed: int | None = None,
    data: str | None = None,
    device: str | None = None,
    worker=None,
) -> CheckOutcome:
    """Check a folder outside any workspace: run the checks, record nothing."""
    if not lab_id:
        raise UsageError(
            "name the lab to check, e.g. `labpath check micrograd --path DIR`"
        )
    lab = labs.load(lab_id)
    target = _target(path)
    _options(data, device, timeout)
    report, notes = _run(None, lab, target, timeout, seed, data, device, worker)
    report, count = _counted(lab, report, target)
    return CheckOutcome(
        report,
        None,
        recorded=False,
        notices=notes,
        planted=count,
        warm=_warm(worker),
    )


def _warm(worker) -> bool:
    return bool(getattr(worker, "warm", False))


def check(
    ctx: Context,
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

    lab = labs.load(resolve_lab(ctx, lab_id))
    guard(ctx.workspace)
    if path:
        target = _target(path)
    else:
        target = ctx.workspace.lab_dir(lab.id)
        if not target.is_dir():
            raise UsageError(
                f"no lab folder at {target}",
                hint=f"run `labpath start {lab.id}` to scaffold it, or pass --path DIR",
            )
    _options(data, device, timeout)
    report, notes = _run(
        ctx, lab, target, timeout, seed, data, device, worker, on_progress
    )
    report, count = _counted(lab, report, target)
    ws = ctx.workspace
    task = ctx.curriculum.task_for_lab(lab.id)
    within = inside(target, ws.root)
    notices: list[str | None] = [n.message for n in notes]
    if not within:
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
            duration=round(report.duration, 3),
            labpath=__version__,
            path=str(target),
            hints=ctx.state(task).hints if task else 0,
            **_plots_field(report, ws.root),
            **_mistakes_field(lab, report),
        )
        if report.ok:
            newly_done = task is not None and ctx.state(task).status != DONE
            if newly_done:
                progress.record(ws.progress_file, "done", task_id, via="check")
        if on_report is not None:
            on_report(
                CheckOutcome(
                    report,
                    task,
                    True,
                    None,
                    newly_done,
                    info(*notices),
                    count,
                    within,
                    _warm(worker),
                )
            )
        if report.ok and (newly_done or (within and vcs.dirty(ws.root, [target]))):
            paths = [ws.progress_file] + ([target] if within else [])
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
            notices.append(result.warning)
    return CheckOutcome(
        report,
        task,
        True,
        commit,
        newly_done,
        info(*notices),
        count,
        within,
        _warm(worker),
    )


# Attempts kept per lab in labpath's cache when a check runs outside any workspace.
KEPT_WITHOUT_WORKSPACE = 10


def keep_newest(parent: Path, n: int) -> None:
    """Remove all but the n newest attempt folders under parent (named by time)."""
    import shutil

    try:
        folders = sorted(
            p for p in parent.iterdir() if p.is_dir() and not p.is_symlink()
        )
    except OSError:
        return
    for old in folders[: max(len(folders) - n, 0)]:  # n = 0: all of them
        shutil.rmtree(old, ignore_errors=True)


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


def _mistakes_field(lab, report) -> dict:
    """The catalogued mistakes (bug ids) the run's diagnoses named, for review cards."""
    if not any(r.diagnosis for r in report.results):
        return {}
    from labpath import labspec, review

    try:
        found = review.diagnosed(labspec.read_bugs(lab), report.results)
    except UsageError:  # a damaged catalogue never stops a check from being recorded
        return {}
    return {"mistakes": found} if found else {}


def _plots_field(report, root: Path) -> dict:
    """The attempt's plots, relative to the workspace, for the progress event."""
    found = [a for r in report.results for a in r.artifacts] + list(report.artifacts)
    plots = [
        str(Path(a).resolve().relative_to(root.resolve()))
        if inside(Path(a), root)
        else a
        for a in dict.fromkeys(found)
    ]
    return {"plots": plots} if plots else {}


def open_plots(outcome: CheckOutcome) -> CheckOutcome:
    """Open the plots the run saved; what could not be opened becomes a warning."""
    from labpath import opener
    from labpath.app.results import warnings

    plots = outcome.plots
    extra = info("this run saved no plots") if not plots else ()
    extra += warnings(*opener.open_files(plots))
    return replace(outcome, notices=outcome.notices + extra)


# --- check --all -----------------------------------------------------------------------


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


@dataclass(frozen=True)
class RecheckResult:
    rows: tuple[RecheckRow, ...]
    notices: tuple[Notice, ...] = ()

    @property
    def exit_code(self) -> int:
        return CHECKS_FAILED if any(r.regressed for r in self.rows) else OK

    @property
    def regressions(self) -> list[str]:
        return [r.lab for r in self.rows if r.regressed]

    def to_json(self) -> dict:
        return {
            "labs": [{**plain(r), "regressed": r.regressed} for r in self.rows],
            "exit_code": self.exit_code,
        }


def recheck_all(
    ctx: Context, timeout: float | None = None, progress_cb=None
) -> RecheckResult:
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
        r = check(ctx, task.lab, None, timeout=timeout).report
        rows.append(RecheckRow(task.lab, "passed", r.status, r.passed, r.total))
    return RecheckResult(tuple(rows))


# --- watch -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchResult:
    runs: int
    notices: tuple[Notice, ...] = ()


def watch(
    ctx: Context,
    lab_id: str | None,
    path: str | None,
    timeout: float | None,
    seed: int | None,
    progress_bar,
    on_start,
    on_outcome,
    poll: bool = False,
) -> WatchResult:
    """Re-check the lab each time one of its files is saved, until Ctrl-C."""
    from labpath import watch as watcher

    lab = resolve_lab(ctx, lab_id)
    target = Path(path).expanduser().resolve() if path else ctx.workspace.lab_dir(lab)

    def run_check(worker):
        with progress_bar(lab) as update:
            return check(
                ctx,
                lab,
                str(target),
                timeout=timeout,
                seed=seed,
                worker=worker,
                on_progress=update,
            )

    runs = watcher.watch(
        run_check,
        target,
        on_start=lambda changed: on_start(target, changed),
        on_outcome=lambda outcome: on_outcome(outcome, target),
        poll=poll,
    )
    return WatchResult(runs, info(f"Stopped watching after {runs} run(s)."))
