"""The command line: Typer commands that resolve the workspace, call the core, render."""

from __future__ import annotations

import errno
import functools
import os
import sys
from typing import Annotated

import typer

from labpath import __version__, dates
from labpath.dates import WEEKDAY_RULE
from labpath.errors import (
    CHECKS_FAILED,
    ENV_ERROR,
    OK,
    USER_ERROR,
    LabpathError,
    UsageError,
)

app = typer.Typer(
    help="Rebuild deep learning from scratch: a plan, labs with checks, and a journal.\n\n"
    "The weekly loop: labpath next → edit → labpath check → labpath log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Workspace = Annotated[
    str | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default: $LABPATH_HOME, "
                 "the nearest folder with labpath.yaml, then ~/labpath).",
                 show_default=False),
]  # fmt: skip
CurriculumDir = Annotated[
    str | None,
    typer.Option("--curriculum", help="Use this curriculum folder instead of the "
                 "workspace's.", show_default=False),
]  # fmt: skip
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def handled(fn):
    """Turn labpath errors into one clear line and an exit code; no tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from labpath import ui

        try:
            return fn(*args, **kwargs)
        except LabpathError as exc:
            if os.environ.get("LABPATH_DEBUG"):
                raise
            ui.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            ui.error("interrupted")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except OSError as exc:
            if os.environ.get("LABPATH_DEBUG") or exc.errno not in _FIXABLE_OS:
                raise _internal(exc) from None
            message, hint = _os_problem(exc)
            ui.error(message, hint)
            raise typer.Exit(USER_ERROR) from None
        except Exception as exc:
            if os.environ.get("LABPATH_DEBUG"):
                raise
            disk = _git_disk_problem(exc)
            if disk is not None:  # git met the same full or read-only disk
                ui.error(*_os_problem(OSError(disk, os.strerror(disk), "the git repository")))
                raise typer.Exit(USER_ERROR) from None
            ui.error(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in labpath; rerun with LABPATH_DEBUG=1 for the traceback",
            )
            raise typer.Exit(ENV_ERROR) from None

    return wrapper


_FIXABLE_OS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _git_disk_problem(exc: Exception) -> int | None:
    """The errno of a full or read-only disk that a failing git command reports."""
    if type(exc).__name__ != "GitCommandError":
        return None
    text = str(exc).lower()
    if "out of diskspace" in text or "no space left" in text:
        return errno.ENOSPC
    if "read-only file system" in text:
        return errno.EROFS
    return None


def _internal(exc: Exception):
    """An unexpected OSError goes on to the internal-error report."""
    if os.environ.get("LABPATH_DEBUG"):
        return exc
    from labpath import ui

    ui.error(
        f"internal error: {type(exc).__name__}: {exc}",
        "this is a bug in labpath; rerun with LABPATH_DEBUG=1 for the traceback",
    )
    return typer.Exit(ENV_ERROR)


def _os_problem(exc: OSError) -> tuple[str, str]:
    """What a full disk, a read-only folder or a denied permission means, and the fix."""
    where = exc.filename or "a file"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"no space left on the disk while writing {where}",
                "free some space (df -h shows where), then run the command again")  # fmt: skip
    if exc.errno == errno.EROFS:
        return (f"{where} is on a read-only file system",
                "remount it writable, or use a workspace elsewhere: --workspace DIR")  # fmt: skip
    return (f"permission denied: {where}",
            f"make it writable (chmod -R u+w {where}) or use --workspace DIR")  # fmt: skip


def _entry_text(data: bytes | str, where: str) -> str:
    """Journal text as typed or piped: UTF-8, no NUL or terminal control bytes."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"the entry from {where} is not UTF-8 text (binary data?)",
                             hint='pipe text: echo "what clicked" | labpath log -') from None  # fmt: skip
    bad = sorted({c for c in data if ord(c) < 32 and c not in "\t\n\r" or c == "\x7f"})
    if bad:
        raise UsageError(
            f"the entry from {where} holds control characters "
            f"({', '.join(f'0x{ord(c):02x}' for c in bad[:5])}); nothing saved",
            hint="remove them (binary data is not journal text) and log it again",
        )
    return data


