"""The command line: Typer commands that parse, call one use case, and render its result.

Every command runs inside one error boundary (`Boundary.invoke`): a labpath error
becomes one `Error:` line with its hint and exit code, never a traceback.
"""

import errno
import os
from typing import Annotated

import typer
from typer.core import TyperGroup

from labpath import __version__
from labpath.errors import ENV_ERROR, USER_ERROR, LabpathError

_FIXABLE_OS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EPERM, errno.EACCES}


class Boundary(TyperGroup):
    """The one place where errors of any command turn into a message and an exit code."""

    def invoke(self, ctx):
        from typer.exceptions import TyperException

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except LabpathError as exc:
            if os.environ.get("LABPATH_DEBUG"):
                raise
            _error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _error("interrupted")
            raise typer.Exit(130) from None
        except OSError as exc:
            if os.environ.get("LABPATH_DEBUG"):
                raise
            if exc.errno not in _FIXABLE_OS:
                raise _internal(exc) from None
            _error(*_os_problem(exc))
            raise typer.Exit(USER_ERROR) from None
        except Exception as exc:
            if os.environ.get("LABPATH_DEBUG"):
                raise
            disk = _git_disk_problem(exc)
            if disk is not None:  # git met the same full or read-only disk
                _error(
                    *_os_problem(OSError(disk, os.strerror(disk), "the git repository"))
                )
                raise typer.Exit(USER_ERROR) from None
            raise _internal(exc) from None


def _error(message: str, hint: str | None = None) -> None:
    from labpath import ui

    ui.error(message, hint)


def _internal(exc: Exception) -> typer.Exit:
    """An unexpected error: reported as labpath's bug, exit 3."""
    _error(
        f"internal error: {type(exc).__name__}: {exc}",
        "this is a bug in labpath; rerun with LABPATH_DEBUG=1 for the traceback",
    )
    return typer.Exit(ENV_ERROR)


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


def _os_problem(exc: OSError) -> tuple[str, str]:
    """What a full disk, a read-only folder or a denied permission means, and the fix."""
    where = exc.filename or "a file"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the disk while writing {where}",
            "free some space (df -h shows where), then run the command again",
        )
    if exc.errno == errno.EROFS:
        return (
            f"{where} is on a read-only file system",
            "remount it writable, or use a workspace elsewhere: --workspace DIR",
        )
    return (
        f"permission denied: {where}",
        f"make it writable (chmod -R u+w {where}) or use --workspace DIR",
    )


app = typer.Typer(
    cls=Boundary,
    help="Rebuild deep learning from scratch: a plan, labs with checks, and a journal.\n\n"
    "The weekly loop: labpath next → edit → labpath check → labpath log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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


from labpath.cli import admin, data, dev, journal, loop, time  # noqa: E402

# Registered here, in the order --help lists them.
app.command()(loop.init)
app.command("next")(loop.next_)
app.command()(loop.start)
app.command()(loop.check)
app.command()(loop.done)
app.command()(journal.log)
app.command()(loop.status)
app.command()(loop.watch)
app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)(loop.run_)
app.add_typer(data.data_app, name="data")
app.command()(loop.hint)
app.command()(loop.reset)
app.command()(loop.solution)
app.command()(admin.doctor)
app.add_typer(dev.dev_app, name="dev")
app.add_typer(journal.journal_app, name="journal")
app.command()(time.sprint)
app.add_typer(time.time_app, name="time")
app.command()(admin.repair)
app.command("sync")(admin.sync_)
app.command()(admin.report)
app.command()(admin.review)
app.command()(admin.quiz)


def main() -> None:
    """Console-script entry point."""
    app()
