"""The learner's editor: which command it is, and running it on a text."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from labpath.errors import UsageError


def command(editor: str, where: str = "the editor") -> list[str]:
    """The editor setting split like a shell would, or a clear error."""
    import shlex

    from labpath.workspace import shown

    try:
        argv = shlex.split(editor)
    except ValueError as exc:
        raise UsageError(
            f"{where} {shown(editor)} cannot be split into a command ({exc})",
            hint="balance its quotes, e.g. editor: code --wait, or EDITOR=nano",
        ) from None
    if not argv:
        raise UsageError(f"{where} is empty", hint="set it, e.g. export EDITOR=nano")
    return argv


def resolve(configured: str | None) -> str | None:
    """The editor to run: labpath.yaml's `editor:`, then $VISUAL, then $EDITOR.

    None when none is set; one that cannot be split into a command is refused here,
    before anything is written.
    """
    editor = configured or os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if editor:
        command(editor, "the editor")
    return editor or None


def run(editor: str, text: str, tmp_dir: Path) -> str:
    """Open the editor on a temporary file holding text; return what was saved."""
    import subprocess
    import tempfile

    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="edit-", suffix=".md", dir=tmp_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    try:
        try:
            proc = subprocess.run([*command(editor), name])
        except FileNotFoundError:
            raise UsageError(
                f"editor '{editor}' not found",
                hint="set $EDITOR (or `editor:` in labpath.yaml)",
            ) from None
        if proc.returncode != 0:
            raise UsageError(
                f"editor '{editor}' exited with status {proc.returncode}; nothing saved"
            )
        return Path(name).read_text(encoding="utf-8")
    finally:
        os.unlink(name)


def function(editor: str, tmp_dir: Path) -> Callable[[str], str]:
    """run() as a text -> text function, the shape the edit workflows take."""
    return lambda text: run(editor, text, tmp_dir)