def _run_options(timeout: float | None = None, seed: int | None = None) -> None:
    """--timeout a finite positive number of seconds, --seed one torch can use."""
    import math

    if timeout is not None and not (math.isfinite(timeout) and 0 < timeout <= 86400):
        raise UsageError(f"--timeout must be a positive number of seconds (at most "
                         f"86400), not {timeout}", hint="e.g. --timeout 120")  # fmt: skip
    if seed is not None and not 0 <= seed < 2**32:
        raise UsageError(f"--seed {seed}: give a whole number from 0 to 4294967295",
                         hint="e.g. --seed 1337")  # fmt: skip


def _given(**ids: str | None) -> None:
    """Refuse an id given as an empty string: `reset ""` must not mean the current lab."""
    for name, value in ids.items():
        if value is not None and not value.strip():
            raise UsageError(
                f"the {name} given is empty",
                hint=f"name the {name}, or leave it out to use the current task's",
            )


def _version(value: bool):
    if value:
        print(f"labpath {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
):
    """Rebuild deep learning from scratch: a plan, labs with checks, and a journal."""


@app.command()
@handled
def init(
    directory: Annotated[
        str | None, typer.Argument(help="Folder (default: resolved workspace).")
    ] = None,
    curriculum: CurriculumDir = None,
):
    """Create a workspace: labpath.yaml, labs/, journal/ and a git repository."""
    from labpath import actions, ui

    result = actions.init(directory, curriculum)
    if result.warning:
        ui.warning(result.warning)
    ui.init_done(result)


@app.command("next")
@handled
def next_(
    workspace: Workspace = None, curriculum: CurriculumDir = None, json: Json = False
):
    """Show the current task and scaffold its lab (never overwrites your files).

    To work on another lab first: labpath start LAB."""
    from labpath import actions, ui

    ctx, notices = actions.load_context(workspace, curriculum, create=True)
    for n in notices:
        ui.notice(n)
    card, warnings = actions.next_task(ctx)
    for w in warnings:
        ui.warning(w)
    if card is None:
        if json:
            ui.print_json({"task": None, "done": True})
        else:
            ui.all_done(len(ctx.curriculum.tasks))
        return
    if json:
        ui.print_json(ui.card_json(card))
    else:
        ui.task_card(card)


