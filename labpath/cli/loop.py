"""The weekly loop's commands: init, next, start, check, done, status, watch, run, hint,
reset, solution."""

import os
import sys
from typing import Annotated

import typer

from labpath.cli.options import (
    CurriculumOpt,
    FaultsOpt,
    JsonOpt,
    LabArg,
    WorkspaceOpt,
    context,
    given,
    run_options,
)
from labpath.errors import OK, UsageError


def init(
    directory: Annotated[
        str | None, typer.Argument(help="Folder (default: resolved workspace).")
    ] = None,
    curriculum: CurriculumOpt = None,
):
    """Create a workspace: labpath.yaml, labs/, journal/ and a git repository."""
    from labpath import ui
    from labpath.app import tasks

    ui.show(tasks.init(directory, curriculum))


def next_(
    faults: FaultsOpt = None,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Show the current task and scaffold its lab (never overwrites your files).

    To work on another lab first: labpath start LAB."""
    from labpath import ui
    from labpath.app import tasks

    result = tasks.next_task(context(workspace, curriculum, create=True), faults)
    ui.show(result, json)
    _warm_up(result.card)


def start(
    lab: Annotated[str, typer.Argument(help="Lab id, e.g. gpt2.")],
    faults: FaultsOpt = None,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Scaffold any lab and make its task current until it is done (next, check, status)."""
    given(lab=lab)
    from labpath import ui
    from labpath.app import tasks

    result = tasks.start(context(workspace, curriculum, create=True), lab, faults)
    ui.show(result, json)
    _warm_up(result.card)


def _warm_up(card) -> None:
    """The learner is about to work on this lab: have a check server ready for its
    first check (labpath.checks.warm; LABPATH_CHECK_SERVER=0 turns it off)."""
    if card is not None and card.lab_ready:
        from labpath.checks import prestart

        prestart.start_soon()


def check(
    lab: LabArg = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            help="Check this folder (or a .ipynb notebook) instead of labs/LAB.",
        ),
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
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
    no_prompt: Annotated[
        bool,
        typer.Option("--no-prompt", help="Do not ask what clicked after a first pass."),
    ] = False,
):
    """Run a lab's checks against your code. Exit 0 pass, 1 fail, 3 crash or timeout."""
    given(lab=lab, path=path)
    run_options(timeout, seed)
    from labpath import ui
    from labpath.app import check as checking

    if all_labs:
        _recheck_all(workspace, curriculum, lab, path, timeout, json)
    from labpath.checks import warm

    options = dict(timeout=timeout, seed=seed, data=data, device=device)
    options["worker"] = (
        warm.client()
    )  # None: a cold run, as with LABPATH_CHECK_SERVER=0
    ctx = _context_or_none(workspace, curriculum, lab, path)
    screen = None if json else ui.CheckScreen(verbose)
    if ctx is None:
        outcome = checking.check_folder(lab, path, **options)
    else:
        outcome = checking.check(ctx, lab, path, on_report=screen, **options)
    if open_plots:
        outcome = checking.open_plots(outcome)
    if screen is None:
        ui.show(outcome, as_json=True)
    else:
        screen.finish(outcome)
    if outcome.newly_done and not (json or no_prompt):
        _what_clicked(ctx, outcome)
    raise typer.Exit(outcome.exit_code)


def _recheck_all(workspace, curriculum, lab, path, timeout, json):
    """`check --all`: every lab that once passed, run again; exits with the verdict."""
    from labpath import ui
    from labpath.app import check as checking

    if lab or path:
        raise UsageError(
            "--all re-checks every passed lab; give no LAB or --path with it"
        )
    ctx = context(workspace, curriculum)
    progress = None if json else ui.rechecking
    result = checking.recheck_all(ctx, timeout, progress_cb=progress)
    ui.show(result, json)
    raise typer.Exit(result.exit_code)


def _what_clicked(ctx, outcome) -> None:
    """After a first pass at a terminal, ask what clicked and keep it as an aha entry."""
    from labpath import ui
    from labpath.app import journal

    if not ui.interactive():
        return
    answer = ui.ask_what_clicked()
    if answer:
        ui.show(journal.what_clicked(ctx, outcome.report.lab, answer))


def _context_or_none(workspace, curriculum, lab, path):
    """The workspace, or None to check a folder outside any (lab and --path given)."""
    try:
        return context(workspace, curriculum)
    except UsageError:
        if not (lab and path):
            raise
        return None


