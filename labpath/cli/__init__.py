"""The command line: Typer commands that parse, call one use case, and render its result.

Every command runs inside one error boundary (`Boundary.invoke`): a labpath error
becomes one `Error:` line with its hint and exit code, never a traceback.
"""

import errno
import gc
import os
from typing import Annotated

import typer
from typer.core import TyperGroup

from labpath import __version__
from labpath.errors import ENV_ERROR, PIPE_CLOSED, USER_ERROR, LabpathError

_FIXABLE_OS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EPERM, errno.EACCES}


class Boundary(TyperGroup):
    """The root command: the one place where errors of any command turn into a message
    and an exit code, and the one that builds a subcommand only when it is asked for."""

    def get_command(self, ctx, cmd_name: str):
        cmd = self.commands.get(cmd_name)
        if cmd is None and cmd_name in _LAZY:
            cmd = self.commands[cmd_name] = _build(cmd_name)
        return cmd

    def list_commands(self, ctx) -> list[str]:
        return [*self.commands, *(n for n in _LAZY if n not in self.commands)]

    def format_commands(self, ctx, formatter) -> None:
        # --help lists every command from its docstring, without building any of them
        from typer._click.utils import make_default_short_help

        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, make_default_short_help(_summary(n), limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx, args):
        from difflib import get_close_matches

        from typer._click.exceptions import UsageError as ClickUsageError

        try:
            return self._click_resolve_command(ctx, args)
        except ClickUsageError as e:
            matches = (
                get_close_matches(args[0], self.list_commands(ctx)) if args else []
            )
            if matches:
                said = ", ".join(repr(m) for m in matches)
                e.message = f"{e.message.rstrip('.')}. Did you mean {said}?"
            raise

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
        except BrokenPipeError:
            # the reader left (`labpath status | head`): stop quietly, as git does
            _pipe_closed()
            raise typer.Exit(PIPE_CLOSED) from None
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


def _pipe_closed() -> None:
    """Point stdout at /dev/null, so that flushing it on exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


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


# Every command, in the order --help lists them: (name, module in labpath.cli, attribute,
# click context settings). A command is built only when it runs (or --help lists it from
# its docstring), so starting one command never pays for building the other thirty.
_LAZY: dict[str, tuple[str, str, dict | None]] = {
    "init": ("loop", "init", None),
    "next": ("loop", "next_", None),
    "start": ("loop", "start", None),
    "check": ("loop", "check", None),
    "done": ("loop", "done", None),
    "log": ("journal", "log", None),
    "status": ("loop", "status", None),
    "watch": ("loop", "watch", None),
    "run": (
        "loop",
        "run_",
        {"allow_extra_args": True, "ignore_unknown_options": True},
    ),
    "hint": ("loop", "hint", None),
    "reset": ("loop", "reset", None),
    "solution": ("loop", "solution", None),
    "doctor": ("admin", "doctor", None),
    "sprint": ("time", "sprint", None),
    "repair": ("admin", "repair", None),
    "sync": ("admin", "sync_", None),
    "report": ("admin", "report", None),
    "review": ("admin", "review", None),
    "record": ("admin", "record", None),
    "verify": ("admin", "verify", None),
    "quiz": ("admin", "quiz", None),
    "data": ("data", "data_app", None),
    "dev": ("dev", "dev_app", None),
    "journal": ("journal", "journal_app", None),
    "time": ("time", "time_app", None),
}


def _target(name: str):
    import importlib

    module, attribute, _ = _LAZY[name]
    return getattr(importlib.import_module(f"labpath.cli.{module}"), attribute)


def _build(name: str):
    """The click command (or group) of one entry of _LAZY."""
    from typer.main import get_command_from_info, get_group_from_info
    from typer.models import CommandInfo, TyperInfo

    target = _target(name)
    if isinstance(target, typer.Typer):
        return get_group_from_info(
            TyperInfo(target, name=name),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
        )
    return get_command_from_info(
        CommandInfo(name=name, callback=target, context_settings=_LAZY[name][2]),
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


def _summary(name: str) -> str:
    """A command's help text, read without building the command."""
    import inspect

    target = _target(name)
    if isinstance(target, typer.Typer):
        return inspect.cleandoc(target.info.help or "")
    return inspect.getdoc(target) or ""


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        # Everything the command made is garbage now. The interpreter's exit would
        # still walk every object with a full collection (about 6 ms: a tenth of a
        # quick command); frozen, they are left to the exit's usual teardown. Exit
        # handlers, buffered output and waiting threads are as before.
        gc.freeze()
