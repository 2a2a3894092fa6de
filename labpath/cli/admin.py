"""Looking after the workspace: doctor, repair, sync, report, review."""

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