@app.command()
@handled
def start(
    lab: Annotated[str, typer.Argument(help="Lab id, e.g. gpt2.")],
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Scaffold any lab and make its task current until it is done (next, check, status)."""
    _given(lab=lab)
    from labpath import actions, ui

    ctx, notices = actions.load_context(workspace, curriculum, create=True)
    for n in notices:
        ui.notice(n)
    card, warnings = actions.start(ctx, lab)
    for w in warnings:
        ui.warning(w)
    if json:
        ui.print_json(ui.card_json(card))
    else:
        ui.task_card(card)


@app.command()
@handled
def check(
    lab: Annotated[
        str | None,
        typer.Argument(
            help="Lab id (default: the lab folder you are in, else the current task's)."
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", help="Check this folder instead of labs/LAB."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds before the run is stopped."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the random inputs.")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Your own data file for labs that train."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="auto, cpu, cuda or mps for checks that train."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show skips and raw output.")
    ] = False,
    all_labs: Annotated[
        bool, typer.Option("--all", help="Re-check every lab that once passed.")
    ] = False,
    open_plots: Annotated[
        bool, typer.Option("--open", help="Open the plots the checks saved.")
    ] = False,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
    no_prompt: Annotated[
        bool,
        typer.Option("--no-prompt", help="Do not ask what clicked after a first pass."),
    ] = False,
):
    """Run a lab's checks against your code. Exit 0 pass, 1 fail, 3 crash or timeout."""
    _given(lab=lab, path=path)
    _run_options(timeout, seed)
    from labpath import actions, ui

    if all_labs:
        if lab or path:
            raise UsageError(
                "--all re-checks every passed lab; give no LAB or --path with it"
            )
        ctx, _ = actions.load_context(workspace, curriculum)
        rows = actions.recheck_all(
            ctx, timeout=timeout, progress_cb=None if json else ui.rechecking
        )
        code = CHECKS_FAILED if any(r.regressed for r in rows) else OK
        if json:
            ui.print_json(
                {
                    "labs": [{**ui._plain(r), "regressed": r.regressed} for r in rows],
                    "exit_code": code,
                }
            )
        else:
            ui.recheck_table(rows)
        raise typer.Exit(code)
    try:
        ctx, _ = actions.load_context(workspace, curriculum)
    except UsageError:
        if not (lab and path):
            raise
        ctx = None  # checking a folder outside any workspace: run, record nothing
    early: list[int] = []  # notices already shown with the report

    def show(first):  # the report, printed before labpath commits
        early.append(len(first.notices))
        for n in first.notices:
            ui.notice(n)
        ui.check_report(first, verbose)

    outcome = actions.check(
        ctx, lab, path, timeout=timeout, seed=seed, data=data, device=device,
        on_report=None if json else show,
    )  # fmt: skip
    code = _check_exit(outcome.report.status)
    for n in outcome.notices[sum(early) :]:
        ui.notice(n)
    if json:
        ui.print_json(ui.check_json(outcome, code))
    elif not early:
        ui.check_report(outcome, verbose)
    else:
        ui.check_committed(outcome)
    if open_plots:
        from labpath import opener

        plots = [a for r in outcome.report.results for a in r.artifacts]
        if not plots:
            ui.notice("this run saved no plots")
        for problem in opener.open_files(plots):
            ui.warning(problem)
    if outcome.newly_done and not (json or no_prompt) and ui.interactive():
        _what_clicked(ctx, outcome)
    raise typer.Exit(code)


def _check_exit(status: str) -> int:
    if status == "passed":
        return OK
    if status in ("failed", "not_started"):
        return CHECKS_FAILED
    return ENV_ERROR


@app.command()
@handled
def done(
    task: Annotated[str, typer.Argument(help="Task id, e.g. domain-predictor.")],
    evidence: Annotated[
        str | None,
        typer.Option("--evidence", help="A URL or a file that shows the work."),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A short note kept with the record.")
    ] = None,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Complete a task that has no automated checks (project, practice, milestone)."""
    _given(task=task)
    from labpath import actions, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    result = actions.done(ctx, task, evidence, note)
    for n in result.notices:
        ui.notice(n)
    if json:
        ui.print_json({"task": result.task.id, "already_done": result.already,
                       "evidence": result.evidence, "commit": result.commit,
                       "next": result.next.id if result.next else None})  # fmt: skip
    else:
        ui.done_result(result)


@app.command()
@handled
def log(
    text: Annotated[
        str | None,
        typer.Argument(help="The entry; '-' reads stdin; omit to use $EDITOR."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A tag (repeatable).")
    ] = None,
    lab: Annotated[
        str | None, typer.Option("--lab", help="Tie the entry to this lab's task.")
    ] = None,
    entry_type: Annotated[
        str, typer.Option("--type", help="aha, note, failure or review.")
    ] = "aha",
    star: Annotated[
        bool, typer.Option("--star", help="Mark the entry as a favourite.")
    ] = False,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Record an "aha" in the journal and commit that entry alone."""
    _given(lab=lab)
    from labpath import actions, journal, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    if text == "-":
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        text = _entry_text(stream.read(), "stdin")
    elif text is not None:
        text = _entry_text(text, "the command line")
    else:
        from labpath import editor as editors

        editor = editors.resolve(ctx.workspace.settings.editor)
        if not editor:
            raise UsageError(
                "no entry text given and no editor set",
                hint='pass it: labpath log "what clicked", pipe it: ... | labpath log -, '
                "or set $EDITOR",
            )
        current = actions.last_worked(ctx) or ctx.current
        about = f"task: {current.id}" if current else "all tasks done"
        text = journal.compose_in_editor(
            editor, journal.editor_template(about), ctx.workspace.state_dir / "tmp"
        )
    result = actions.log(
        ctx, text, tag or [], lab_id=lab, entry_type=entry_type, starred=star
    )
    for n in result.notices:
        ui.warning(n)
    if json:
        ui.print_json({**ui._plain(result.entry), "commit_saved": result.commit})
    else:
        ui.log_saved(result)


@app.command()
@handled
def status(
    workspace: Workspace = None, curriculum: CurriculumDir = None, json: Json = False
):
    """Phases, weeks and tasks with their status, the current task, the journal size."""
    from labpath import actions, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    st = actions.status(ctx)
    if json:
        ui.print_json(ui.status_json(st))
    else:
        ui.status_view(st)


@app.command()
@handled
def watch(
    lab: Annotated[
        str | None,
        typer.Argument(
            help="Lab id (default: the lab folder you are in, else the current task's)."
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", help="Watch this folder instead of labs/LAB."),
    ] = None,
    poll: Annotated[
        bool,
        typer.Option(
            "--poll", help="Poll for changes (network or virtual file systems)."
        ),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds before a run is stopped.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the random inputs.")
    ] = None,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
):
    """Re-run the checks every time you save a file of the lab. Ctrl-C to stop."""
    _given(lab=lab, path=path)
    _run_options(timeout, seed)
    from pathlib import Path

    from labpath import actions, ui
    from labpath import watch as watcher

    ctx, _ = actions.load_context(workspace, curriculum)
    lab_id = actions.resolve_lab(ctx, lab)
    target = (
        Path(path).expanduser().resolve() if path else ctx.workspace.lab_dir(lab_id)
    )

    def run_check(worker):
        with ui.check_progress(lab_id) as update:
            return actions.check(
                ctx,
                lab_id,
                str(target),
                timeout=timeout,
                seed=seed,
                worker=worker,
                on_progress=update,
            )

    runs = watcher.watch(
        run_check,
        target,
        on_start=lambda changed: ui.watch_started(target, changed),
        on_outcome=lambda outcome: ui.watch_outcome(outcome, target),
        poll=poll,
    )
    ui.notice(f"Stopped watching after {runs} run(s).")


@app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@handled
def run_(
    ctx_: typer.Context,
    lab: Annotated[str, typer.Argument(help="Lab with a training run, e.g. gpt2.")],
    path: Annotated[
        str | None, typer.Option("--path", help="Your code (default: labs/LAB).")
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="auto, cpu, cuda or mps.")
    ] = "auto",
    data: Annotated[
        str | None, typer.Option("--data", help="Your own text to train on.")
    ] = None,
    workspace: Workspace = None,
):
    """Run a lab's full training run on your code; other options go to the run."""
    _given(lab=lab, path=path)
    from labpath import actions, ui

    code = actions.run_lab(
        lab, path, device, data, workspace, list(ctx_.args), ui.notice
    )
    raise typer.Exit(code)


@app.command()
@handled
def hint(
    lab: Annotated[
        str | None,
        typer.Argument(
            help="Lab id (default: the lab folder you are in, else the current task's)."
        ),
    ] = None,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Reveal the next hint: nudge, then concept, then near-solution."""
    _given(lab=lab)
    from labpath import actions, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    result = actions.hint(ctx, lab)
    if json:
        ui.print_json(result)
    else:
        ui.hint_view(result)


@app.command()
@handled
def reset(
    lab: Annotated[
        str | None,
        typer.Argument(
            help="Lab id (default: the lab folder you are in, else the current task's)."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
    ] = False,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Put the lab's starter back; your files are committed first, so nothing is lost."""
    _given(lab=lab)
    from labpath import actions, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    lab_id = actions.resolve_lab(ctx, lab)
    if not yes:
        if not sys.stdin.isatty() and os.environ.get("LABPATH_ASSUME_TTY") != "1":
            raise UsageError(
                "reset asks for confirmation, but no terminal is attached",
                hint=f"labpath reset {lab_id} --yes",
            )
        if not typer.confirm(
            f"Restore the starter of '{lab_id}'? Your current files are committed first",
            default=False,
        ):
            ui.notice("Nothing changed.")
            raise typer.Exit(OK)
    result = actions.reset(ctx, lab_id)
    if json:
        ui.print_json(result)
    else:
        ui.reset_done(result)


@app.command()
@handled
def solution(
    lab: Annotated[
        str | None,
        typer.Argument(
            help="Lab id (default: the lab folder you are in, else the current task's)."
        ),
    ] = None,
    copy: Annotated[
        str | None, typer.Option("--copy", help="Copy the solution files into DIR.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Show it before a pass (recorded).")
    ] = False,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Show the reference solution, once the lab's checks have passed."""
    _given(lab=lab, copy=copy)
    from labpath import actions, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    result = actions.solution(ctx, lab, force, copy)
    if json:
        ui.print_json(result)
    else:
        ui.solution_view(result)


@app.command()
@handled
def doctor(workspace: Workspace = None, json: Json = False):
    """Python, torch and its devices, git, and the workspace's health, with fixes."""
    from labpath import doctor as doc
    from labpath import ui

    findings = doc.diagnose(workspace)
    ok = all(f.ok for f in findings)
    if json:
        ui.print_json({"ok": ok, "findings": findings})
    else:
        ui.doctor_view(findings)
    raise typer.Exit(OK if ok else CHECKS_FAILED)


dev_app = typer.Typer(help="Tools for lab authors.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")


@dev_app.command("check")
@handled
def dev_check(
    lab: Annotated[
        list[str] | None, typer.Argument(help="Labs to verify (default: all).")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Check runs in parallel.")
    ] = 2,
    static: Annotated[
        bool,
        typer.Option("--static", help="Only what needs no torch: seconds, not minutes."),
    ] = False,
    json: Json = False,
):
    """Prove every lab sound: starter fails, solution passes, each catalogued bug is caught."""
    from labpath import curriculum as curriculum_mod
    from labpath import devcheck, labs, ui

    if static:
        from labpath import authoring

        verdicts, extra = authoring.check_static(lab)
    else:
        cur = curriculum_mod.load()
        ids = lab or labs.available()
        for lab_id in ids:
            labs.load(lab_id)
        verdicts = [devcheck.check_lab(lab_id, cur, jobs=jobs) for lab_id in ids]
        extra = devcheck.check_curriculum(cur) if not lab else []
    ok = all(v.ok for v in verdicts) and all(f.ok for f in extra)
    if json:
        ui.print_json({"ok": ok, "labs": verdicts, "curriculum": extra})
    else:
        ui.dev_check(verdicts, extra)
    raise typer.Exit(OK if ok else CHECKS_FAILED)


@dev_app.command("new")
@handled
def dev_new(
    lab: Annotated[str, typer.Argument(help="The new lab's id, e.g. layernorm.")],
    folder: Annotated[
        str | None,
        typer.Option("--dir", help="Write LAB/ in this folder (default: labpath's labs)."),
    ] = None,
):
    """Write a skeleton lab: brief, lab.yaml, starter, solution, checks and bugs.yaml."""
    from labpath import authoring, ui

    path = authoring.new_lab(lab, folder)
    ui.raw(f"Wrote the lab skeleton {path}\nNext: labpath dev check --static {path}\n")


@dev_app.command("mutate")
@handled
def dev_mutate(
    lab: Annotated[str, typer.Argument(help="The lab whose solution to mutate.")],
    sample: Annotated[
        int, typer.Option("--sample", "-n", help="Mutants to draw (0: all).")
    ] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw.")] = 0,
    budget: Annotated[
        float, typer.Option("--budget", help="Seconds for the whole run.")
    ] = 600.0,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Mutants run in parallel.")
    ] = 2,
    match: Annotated[
        str | None,
        typer.Option("--match", help="Only mutants whose key contains this."),
    ] = None,
    json: Json = False,
):
    """Run seeded mutants of a lab's solution through its checks; list every survivor."""
    from labpath import mutate, ui

    report = mutate.mutate_lab(lab, sample or None, seed, budget, jobs, match=match)
    if json:
        ui.print_json(mutate.as_data(report))
    else:
        ui.mutation_report(report)
    raise typer.Exit(OK if not report.survivors else CHECKS_FAILED)


# --- journal, sprints and time, pace, sync, reports, review ----------------------------

journal_app = typer.Typer(
    help="Read, search, edit and export your journal.", no_args_is_help=True
)
app.add_typer(journal_app, name="journal")

Text = Annotated[
    list[str] | None,
    typer.Argument(help="Words that must all appear.", show_default=False),
]
TagOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        "-t",
        help="Only entries with this tag (repeatable).",
        show_default=False,
    ),
]
LabOpt = Annotated[
    str | None,
    typer.Option("--lab", help="Only entries about this lab.", show_default=False),
]
TaskOpt = Annotated[
    str | None,
    typer.Option("--task", help="Only entries about this task.", show_default=False),
]
PhaseOpt = Annotated[
    int | None,
    typer.Option("--phase", help="Only entries of this phase.", show_default=False),
]
WeekOpt = Annotated[
    int | None,
    typer.Option(
        "--week", help="Only entries of this curriculum week.", show_default=False
    ),
]
TypeOpt = Annotated[
    str | None,
    typer.Option("--type", help="aha, note, failure or review.", show_default=False),
]
StarredOpt = Annotated[bool, typer.Option("--starred", help="Only starred entries.")]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help='From this date: 2026-11-01, "last monday", "3 days ago". ' + WEEKDAY_RULE,
        show_default=False,
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Up to the end of this date.", show_default=False),
]
LimitOpt = Annotated[
    int | None,
    typer.Option("-n", help="At most N entries (newest first).", show_default=False),
]
NoPrompt = Annotated[bool, typer.Option("--no-prompt", help="Never ask questions.")]