def done(
    task: Annotated[str, typer.Argument(help="Task id, e.g. domain-predictor.")],
    evidence: Annotated[
        str | None,
        typer.Option("--evidence", help="A URL or a file that shows the work."),
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A short note kept with the record.")
    ] = None,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Complete a task that has no automated checks (project, practice, milestone)."""
    given(task=task)
    from labpath import ui
    from labpath.app import tasks

    ui.show(tasks.done(context(workspace, curriculum), task, evidence, note), json)


def status(
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Phases, weeks and tasks with their status, the current task, the journal size."""
    from labpath import ui
    from labpath.app import tasks

    ui.show(tasks.status(context(workspace, curriculum)), json)


def watch(
    lab: LabArg = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            help="Watch this folder (or a .ipynb notebook) instead of labs/LAB.",
        ),
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
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
):
    """Re-run the checks every time you save a file of the lab. Ctrl-C to stop."""
    given(lab=lab, path=path)
    run_options(timeout, seed)
    from labpath import ui
    from labpath.app import check as checking

    ctx = context(workspace, curriculum)
    views = (ui.check_progress, ui.watch_started, ui.watch_outcome)
    ui.show(checking.watch(ctx, lab, path, timeout, seed, *views, poll=poll))


def run_(
    ctx_: typer.Context,
    lab: Annotated[
        str | None,
        typer.Argument(help="Lab with a training run, e.g. gpt2.", show_default=False),
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Your code (default: labs/LAB).")
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="auto, cpu, cuda or mps.")
    ] = "auto",
    data: Annotated[
        str | None, typer.Option("--data", help="Your own text to train on.")
    ] = None,
    list_: Annotated[
        bool,
        typer.Option(
            "--list", help="List the runs (of LAB) with their ids, times and plots."
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Run a lab's full training run on your code; other options go to the run."""
    given(lab=lab, path=path)
    from labpath import ui

    if list_:
        from labpath.app import runs

        ui.show(runs.list_runs(workspace, lab), json)
        return
    if lab is None:
        raise UsageError(
            "name the lab to run", hint="labpath run LAB (e.g. labpath run fixit)"
        )
    from labpath.app import lab as lab_app

    extra = list(ctx_.args)
    result = lab_app.run_lab(workspace, lab, path, device, data, extra, ui.notices)
    ui.show(result)
    raise typer.Exit(result.exit_code)


def hint(
    lab: LabArg = None,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Reveal the next hint: nudge, then concept, then near-solution."""
    given(lab=lab)
    from labpath import ui
    from labpath.app import lab as lab_app

    ui.show(lab_app.hint(context(workspace, curriculum), lab), json)


def reset(
    lab: LabArg = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
    ] = False,
    faults: Annotated[
        int | None,
        typer.Option(
            "--faults",
            help="For a lab that hides faults (fixit): draw a new set of this many.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Put the lab's starter back; your files are committed first, so nothing is lost."""
    given(lab=lab)
    from labpath import ui
    from labpath.app import lab as lab_app

    ctx = context(workspace, curriculum)
    lab_id = lab_app.reset_target(ctx, lab)
    if not yes and not _confirmed(lab_id):
        ui.notice("Nothing changed.")
        raise typer.Exit(OK)
    ui.show(lab_app.reset(ctx, lab_id, faults), json)


def _confirmed(lab_id: str) -> bool:
    """Ask before a reset; without a terminal, refuse and name --yes."""
    if not sys.stdin.isatty() and os.environ.get("LABPATH_ASSUME_TTY") != "1":
        raise UsageError(
            "reset asks for confirmation, but no terminal is attached",
            hint=f"labpath reset {lab_id} --yes",
        )
    return typer.confirm(
        f"Restore the starter of '{lab_id}'? Your current files are committed first",
        default=False,
    )


def solution(
    lab: LabArg = None,
    copy: Annotated[
        str | None, typer.Option("--copy", help="Copy the solution files into DIR.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Show it before a pass (recorded).")
    ] = False,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Show the reference solution, once the lab's checks have passed."""
    given(lab=lab, copy=copy)
    from labpath import ui
    from labpath.app import lab as lab_app

    ui.show(lab_app.solution(context(workspace, curriculum), lab, force, copy), json)
