"""The journal's commands: log, and journal list|search|show|edit|star|tags|export."""

import sys
from typing import Annotated

import typer

from labpath.cli.options import (
    CurriculumOpt,
    JsonOpt,
    SinceOpt,
    TextArg,
    UntilOpt,
    WorkspaceOpt,
    context,
    given,
    journal_filters,
)

journal_app = typer.Typer(
    help="Read, search, edit and export your journal.", no_args_is_help=True
)
EntryArg = Annotated[
    str, typer.Argument(help="Entry id (a prefix is enough) or 'last'.")
]


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
    attach_run: Annotated[
        str | None,
        typer.Option(
            "--attach-run",
            metavar="RUN",
            help="Attach a training run's plots: its id (labpath run --list), a lab "
            "(its newest run) or last.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Record an "aha" in the journal and commit that entry alone."""
    given(lab=lab)
    from labpath import ui
    from labpath.app import journal

    ctx = context(workspace, curriculum)
    where = "the command line"
    if text == "-":
        text, where = getattr(sys.stdin, "buffer", sys.stdin).read(), "stdin"
    result = journal.log_entry(
        ctx, text, where, tag or [], lab, entry_type, star, attach_run
    )
    ui.show(result, json)


@journal_app.command("list")
@journal_filters
def journal_list(
    text: TextArg = None,
    filters=None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """List entries, newest first, filtered by text, tag, lab, week, stars and dates."""
    from labpath import ui
    from labpath.app import journal

    ui.show(journal.select(workspace, filters), json)


@journal_app.command("search")
@journal_filters
def journal_search(
    text: Annotated[list[str], typer.Argument(help="Words that must all appear.")],
    filters=None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Find entries containing every word (title, text and tags), newest first."""
    from labpath import ui
    from labpath.app import journal

    ui.show(journal.select(workspace, filters), json)


@journal_app.command("show")
def journal_show(
    entry: EntryArg = "last", workspace: WorkspaceOpt = None, json: JsonOpt = False
):
    """Show one entry in full."""
    from labpath import ui
    from labpath.app import journal

    ui.show(journal.show(workspace, entry), json)


@journal_app.command("edit")
def journal_edit(
    entry: EntryArg = "last", workspace: WorkspaceOpt = None, json: JsonOpt = False
):
    """Open an entry in $EDITOR; saves it with a `modified` time and commits it."""
    from labpath import ui
    from labpath.app import journal

    ui.show(journal.edit(workspace, entry), json)


@journal_app.command("star")
def journal_star(
    entry: EntryArg = "last",
    off: Annotated[
        bool, typer.Option("--off", help="Remove the star instead.")
    ] = False,
    workspace: WorkspaceOpt = None,
):
    """Star an entry (or --off to unstar it); the file keeps all its other keys."""
    from labpath import ui
    from labpath.app import journal

    ui.show(journal.star(workspace, entry, not off))


@journal_app.command("tags")
def journal_tags(
    since: SinceOpt = None,
    until: UntilOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Every tag with its number of entries, most used first."""
    from labpath import ui
    from labpath.app import journal

    ui.show(journal.tags(workspace, since, until), json)


@journal_app.command("export")
@journal_filters
def journal_export(
    text: TextArg = None,
    filters=None,
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
    workspace: WorkspaceOpt = None,
):
    """Export the selected entries as one Markdown document (a blog draft) or JSON."""
    from labpath import ui
    from labpath.app import journal

    ui.show(journal.export(workspace, filters, fmt, title, out))
