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
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Review your aha entries and the labs' questions when they are due (FSRS schedule)."""
    from labpath import ui
    from labpath.app import admin

    admin.review_limits(limit, new)
    ctx = context(workspace, curriculum)
    cards = admin.due(ctx, limit, new)
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
