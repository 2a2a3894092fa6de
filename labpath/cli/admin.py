"""Looking after the workspace: doctor, repair, sync, report, review, record, verify."""

from typing import Annotated

import typer

from labpath.cli.options import (
    CurriculumOpt,
    JsonOpt,
    SinceOpt,
    UntilOpt,
    WorkspaceOpt,
    context,
    given,
)


def doctor(workspace: WorkspaceOpt = None, json: JsonOpt = False):
    """Python, torch and its devices, git, and the workspace's health, with fixes."""
    from labpath import ui
    from labpath.app import admin

    result = admin.doctor(workspace)
    ui.show(result, json)
    raise typer.Exit(result.exit_code)


def repair(workspace: WorkspaceOpt = None, json: JsonOpt = False):
    """Recover corrupt progress, time or review logs from git history (keeps a copy)."""
    from labpath import ui
    from labpath.app import admin

    ui.show(admin.repair(workspace), json)


def sync_(
    remote: Annotated[
        str | None,
        typer.Argument(help="Git remote (default: origin).", show_default=False),
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Pull (fast-forward only) and push the workspace; labpath never pushes otherwise."""
    from labpath import ui
    from labpath.app import admin

    ui.show(admin.sync(workspace, remote), json)


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
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Write a Markdown report with plots (default: the last 30 days), or --lab: a post draft."""
    given(lab=lab)
    from labpath import ui
    from labpath.app import admin

    ui.show(admin.report(context(workspace, curriculum), since, until, lab, out), json)


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
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Only cards from: mistakes (diagnosed checks, failure entries), "
            "questions (the plan's) or journal (aha entries). Default: all.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Review your aha entries, the plan's questions and your own mistakes when due (FSRS)."""
    from labpath import ui
    from labpath.app import admin

    admin.review_limits(limit, new, source)
    ctx = context(workspace, curriculum)
    cards = admin.due(ctx, limit, new, source)
    if json or list_ or not cards.due:
        ui.show(cards, json)
    else:
        ui.show(admin.review(ctx, cards, ui.review_ask, ui.review_show))


def record(workspace: WorkspaceOpt = None, json: JsonOpt = False):
    """Write record/RECORD.md and record.json (labs passed, commits, time) and commit them."""
    from labpath import ui
    from labpath.app import record as recording
    from labpath.app.context import load

    ui.show(recording.record(load(workspace)), json)


def verify(
    source: Annotated[
        str | None,
        typer.Argument(
            help="A workspace folder, a git URL or a git bundle (default: this workspace).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Clone a record's workspace and re-run each claimed lab: exit 0 holds, 1 not, 2 input."""
    from labpath import ui
    from labpath.app import record as recording

    on_lab = None if json else ui.verifying
    result = recording.verify(source, workspace, on_lab)
    ui.show(result, json)
    raise typer.Exit(result.exit_code)


def quiz(
    task: Annotated[
        str | None,
        typer.Argument(help="Task id (default: the current task).", show_default=False),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every task you have reached.")
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="Only list the questions and answers.")
    ] = False,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Answer the plan's questions: choices graded, recall rated; feeds `labpath review`."""
    from labpath import quiz as quiz_mod
    from labpath import ui

    ctx = context(workspace, curriculum)
    items = quiz_mod.select(ctx, task, all_)
    if list_:
        ui.show(quiz_mod.QuizList(tuple(items)), json)
        return
    if ui.interactive():
        ask, show = ui.quiz_ask, ui.quiz_show
    else:  # answers piped in, one a line; no prompts
        lines = ui.piped_lines()
        if not lines:
            raise quiz_mod.no_answers()
        ask, show = quiz_mod.scripted(lines), ui.quiz_show
    if json:  # stdout holds only the JSON: a person at the terminal reads stderr
        show = ui.quiz_show_err if ui.interactive() else _quiet
    ui.show(quiz_mod.session(ctx.workspace, items, ask, show), json)


def _quiet(event) -> None:
    """Piped answers with --json: only the result is printed."""