def _journal_query(text, tag, lab, task, phase, week, type_, starred, since, until, n):
    from labpath import journal

    return journal.make_query(text or (), tag or (), lab, task, phase, week, type_,
                              starred, since, until, n)  # fmt: skip


@journal_app.command("list")
@handled
def journal_list(
    text: Text = None,
    tag: TagOpt = None,
    lab: LabOpt = None,
    task: TaskOpt = None,
    phase: PhaseOpt = None,
    week: WeekOpt = None,
    type_: TypeOpt = None,
    starred: StarredOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    n: LimitOpt = None,
    workspace: Workspace = None,
    json: Json = False,
):
    """List entries, newest first, filtered by text, tag, lab, week, stars and dates."""
    from labpath import journal, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    q = _journal_query(
        text, tag, lab, task, phase, week, type_, starred, since, until, n
    )
    problems: list[str] = []
    found = journal.search(ws, q, problems)
    for p in problems:
        ui.warning(p)
    if json:
        ui.print_json(journal.to_json(found, ws.root))
    else:
        ui.journal_list(found, q)


@journal_app.command("search")
@handled
def journal_search(
    text: Annotated[list[str], typer.Argument(help="Words that must all appear.")],
    tag: TagOpt = None,
    lab: LabOpt = None,
    task: TaskOpt = None,
    phase: PhaseOpt = None,
    week: WeekOpt = None,
    type_: TypeOpt = None,
    starred: StarredOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    n: LimitOpt = None,
    workspace: Workspace = None,
    json: Json = False,
):
    """Find entries containing every word (title, text and tags), newest first."""
    # `list` with the words required: one implementation for both.
    journal_list(text, tag, lab, task, phase, week, type_, starred, since, until, n,
                 workspace, json)  # fmt: skip


