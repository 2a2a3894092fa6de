"""Journal entries: one Markdown file each, YAML front matter, committed one by one."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import UsageError

ENTRY_TYPES = ("aha", "note", "failure", "review")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EDITOR_MARKER = (
    "<!-- labpath: write your entry above; lines from here on are ignored -->"
)


@dataclass(frozen=True)
class JournalEntry:
    id: str
    created: str
    title: str
    body: str
    type: str = "aha"
    tags: tuple[str, ...] = ()
    starred: bool = False
    phase: int | None = None
    week: int | None = None
    task: str | None = None
    lab: str | None = None
    check: dict | None = None
    commit: str | None = None
    path: str | None = None


def new_id(when: dt.datetime | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, sortable by time."""
    import secrets

    when = when or dt.datetime.now(dt.timezone.utc)
    value = (int(when.timestamp() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def slugify(text: str, limit: int = 48) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (slug[:limit].rstrip("-")) or "entry"


def title_of(text: str) -> str:
    """The entry's title: its first non-empty line, without Markdown heading marks."""
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 80 else line[:77].rstrip() + "..."
    return ""


def clean_editor_text(text: str) -> str:
    """Drop the template's instructions from what the editor returned."""
    return text.split(EDITOR_MARKER, 1)[0].strip()


def compose_in_editor(editor: str, template: str, tmp_dir: Path) -> str:
    """Open the learner's editor on a temporary file and return what they wrote."""
    import shlex
    import subprocess
    import tempfile

    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="entry-", suffix=".md", dir=tmp_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(template)
    try:
        try:
            result = subprocess.run([*shlex.split(editor), name])
        except FileNotFoundError:
            raise UsageError(
                f"editor '{editor}' not found",
                hint="set $EDITOR (or `editor:` in labpath.yaml), or pass the text: "
                'labpath log "..."',
            ) from None
        if result.returncode != 0:
            raise UsageError(
                f"editor '{editor}' exited with status {result.returncode}; nothing saved"
            )
        return clean_editor_text(Path(name).read_text(encoding="utf-8"))
    finally:
        os.unlink(name)


def editor_template(context: str) -> str:
    return f"\n\n{EDITOR_MARKER}\n<!-- {context} -->\n"


def render(entry: JournalEntry) -> str:
    """The file text: YAML front matter (stable key order) and the Markdown body."""
    import yaml

    front = {
        "id": entry.id,
        "created": entry.created,
        "type": entry.type,
        "title": entry.title,
        "tags": list(entry.tags),
        "starred": entry.starred,
        "phase": entry.phase,
        "week": entry.week,
        "task": entry.task,
        "lab": entry.lab,
        "check": entry.check,
        "commit": entry.commit,
    }
    front = {k: v for k, v in front.items() if v is not None}
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{head}---\n\n{entry.body.strip()}\n"


def parse(text: str) -> tuple[dict, str]:
    """Split an entry file into its front matter and body."""
    import yaml

    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}, text
    front = yaml.safe_load(text[4:end]) or {}
    return (front if isinstance(front, dict) else {}), text[end + 5 :].lstrip("\n")


def entry_path(journal_dir: Path, created: dt.datetime, title: str) -> Path:
    """journal/YYYY/MM/YYYY-MM-DDTHHMMSS-slug.md, with a suffix if the name is taken."""
    folder = journal_dir / f"{created:%Y}" / f"{created:%m}"
    stem = f"{created:%Y-%m-%dT%H%M%S}-{slugify(title)}"
    path = folder / f"{stem}.md"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.md"
        n += 1
    return path


def write(journal_dir: Path, entry: JournalEntry, created: dt.datetime) -> JournalEntry:
    """Write a new entry file atomically, never replacing another entry."""
    import tempfile

    while True:
        path = entry_path(journal_dir, created, entry.title)
        stored = JournalEntry(**{**entry.__dict__, "path": str(path)})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".entry-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(render(stored))
                fh.flush()
                os.fsync(fh.fileno())
            # link() fails if the name exists: a second process logging in the same
            # second takes the next name instead of replacing this entry.
            os.link(tmp, path)
            return stored
        except FileExistsError:
            continue
        finally:
            os.unlink(tmp)


def entry_files(journal_dir: Path) -> list[Path]:
    """Every entry file, oldest first by name."""
    if not journal_dir.is_dir():
        return []
    return sorted(p for p in journal_dir.glob("*/*/*.md"))


def count(journal_dir: Path) -> int:
    return len(entry_files(journal_dir))
