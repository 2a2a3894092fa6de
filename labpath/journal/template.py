"""The editor template of a journal entry: what the learner sees, and what is kept."""

from __future__ import annotations

from pathlib import Path

EDITOR_MARKER = (
    "<!-- labpath: write your entry above; lines from here on are ignored -->"
)


def clean_editor_text(text: str) -> str:
    """Drop the template's instructions from what the editor returned."""
    return text.split(EDITOR_MARKER, 1)[0].strip()


def editor_template(context: str) -> str:
    return f"\n\n{EDITOR_MARKER}\n<!-- {context} -->\n"


def compose_in_editor(editor: str, template: str, tmp_dir: Path) -> str:
    """Open the learner's editor on a temporary file and return what they wrote."""
    from labpath import editor as editors

    return clean_editor_text(editors.run(editor, template, tmp_dir))