@journal_app.command("show")
@handled
def journal_show(
    entry: Annotated[
        str, typer.Argument(help="Entry id (a prefix is enough) or 'last'.")
    ] = "last",
    workspace: Workspace = None,
    json: Json = False,
):
    """Show one entry in full."""
    from labpath import journal, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    found = journal.find(journal.entries(ws), entry)
    if json:
        ui.print_json(journal.to_json([found], ws.root)["entries"][0])
    else:
        ui.journal_show(found, ws.root)


@journal_app.command("edit")
@handled
def journal_edit(
    entry: Annotated[
        str, typer.Argument(help="Entry id (a prefix is enough) or 'last'.")
    ] = "last",
    workspace: Workspace = None,
    json: Json = False,
):
    """Open an entry in $EDITOR; saves it with a `modified` time and commits it."""
    from labpath import editor as editors
    from labpath import journal, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    editor = editors.resolve(ws.settings.editor)
    if not editor:
        raise UsageError("no editor set", hint="set $EDITOR (e.g. export EDITOR=nano) or "
                         "`editor:` in labpath.yaml")  # fmt: skip
    result = journal.edit_entry(
        ws, entry, editors.function(editor, ws.state_dir / "tmp")
    )
    for n in result.notices:
        ui.warning(n)
    if json:
        ui.print_json({"entry": journal.to_json([result.entry], ws.root)["entries"][0],
                       "changed": result.changed, "commit": result.commit})  # fmt: skip
    else:
        ui.journal_edited(result)


