"""The two consoles, the messages on stderr, JSON and raw text on stdout, questions.

Most of what labpath prints is a few lines of text with a little markup ([bold], [dim],
a colour). `Printer` writes those itself, so a command like `status` or `log` never
imports Rich's console (a third of their start-up); anything richer (a table, a
progress bar, highlighted code) goes to a Rich console created the first time one is
needed.
"""

from __future__ import annotations

import os
import re
import sys

from labpath.app.results import WARNING, plain

_SGR = {"bold": 1, "dim": 2, "italic": 3, "underline": 4}
_COLOUR = {"red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36}
# The markup rule Rich uses: a bracketed run starting with a letter, #, / or @ is a tag,
# unless an odd number of backslashes precede it.
_TAG = re.compile(r"(\\*)\[([a-z#/@][^\[]*?)\]")


def escape(text: str) -> str:
    """`text` with anything that reads as a markup tag made literal."""
    text = _TAG.sub(lambda m: f"{m[1]}{m[1]}\\[{m[2]}]", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        text += "\\"  # a trailing backslash would escape whatever follows it
    return text


class _Fallback(Exception):
    """Markup this printer does not render; Rich does."""


def _words(tag: str) -> list[str]:
    words = tag.split()
    if not words or any(w not in _SGR and w not in _COLOUR for w in words):
        raise _Fallback
    return words


def render(markup: str, ansi: bool, colour: bool = True) -> str:
    """The text of `markup`, with ANSI styles when `ansi` (colours only when `colour`)."""
    parts, stack, pos = [], [], 0

    def sgr() -> str:
        codes = [
            _SGR.get(w) or (_COLOUR[w] if colour else None)
            for tag in stack
            for w in tag
        ]
        codes = [str(c) for c in codes if c]
        return "\x1b[0m" + (f"\x1b[{';'.join(codes)}m" if codes else "")

    for m in _TAG.finditer(markup):
        parts.append(markup[pos : m.start()].replace("\\[", "["))
        pos = m.end()
        slashes, tag = m[1], m[2]
        parts.append("\\" * (len(slashes) // 2))
        if len(slashes) % 2:
            parts.append(f"[{tag}]")
            continue
        if tag.startswith("/"):
            name = tag[1:].strip()
            if not stack:
                raise _Fallback
            if not name:
                stack.pop()
            else:
                words = _words(name)
                if words not in stack:
                    raise _Fallback
                del stack[len(stack) - 1 - stack[::-1].index(words)]
        else:
            stack.append(_words(tag))
        if ansi:
            parts.append(sgr())
    parts.append(markup[pos:].replace("\\[", "["))  # a bracket escaped outside a tag
    if ansi and any(p.startswith("\x1b") for p in parts):
        parts.append("\x1b[0m")
    return "".join(parts)


class Printer:
    """stdout or stderr: plain lines of markup written directly, the rest through Rich.

    To a pipe or file, lines come out exactly as written (no wrapping, no cropping);
    on a terminal, with ANSI styles (no colours under NO_COLOR).
    """

    _PLAIN = {"sep", "end", "style", "no_wrap", "overflow"}

    def __init__(self, stderr: bool):
        self.stderr = stderr
        self._rich = None

    @property
    def file(self):
        return sys.stderr if self.stderr else sys.stdout

    @property
    def is_terminal(self) -> bool:
        if self._rich is not None:
            return self._rich.is_terminal
        if os.environ.get("FORCE_COLOR"):
            return True
        try:
            return self.file.isatty()
        except (ValueError, AttributeError):
            return False

    def print(self, *objects, **kwargs) -> None:
        if all(isinstance(o, str) for o in objects) and kwargs.keys() <= self._PLAIN:
            try:
                self._write(objects, **kwargs)
                return
            except _Fallback:
                pass
        self.rich.print(*objects, **kwargs)

    def _write(
        self, objects, sep=" ", end="\n", style=None, no_wrap=None, overflow=None
    ) -> None:
        markup = sep.join(objects)
        if style:
            markup = f"[{style}]{markup}[/]"
        terminal = self.is_terminal
        ansi = terminal and os.environ.get("TERM") not in ("dumb", "unknown")
        text = render(markup, ansi, colour=not os.environ.get("NO_COLOR"))
        if terminal and no_wrap and overflow == "ellipsis":
            text = _cropped(text, render(markup, False), self._width())
        self.file.write(text + end)
        self.file.flush()

    def _width(self) -> int:
        import shutil

        return shutil.get_terminal_size().columns

    @property
    def rich(self):
        """The Rich console for tables, progress bars and code (created once)."""
        if self._rich is None:
            self._rich = _rich_console(self.stderr)
        return self._rich

    def __getattr__(self, name):
        return getattr(self.rich, name)


def _cropped(styled: str, text: str, width: int) -> str:
    """Lines wider than the terminal cut with an ellipsis (their styles dropped)."""
    lines = []
    for s, t in zip(styled.split("\n"), text.split("\n"), strict=True):
        lines.append(t[: width - 1] + "…" if len(t) > width else s)
    return "\n".join(lines)


def _rich_console(stderr: bool):
    from rich.console import Console

    if stderr:
        return Console(stderr=True, highlight=False, soft_wrap=True)

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
            return (
                size if self.is_terminal else size._replace(width=max(size.width, 400))
            )

        @size.setter
        def size(self, new_size) -> None:
            Console.size.fset(self, new_size)

    return _Out(highlight=False, soft_wrap=False)


out = Printer(stderr=False)
err = Printer(stderr=True)


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
    import json

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
