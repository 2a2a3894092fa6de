"""Options shared by many commands, declared once, and the checks of their values."""

import functools
import inspect
import math
from typing import Annotated

import typer

from labpath.dates import WEEKDAY_RULE
from labpath.errors import UsageError

WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $LABPATH_HOME, "
        "the nearest folder with labpath.yaml, then ~/labpath).",
        show_default=False,
    ),
]
CurriculumOpt = Annotated[
    str | None,
    typer.Option(
        "--curriculum",
        help="Use this curriculum folder instead of the workspace's.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
FaultsOpt = Annotated[
    int | None,
    typer.Option(
        "--faults",
        help="For a lab that hides faults (fixit): how many to plant.",
        show_default=False,
    ),
]
NoPromptOpt = Annotated[bool, typer.Option("--no-prompt", help="Never ask questions.")]
LabArg = Annotated[
    str | None,
    typer.Argument(
        help="Lab id (default: the lab folder you are in, else the current task's)."
    ),
]
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
TextArg = Annotated[
    list[str] | None,
    typer.Argument(help="Words that must all appear.", show_default=False),
]
TaskOpt = Annotated[
    str | None,
    typer.Option(
        "--task",
        help="Task worked on (default: the current task).",
        show_default=False,
    ),
]


def _option(name: str, annotation, default=None) -> inspect.Parameter:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Parameter(name, kind, default=default, annotation=annotation)


# The journal filters of list, search and export, in the order --help shows them.
FILTERS = [
    _option(
        "tag",
        Annotated[
            list[str] | None,
            typer.Option(
                "--tag",
                "-t",
                help="Only entries with this tag (repeatable).",
                show_default=False,
            ),
        ],
    ),
    _option(
        "lab",
        Annotated[
            str | None,
            typer.Option(
                "--lab", help="Only entries about this lab.", show_default=False
            ),
        ],
    ),
    _option(
        "task",
        Annotated[
            str | None,
            typer.Option(
                "--task", help="Only entries about this task.", show_default=False
            ),
        ],
    ),
    _option(
        "phase",
        Annotated[
            int | None,
            typer.Option(
                "--phase", help="Only entries of this phase.", show_default=False
            ),
        ],
    ),
    _option(
        "week",
        Annotated[
            int | None,
            typer.Option(
                "--week",
                help="Only entries of this curriculum week.",
                show_default=False,
            ),
        ],
    ),
    _option(
        "type_",
        Annotated[
            str | None,
            typer.Option(
                "--type", help="aha, note, failure or review.", show_default=False
            ),
        ],
    ),
    _option(
        "starred",
        Annotated[bool, typer.Option("--starred", help="Only starred entries.")],
        False,
    ),
    _option("since", SinceOpt),
    _option("until", UntilOpt),
    _option(
        "n",
        Annotated[
            int | None,
            typer.Option(
                "-n", help="At most N entries (newest first).", show_default=False
            ),
        ],
    ),
]


def journal_filters(command):
    """Give a command the journal filters in place of its `filters` parameter.

    The command receives them as one `app.journal.Filters`, built with its `text`.
    """
    signature = inspect.signature(command)
    params = []
    for p in signature.parameters.values():
        params += FILTERS if p.name == "filters" else [p]
    names = [p.name for p in FILTERS]

    @functools.wraps(command)
    def wrapper(**kwargs):
        from labpath.app.journal import Filters

        given = {name: kwargs.pop(name) for name in names}
        filters = Filters(
            text=tuple(kwargs.get("text") or ()),
            tag=tuple(given["tag"] or ()),
            lab=given["lab"],
            task=given["task"],
            phase=given["phase"],
            week=given["week"],
            type=given["type_"],
            starred=given["starred"],
            since=given["since"],
            until=given["until"],
            n=given["n"],
        )
        return command(filters=filters, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__
    return wrapper


def given(**ids: str | None) -> None:
    """Refuse an id given as an empty string: `reset ""` must not mean the current lab."""
    for name, value in ids.items():
        if value is not None and not value.strip():
            raise UsageError(
                f"the {name} given is empty",
                hint=f"name the {name}, or leave it out to use the current task's",
            )


def run_options(timeout: float | None = None, seed: int | None = None) -> None:
    """--timeout a finite positive number of seconds, --seed one torch can use."""
    if timeout is not None and not (math.isfinite(timeout) and 0 < timeout <= 86400):
        raise UsageError(
            f"--timeout must be a positive number of seconds (at most "
            f"86400), not {timeout}",
            hint="e.g. --timeout 120",
        )
    if seed is not None and not 0 <= seed < 2**32:
        raise UsageError(
            f"--seed {seed}: give a whole number from 0 to 4294967295",
            hint="e.g. --seed 1337",
        )


def context(workspace: str | None, curriculum: str | None, create: bool = False):
    """The loaded workspace, with what opening it said shown at once."""
    from labpath import ui
    from labpath.app.context import load

    ctx = load(workspace, curriculum, create=create)
    ui.notices(ctx.notices)
    return ctx