@journal_app.command("star")
@handled
def journal_star(
    entry: Annotated[
        str, typer.Argument(help="Entry id (a prefix is enough) or 'last'.")
    ] = "last",
    off: Annotated[
        bool, typer.Option("--off", help="Remove the star instead.")
    ] = False,
    workspace: Workspace = None,
):
    """Star an entry (or --off to unstar it); the file keeps all its other keys."""
    from labpath import journal, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    result = journal.set_star(ws, entry, not off)
    ui.journal_edited(result)


@journal_app.command("tags")
@handled
def journal_tags(
    since: SinceOpt = None,
    until: UntilOpt = None,
    workspace: Workspace = None,
    json: Json = False,
):
    """Every tag with its number of entries, most used first."""
    from labpath import journal, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    q = journal.make_query(since=since, until=until)
    counts = journal.tag_counts(journal.search(ws, q))
    if json:
        ui.print_json(dict(counts))
    else:
        ui.journal_tags(counts)


@journal_app.command("export")
@handled
def journal_export(
    text: Text = None,
    tag: TagOpt = None,
    lab: LabOpt = None,
    task: TaskOpt = None,
    phase: PhaseOpt = None,
    week: WeekOpt = None,
    type_: TypeOpt = None,
    starred: StarredOpt = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    n: LimitOpt = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="md (one document, oldest first) or json."),
    ] = "md",
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            help="Write to this file instead of stdout.",
            show_default=False,
        ),
    ] = None,
    title: Annotated[
        str, typer.Option("--title", help="The Markdown document's title.")
    ] = "Journal",
    workspace: Workspace = None,
):
    """Export the selected entries as one Markdown document (a blog draft) or JSON."""
    from labpath import journal, ui
    from labpath import workspace as ws_mod

    if fmt not in journal.FORMATS:
        raise UsageError(
            f"--format {fmt}: expected md or json",
            hint="labpath journal export --format md",
        )
    ws = ws_mod.open_workspace(workspace)
    q = _journal_query(
        text, tag, lab, task, phase, week, type_, starred, since, until, n
    )
    text_out = journal.export(ws, q, fmt, title, out)
    if out:
        ui.exported(out, text_out)
    else:
        ui.raw(text_out)


