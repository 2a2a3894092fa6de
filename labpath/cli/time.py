"""Time spent: sprint, and time add|log|skip."""

from typing import Annotated

import typer

from labpath.cli.options import (
    CurriculumOpt,
    JsonOpt,
    NoPromptOpt,
    SinceOpt,
    TaskOpt,
    UntilOpt,
    WorkspaceOpt,
    context,
    given,
)
from labpath.dates import WEEKDAY_RULE

time_app = typer.Typer(
    help="Time spent: add work done away from the keyboard, list it, skip days."
    f"\n\nDays: {WEEKDAY_RULE}",
    no_args_is_help=True,
)


def sprint(
    minutes: Annotated[int, typer.Argument(help="Planned length in minutes.")] = 30,
    task: TaskOpt = None,
    note: Annotated[
        str | None,
        typer.Option(
            "--note",
            help="A note kept with the sprint (else asked at the end).",
            show_default=False,
        ),
    ] = None,
    no_prompt: NoPromptOpt = False,
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Run a focused sprint with a timer; Ctrl-C stops early and keeps the minutes spent."""
    given(task=task)
    from labpath import ui
    from labpath.app import time

    ctx = context(workspace, curriculum)
    ask = note is None and not no_prompt and not json and ui.interactive()
    result = time.sprint(
        ctx,
        minutes,
        task,
        ui.sprint_timer,
        ask_note=ui.ask_note if ask else lambda: note,
        notify=ui.notices,
    )
    ui.show(result, json)


@time_app.command("add")
def time_add(
    duration: Annotated[
        str, typer.Argument(help="How long: 45m, 1h30m, 1.5h or 1:30.")
    ],
    task: TaskOpt = None,
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
    workspace: WorkspaceOpt = None,
    curriculum: CurriculumOpt = None,
    json: JsonOpt = False,
):
    """Record time spent away from the keyboard (reading, a lecture, a walk thinking)."""
    given(task=task)
    from labpath import ui
    from labpath.app import time

    ctx = context(workspace, curriculum)
    ui.show(time.add(ctx, duration, task, note, on, notify=ui.notices), json)


@time_app.command("log")
def time_log(
    since: SinceOpt = None,
    until: UntilOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """List sprints and added time (default: this week), with the total."""
    from labpath import ui
    from labpath.app import time

    ui.show(time.time_log(workspace, since, until), json)


@time_app.command("skip")
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
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """Mark a rest day: it neither counts nor breaks the daily sprint streak."""
    from labpath import ui
    from labpath.app import time

    ui.show(time.skip(workspace, day, reason), json)
