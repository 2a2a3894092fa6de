"""The two consoles, the messages on stderr, JSON and raw text on stdout, questions."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape

from labpath.app.results import WARNING, plain


class _Out(Console):
    """stdout: laid out for a terminal; to a pipe or file, lines exactly as written."""

    def print(self, *objects, **kwargs) -> None:
        if not self.is_terminal:
            kwargs.pop("no_wrap", None)
            kwargs.pop("overflow", None)
            kwargs.update(soft_wrap=True, crop=False)
        super().print(*objects, **kwargs)

    @property
    def size(self):
        size = super().size
        # Tables lay out to their content, not to a terminal the output never reaches.
        return size if self.is_terminal else size._replace(width=max(size.width, 400))

    @size.setter
    def size(self, new_size) -> None:
        Console.size.fset(self, new_size)


out = _Out(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str, hint: str | None = None) -> None:
    err.print(f"[bold red]Error:[/] {escape(message)}")
    if hint:
        err.print(f"[bold]Hint:[/] {escape(hint)}")


def notice(message: str) -> None:
    err.print(escape(message), style="dim")


def warning(message: str) -> None:
    err.print(f"[yellow]Warning:[/] {escape(message)}")


def notices(items) -> None:
    """Each notice of a result: a warning as a warning, the rest dimmed."""
    for n in items:
        (warning if n.level == WARNING else notice)(n.message)


def print_json(data) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(plain(data), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def raw(text: str) -> None:
    """Text exactly as given (exports), without Rich markup or wrapping."""
    sys.stdout.write(text)
    sys.stdout.flush()


def interactive() -> bool:
    """Whether a person is at the terminal (both ends), so questions may be asked."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (ValueError, AttributeError):
        return False


def ask(question: str) -> str:
    """Ask one question on the terminal; an empty answer is ''."""
    err.print(f"[bold]{escape(question)}[/] ", end="")
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def ask_what_clicked() -> str:
    """After a first pass: what clicked, or '' when skipped or interrupted."""
    try:
        return ask("What clicked? (Enter to skip)")
    except (KeyboardInterrupt, EOFError):
        return ""


def ask_note() -> str | None:
    """At the end of a sprint: its note, or None when skipped or interrupted."""
    try:
        return ask("Note for this sprint (Enter to skip)")
    except (KeyboardInterrupt, EOFError):
        return None