def _what_clicked(ctx, outcome) -> None:
    """After a first pass, ask what clicked and keep the answer as an aha entry."""
    from labpath import actions, ui

    try:
        answer = ui.ask("What clicked? (Enter to skip)")
    except (KeyboardInterrupt, EOFError):
        return
    if answer:
        ctx = actions.refreshed(ctx)  # the entry records the check that just passed
        result = actions.log(
            ctx, answer, [], lab_id=outcome.report.lab, entry_type="aha"
        )
        ui.log_saved(result)


def _task_or_current(ctx, task: str | None) -> str | None:
    if task:
        return ctx.curriculum.task(task).id  # unknown ids fail with a did-you-mean
    return ctx.current.id if ctx.current else None


@app.command()
@handled
def sprint(
    minutes: Annotated[int, typer.Argument(help="Planned length in minutes.")] = 30,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="Task worked on (default: the current task).",
            show_default=False,
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            help="A note kept with the sprint (else asked at the end).",
            show_default=False,
        ),
    ] = None,
    no_prompt: NoPrompt = False,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Run a focused sprint with a timer; Ctrl-C stops early and keeps the minutes spent."""
    _given(task=task)
    from labpath import actions, timelog, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    for s in timelog.recover(ctx.workspace):
        ui.notice(f"Recorded an earlier sprint that was cut off: {s.minutes:g} min")
    task_id = _task_or_current(ctx, task)
    with ui.sprint_timer(minutes, task_id) as tick:
        run = timelog.run_sprint(ctx.workspace, minutes, task_id, tick)
    if note is None and not no_prompt and not json and ui.interactive():
        try:
            note = ui.ask("Note for this sprint (Enter to skip)")
        except (KeyboardInterrupt, EOFError):
            note = None
    session, warning = timelog.finish_sprint(ctx.workspace, run, note)
    if warning:
        ui.warning(warning)
    if json:
        ui.print_json(
            {"session": session, "minutes": run.minutes, "completed": run.completed}
        )
    else:
        ui.sprint_done(run, session)


time_app = typer.Typer(help="Time spent: add work done away from the keyboard, list it, skip days."
                       f"\n\nDays: {WEEKDAY_RULE}", no_args_is_help=True)  # fmt: skip
app.add_typer(time_app, name="time")


@time_app.command("add")
@handled
def time_add(
    duration: Annotated[
        str, typer.Argument(help="How long: 45m, 1h30m, 1.5h or 1:30.")
    ],
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="Task worked on (default: the current task).",
            show_default=False,
        ),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="What you did.", show_default=False)
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help='When it ended: "yesterday", "monday", 2026-11-20, 2026-11-20T21:00 '
            f"(default now). {WEEKDAY_RULE}",
            show_default=False,
        ),
    ] = None,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Record time spent away from the keyboard (reading, a lecture, a walk thinking)."""
    _given(task=task)
    from labpath import actions, timelog, ui

    ctx, _ = actions.load_context(workspace, curriculum)
    minutes = dates.parse_duration(duration)
    for s in timelog.recover(ctx.workspace):
        ui.notice(f"Recorded an earlier sprint that was cut off: {s.minutes:g} min")
    end = dates.parse_end(on) if on else None
    session, warning = timelog.add(
        ctx.workspace, minutes, _task_or_current(ctx, task), note, end
    )
    if warning:
        ui.warning(warning)
    if json:
        ui.print_json(session)
    else:
        ui.time_added(session)


