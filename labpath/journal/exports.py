"""The journal as other tools read it: jrnl-shaped JSON and one Markdown document."""

from __future__ import annotations

from pathlib import Path

from labpath.errors import UsageError
from labpath.journal.entry import JournalEntry, created_at
from labpath.journal.query import Query, search


def _to_record(entry: JournalEntry) -> dict:
    return {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in entry.__dict__.items()
    }


def to_json(entries: list[JournalEntry], root: Path | None = None) -> dict:
    """jrnl's export shape (tags with counts, entries with date/time) plus labpath's keys."""
    tags: dict[str, int] = {}
    out = []
    for e in entries:
        for t in e.tags:
            tags[t] = tags.get(t, 0) + 1
        when = created_at(e)
        rec = _to_record(e)
        rec.pop("extra", None)
        rec.update(e.extra and {"extra": e.extra} or {})
        rec["date"] = when.strftime("%Y-%m-%d") if when else None
        rec["time"] = when.strftime("%H:%M") if when else None
        if root is not None and e.path:
            rec["path"] = _relative(Path(e.path), root)
        out.append(rec)
    return {"tags": tags, "entries": out}


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def to_markdown(
    entries: list[JournalEntry],
    title: str,
    root: Path | None = None,
    image_base: Path | None = None,
) -> str:
    """One Markdown document, oldest entry first: the raw material of a blog post.

    Plot paths are written relative to image_base (the folder the document goes to).
    """
    import os.path

    lines = [f"# {title}", ""]
    ordered = sorted(entries, key=lambda e: (e.created, e.id))
    for e in ordered:
        when = created_at(e)
        lines.append(f"## {e.title}" + (" ★" if e.starred else ""))
        lines.append("")
        meta = [when.strftime("%Y-%m-%d %H:%M") if when else "", e.type]
        if e.lab or e.task:
            meta.append(f"lab {e.lab}" if e.lab else f"task {e.task}")
        if e.check:
            c = e.check
            meta.append(f"check {c.get('status')} {c.get('passed')}/{c.get('total')}")
        if e.tags:
            meta.append(" ".join(f"#{t}" for t in e.tags))
        lines.append("*" + " · ".join(m for m in meta if m) + "*")
        lines.append("")
        body = e.body.strip()
        first, _, rest = body.partition("\n")
        if first.strip().lstrip("#").strip() == e.title:
            body = rest.strip()  # the title is already the heading
        if body:
            lines.append(body)
            lines.append("")
        for plot in e.plots:
            target = Path(plot)
            if root is not None and not target.is_absolute():
                target = root / target
            ref = os.path.relpath(target, image_base) if image_base else str(target)
            lines.append(f"![{Path(plot).stem}]({ref})")
            lines.append("")
    if not ordered:
        lines.append("*No entries match.*")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _json_text(entries: list[JournalEntry], title: str, root: Path, target) -> str:
    import json

    return json.dumps(to_json(entries, root), indent=2, ensure_ascii=False) + "\n"


def _markdown_text(entries: list[JournalEntry], title: str, root: Path, target) -> str:
    base = target.parent if target else Path.cwd()
    return to_markdown(entries, title, root, base)


# `journal export --format` value -> how the selected entries become the file's text.
FORMATS = {"md": _markdown_text, "markdown": _markdown_text, "json": _json_text}


def export(
    ws, q: Query, fmt: str, title: str = "Journal", out: str | None = None
) -> str:
    """The selected entries as Markdown or JSON text; written atomically to out if given."""
    from labpath.fsutil import atomic_write

    if fmt not in FORMATS:
        raise UsageError(
            f"--format {fmt}: expected md or json",
            hint="labpath journal export --format md",
        )
    found = search(ws, q)
    target = Path(out).expanduser().resolve() if out else None
    if target is not None and target.is_dir():
        raise UsageError(
            f"--out {out} is a folder", hint=f"give a file: --out {out}/journal.{fmt}"
        )
    text = FORMATS[fmt](found, title, ws.root, target)
    if target is not None:
        atomic_write(target, text)
    return text
