"""Use cases around one lab: hint, reset, solution and its training run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from labpath import labs, progress
from labpath.app.check import resolve_lab
from labpath.app.context import Context, committable, guard
from labpath.app.results import Notice, info, own_fields
from labpath.errors import UsageError
from labpath.fsutil import locked

HINT_NAMES = ("nudge", "concept", "near-solution")


@dataclass(frozen=True)
class HintResult:
    lab: str
    level: int  # 1-based
    total: int
    text: str
    name: str
    repeated: bool  # every hint was already revealed
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return own_fields(self)


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
            if committable(ws):
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


@dataclass(frozen=True)
class ResetResult:
    lab: str
    folder: Path
    saved: str | None  # the commit holding the learner's files before the reset
    restored: tuple[Path, ...]
    restore_command: str
    # the learner's other uncommitted changes, left alone
    untouched: tuple[str, ...] = ()
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return own_fields(self)


def reset_target(ctx: Context, lab_id: str | None) -> str:
    """The lab a reset would restore, named before asking for confirmation."""
    return resolve_lab(ctx, lab_id)


def reset(ctx: Context, lab_id: str | None, faults: int | None = None) -> ResetResult:
    """Save the learner's lab files in a commit, then put the starter back.

    faults: for a lab that plants faults, draw a new set of this many.
    """
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
    scaffold.plant_for(
        lab, folder, faults, fresh=True
    )  # a bad --faults changes nothing
    repo = vcs.open_repo(ws.root)  # refuse before touching anything if git is unusable
    guard(ws)
    rel = folder.resolve().relative_to(Path(repo.working_tree_dir).resolve())
    with locked(ws.lock_file):
        result = vcs.commit_paths(
            ws.root, [folder], f"reset: save {lab.id} before restoring the starter"
        )
        saved = result.sha or vcs.head(ws.root)
        restored = scaffold.restore(lab, folder, ws.root, faults)
        # anything else missing, e.g. the brief
        restored += scaffold.scaffold(lab, folder, ws.root)
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


@dataclass(frozen=True)
class SolutionResult:
    lab: str
    files: tuple[tuple[str, str], ...]  # (relative name, text)
    forced: bool
    copied_to: Path | None = None
    notices: tuple[Notice, ...] = ()
    # A lab that hid faults: each planted fault's summary, and the learner's journal
    # entries about the lab (created, title, path).
    planted: tuple[str, ...] = ()
    journal: tuple[tuple[str, str, str], ...] = ()

    def to_json(self) -> dict:
        return own_fields(self)


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
        if committable(ws):
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
    faults, notes = _planted(ws, lab)
    return SolutionResult(lab.id, files, not passed, dest, (), faults, notes)


def _planted(ws, lab) -> tuple[tuple[str, ...], tuple]:
    """What was planted in the learner's folder of a lab that hides faults."""
    if not lab.planted:
        return (), ()
    from labpath import planted

    plant = planted.read_state(ws.lab_dir(lab.id))
    if plant is None:
        return (), tuple(planted.journal_links(ws, lab.id))
    chosen, _ = planted.draw(lab, plant)
    return (
        tuple(b.summary for b in chosen),
        tuple(planted.journal_links(ws, lab.id)),
    )


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    notices: tuple[Notice, ...] = ()


def _workspace_or_none(ws_path: str | None):
    """The workspace a run of a folder given with --path is recorded in: the one
    named with -w (which must open), else the one found, else none."""
    from labpath.app.context import open_workspace

    if ws_path:
        return open_workspace(ws_path)
    try:
        return open_workspace(None)
    except UsageError:
        return None


def _out_given(extra: list[str]) -> Path | None:
    """The folder of an `--out DIR` (or `--out=DIR`) passed on to the run, absolute."""
    for i, arg in enumerate(extra):
        if arg == "--out" and i + 1 < len(extra):
            value = extra[i + 1]
        elif arg.startswith("--out="):
            value = arg.removeprefix("--out=")
        else:
            continue
        return Path(value).expanduser().absolute() if value else None
    return None


def run_lab(
    ws_path: str | None,
    lab_id: str,
    path: str | None,
    device: str,
    data: str | None,
    extra: list[str],
    notify,
) -> RunResult:
    """Run a lab's training script (labs/<lab>/run.py) on the learner's code."""
    import subprocess
    import sys

    from labpath.app.context import open_workspace

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
    elsewhere = _out_given(extra)
    if path:
        target = Path(path).expanduser().resolve()
        ws = _workspace_or_none(ws_path)
    else:
        ws = open_workspace(ws_path)
        target = ws.lab_dir(lab.id)
    if not target.is_dir():
        raise UsageError(
            f"no folder {target}",
            hint=f"scaffold it with `labpath start {lab.id}` or pass --path DIR",
        )
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    if ws is not None:  # listed by run --list, attachable with log --attach-run
        out_dir = ws.state_dir / "runs" / lab.id / stamp
    else:  # no workspace: a stamped folder in labpath's cache, never the working one
        from labpath.app.check import KEPT_WITHOUT_WORKSPACE, keep_newest
        from labpath.cache import cache_dir

        out_dir = cache_dir() / "runs" / lab.id / stamp
        if elsewhere is None:
            keep_newest(out_dir.parent, KEPT_WITHOUT_WORKSPACE - 1)
    from labpath.checks import protocol
    from labpath.checks.runner import child_env

    env = child_env(**{protocol.TARGET: str(target), protocol.DEVICE: device})
    cmd = [sys.executable, str(script), "--device", device]
    if data:
        cmd += ["--data", str(Path(data).expanduser().resolve())]
    if elsewhere is not None:
        if ws is not None:
            # listed with the workspace's own runs (run --list, log --attach-run)
            from labpath import runs

            runs.record_elsewhere(out_dir.parent, out_dir.name, elsewhere)
        out_dir = elsewhere
    else:
        cmd += ["--out", str(out_dir)]
    # said before the run starts, so the learner knows where to look meanwhile
    notify(info(f"figures and plots go to {out_dir}"))
    return RunResult(subprocess.run([*cmd, *extra], env=env).returncode)