@time_app.command("log")
@handled
def time_log(
    since: SinceOpt = None,
    until: UntilOpt = None,
    workspace: Workspace = None,
    json: Json = False,
):
    """List sprints and added time (default: this week), with the total."""
    from labpath import timelog, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    start, end = dates.period(since or "this week", until)
    for s in timelog.recover(ws):
        ui.notice(f"Recorded an earlier sprint that was cut off: {s.minutes:g} min")
    sessions = timelog.in_range(timelog.read(timelog.time_file(ws)), start, end)
    if json:
        ui.print_json({"since": start and start.isoformat(), "until": end and end.isoformat(),
                       "minutes": sum(s.minutes for s in sessions),
                       "sessions": sessions})  # fmt: skip
    else:
        ui.time_list(sessions, start, end)


@time_app.command("skip")
@handled
def time_skip(
    day: Annotated[
        str,
        typer.Argument(
            help='The rest day: today, tomorrow, "next saturday", 2026-12-24. '
            + WEEKDAY_RULE
        ),
    ] = "today",
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why (holiday, ill, ...).", show_default=False),
    ] = None,
    workspace: Workspace = None,
    json: Json = False,
):
    """Mark a rest day: it neither counts nor breaks the daily sprint streak."""
    from labpath import timelog, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    skip, warning = timelog.add_skip(ws, dates.parse_day(day), reason)
    if warning:
        ui.warning(warning)
    if json:
        ui.print_json(skip)
    else:
        ui.skip_added(skip)


@app.command()
@handled
def repair(workspace: Workspace = None, json: Json = False):
    """Recover corrupt progress, time or review logs from git history (keeps a copy)."""
    from labpath import recovery, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    done = recovery.repair(ws)
    if json:
        ui.print_json({"repaired": done})
    else:
        ui.repaired(done)


@app.command("sync")
@handled
def sync_(
    remote: Annotated[
        str | None,
        typer.Argument(help="Git remote (default: origin).", show_default=False),
    ] = None,
    workspace: Workspace = None,
    json: Json = False,
):
    """Pull (fast-forward only) and push the workspace; labpath never pushes otherwise."""
    from labpath import sync, ui
    from labpath import workspace as ws_mod

    ws = ws_mod.open_workspace(workspace)
    result = sync.sync(ws.root, remote)
    if json:
        ui.print_json(result)
    else:
        ui.synced(result)


@app.command()
@handled
def report(
    since: SinceOpt = None,
    until: UntilOpt = None,
    lab: Annotated[
        str | None,
        typer.Option(
            "--lab", help="Draft a blog post for this lab instead.", show_default=False
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Folder for the Markdown and PNGs (default: reports/...).",
            show_default=False,
        ),
    ] = None,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Write a Markdown report with plots (default: the last 30 days), or --lab: a post draft."""
    _given(lab=lab)
    from labpath import actions, ui
    from labpath import report as report_mod

    ctx, _ = actions.load_context(workspace, curriculum)
    if lab:
        if since or until:
            raise UsageError(
                "--lab drafts a post from the lab's whole history; drop --since/--until"
            )
        result = report_mod.lab_post(ctx.workspace, ctx.curriculum, lab, out)
    else:
        result = report_mod.progress_report(
            ctx.workspace, ctx.curriculum, since, until, out
        )
    if json:
        ui.print_json(result)
    else:
        ui.report_written(result)


@app.command()
@handled
def review(
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="At most this many cards.")
    ] = 10,
    new: Annotated[
        int, typer.Option("--new", help="At most this many never-seen cards.")
    ] = 5,
    list_: Annotated[
        bool, typer.Option("--list", help="Only list the due cards.")
    ] = False,
    workspace: Workspace = None,
    curriculum: CurriculumDir = None,
    json: Json = False,
):
    """Review your aha entries and the labs' questions when they are due (FSRS schedule)."""

    from labpath import actions, ui
    from labpath import review as review_mod

    if limit < 1 or new < 0:
        raise UsageError(
            "--limit must be at least 1 and --new at least 0",
            hint="labpath review -n 10",
        )
    ctx, _ = actions.load_context(workspace, curriculum)
    due, cards = review_mod.due_now(ctx, limit, new)
    if json or list_:
        if json:
            ui.print_json({"due": due, "cards": cards})
        else:
            ui.review_list(due, cards)
        return
    if not due:
        ui.review_list(due, cards)
        return
    result = review_mod.session(ctx.workspace, due, ui.ask, ui.review_card)
    ui.review_done(result)


def main() -> None:
    """Console-script entry point."""
    app()
