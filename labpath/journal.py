"""Journal entries: one Markdown file each, YAML front matter, committed one by one."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from labpath import dates
from labpath.dates import DATE_FORMS, WEEKDAYS, parse_when  # noqa: F401 (re-exported)
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
    plots: tuple[str, ...] = ()
    modified: str | None = None
    path: str | None = None
    extra: dict = field(default_factory=dict)  # front-matter keys labpath does not own


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
    from labpath import editor as editors

    return clean_editor_text(editors.run(editor, template, tmp_dir))


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
        "plots": list(entry.plots) or None,
        "modified": entry.modified,
    }
    front = {k: v for k, v in front.items() if v is not None}
    for key, value in entry.extra.items():
        front.setdefault(key, value)
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{head}---\n\n{entry.body.strip()}\n"


class AliasRefused(ValueError):
    """Front matter with YAML anchors or aliases (a few lines can expand to gigabytes)."""


def parse(text: str) -> tuple[dict, str]:
    """Split an entry file into its front matter and body; anchors and aliases refused."""
    import yaml

    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}, text
    # libyaml's safe loader when present: the same rules, and a cold search over
    # thousands of entries parses several times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    head = text[4:end]
    if "&" in head or "*" in head:  # only then can there be an anchor or an alias
        for event in yaml.parse(head, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise AliasRefused(
                    "its front matter uses YAML anchors or aliases, which labpath "
                    "does not expand"
                )
    front = yaml.load(head, Loader=loader) or {}
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
        _drop_stale_temp_files(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".entry-", suffix=".tmp")
        os.fchmod(fd, _new_file_mode())
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(render(stored))
                fh.flush()
                os.fsync(fh.fileno())
            from labpath.fsutil import test_pause

            test_pause("journal.write")
            # link() fails if the name exists: a second process logging in the same
            # second takes the next name instead of replacing this entry.
            os.link(tmp, path)
            return stored
        except FileExistsError:
            continue
        finally:
            os.unlink(tmp)


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _drop_stale_temp_files(folder: Path, age: float = 300.0) -> None:
    """Remove what a writer killed mid-write left behind (a live write takes milliseconds)."""
    import time

    for tmp in folder.glob(".entry-*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > age:
                tmp.unlink()
        except OSError:
            pass


def entry_files(journal_dir: Path) -> list[Path]:
    """Every entry file, oldest first by name."""
    if not journal_dir.is_dir():
        return []
    return sorted(p for p in journal_dir.glob("*/*/*.md") if not p.is_symlink())


def count(journal_dir: Path) -> int:
    return len(entry_files(journal_dir))


# --- reading entries back -------------------------------------------------------------

KNOWN_KEYS = (
    "id", "created", "type", "title", "tags", "starred", "phase", "week", "task", "lab",
    "check", "commit", "plots", "modified",
)  # fmt: skip
INDEX_VERSION = 3


def _iso(value) -> str | None:
    """A front-matter time as an ISO string (YAML may have parsed it into a datetime)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return value.isoformat()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day).astimezone().isoformat()
    return str(value)


def _plain_yaml(value):
    """Front-matter values made JSON-safe (dates to strings), for the index and exports."""
    if isinstance(value, (dt.date, dt.datetime)):
        return _iso(value)
    if isinstance(value, dict):
        return {str(k): _plain_yaml(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_yaml(v) for v in value]
    return value


def _int_or_none(value):
    """A whole number from front matter; anything else (inf, a list, true) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        return int(value)
    return None


# C0 and C1 control characters (escape sequences among them) never reach a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _line(value) -> str:
    """A one-line front-matter value as clean text."""
    if isinstance(value, (dict, list, tuple, set)):
        return ""
    return _LINE_CONTROL.sub(" ", str(_iso(value) if isinstance(value, dt.date)
                                      else value)).strip()  # fmt: skip


def _opt_line(value) -> str | None:
    return (_line(value) or None) if value not in (None, "", False) else None


_SAFE_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,79}")
_SAFE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,19}")


def _check_field(value) -> dict | None:
    """The check summary with each field of its expected type; others dropped."""
    if not isinstance(value, dict):
        return None
    out = {}
    for key, kind in (("status", str), ("passed", int), ("total", int), ("at", str)):
        v = value.get(key)
        if key == "at" and isinstance(v, dt.date):
            v = _iso(v)
        if isinstance(v, kind) and not isinstance(v, bool):
            out[key] = _line(v) if kind is str else v
    return out or None


def from_text(text: str, path: str | None = None) -> JournalEntry:
    """An entry from its file text; tolerant of hand edits and other tools' keys."""
    return checked_from_text(text, path)[0]


def checked_from_text(
    text: str, path: str | None = None
) -> tuple[JournalEntry, str | None]:
    """from_text, plus what was wrong with the file's front matter (None: nothing)."""
    problem = None
    try:
        front, body = parse(text)
    except AliasRefused as exc:
        front, body, problem = {}, text, str(exc)
    except Exception:  # malformed YAML: keep the whole file as the body
        front, body = {}, text
        problem = "its front matter is not valid YAML; the whole file is shown as text"
    tags = front.get("tags") or ()
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.replace(",", " ").split() if t.strip()]
    if not isinstance(tags, (list, tuple)):
        tags = ()
    created = _iso(front.get("created") or front.get("date"))
    if not isinstance(front.get("created") or front.get("date") or "", (str, dt.date)):
        created = None
    if created is None and path:
        created = _created_from_name(Path(path).name)
    plots = front.get("plots") or ()
    if isinstance(plots, str):
        plots = [plots]
    if not isinstance(plots, (list, tuple)):
        plots = ()
    stem = Path(path).stem if path else ""
    ident = _line(front.get("id") or "")
    if not _SAFE_ID.fullmatch(ident):
        ident = stem
    kind = _line(front.get("type") or "note")
    body = _CONTROL.sub("", body)
    title = _line(front.get("title") or "") or title_of(body)
    entry = JournalEntry(
        id=ident,
        created=_line(created or ""),
        title=title,
        body=body.strip(),
        type=kind if _SAFE_TYPE.fullmatch(kind) else "note",
        tags=tuple(t for t in (_line(t) for t in tags) if t),
        starred=front.get("starred") is True,
        phase=_int_or_none(front.get("phase")),
        week=_int_or_none(front.get("week")),
        task=_opt_line(front.get("task")),
        lab=_opt_line(front.get("lab")),
        check=_check_field(front.get("check")),
        commit=_opt_line(front.get("commit")),
        plots=tuple(p for p in (_line(p) for p in plots) if p),
        modified=_opt_line(_iso(front.get("modified"))),
        path=path,
        extra={str(k): _plain_yaml(v) for k, v in front.items() if k not in KNOWN_KEYS},
    )
    return entry, problem


def _created_from_name(name: str) -> str | None:
    m = re.match(r"(\d{4}-\d{2}-\d{2})T(\d{2})(\d{2})(\d{2})", name)
    if not m:
        return None
    when = dt.datetime.fromisoformat(f"{m[1]}T{m[2]}:{m[3]}:{m[4]}")
    return when.astimezone().isoformat()


def read_entry(path: Path) -> JournalEntry:
    return from_text(path.read_text(encoding="utf-8"), str(path))


def read_checked(path: Path) -> tuple[JournalEntry, str | None]:
    """An entry and what is wrong with its file; invalid UTF-8 is read with U+FFFD."""
    data = path.read_bytes()
    try:
        text, problem = data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        problem = (
            f"it is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); shown with \ufffd in place of the bad bytes"
        )
    entry, other = checked_from_text(text, str(path))
    return entry, problem or other


LINKED = "it is a symbolic link, and labpath does not follow links in the journal"


def _scan(
    journal_dir: Path, problems: list | None = None
) -> dict[str, tuple[int, int]]:
    """Every entry file under journal/YYYY/MM/ with its (mtime_ns, size); links skipped."""
    found = {}
    if not journal_dir.is_dir():
        return found
    for year in os.scandir(journal_dir):
        if year.name.startswith(".") or not year.is_dir():
            continue
        if year.is_symlink():
            _note(problems, year.path, LINKED)
            continue
        for month in os.scandir(year.path):
            if month.name.startswith(".") or not month.is_dir():
                continue
            if month.is_symlink():
                _note(problems, month.path, LINKED)
                continue
            for f in os.scandir(month.path):
                if not f.name.endswith(".md") or f.name.startswith("."):
                    continue
                if f.is_symlink():
                    _note(problems, f.path, LINKED)
                elif f.is_file(follow_symlinks=False):
                    st = f.stat(follow_symlinks=False)
                    found[f.path] = (st.st_mtime_ns, st.st_size)
    return found


def _note(problems: list | None, path: str, what: str) -> None:
    if problems is not None:
        problems.append(f"{path}: {what}")


def _to_record(entry: JournalEntry) -> dict:
    return {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in entry.__dict__.items()
    }


def _row(entry: JournalEntry) -> tuple:
    """The entry as a tuple of plain values in field order, for the index."""
    return tuple(getattr(entry, f) for f in _FIELDS)


_FIELDS = tuple(JournalEntry.__dataclass_fields__)


def _read_index(index_file: Path) -> dict:
    import marshal
    import sys

    try:
        data = marshal.loads(index_file.read_bytes())
        if data.get("version") == (INDEX_VERSION, sys.version_info[:2], _FIELDS):
            return data["files"]
    except (ValueError, EOFError, TypeError, OSError, AttributeError, KeyError):
        pass
    return {}


def load_all(
    journal_dir: Path, index_file: Path | None = None, problems: list | None = None
) -> list[JournalEntry]:
    """Every entry, oldest first (by file name)."""
    return [JournalEntry(*row) for row in load_rows(journal_dir, index_file, problems)]


def load_rows(
    journal_dir: Path, index_file: Path | None = None, problems: list | None = None
) -> list[tuple]:
    """Every entry as a field tuple; parsed files are cached in index_file by mtime and size.

    The index is a rebuildable cache outside git (marshal: fast to load, and it can
    hold only plain values): a missing, stale or corrupt index only costs a re-read
    of the files that changed. What is wrong with a file is appended to problems.
    """
    import marshal
    import sys

    files = _scan(journal_dir, problems)
    cached = (
        _read_index(index_file)
        if index_file is not None and index_file.is_file()
        else {}
    )
    rows: list[tuple] = []
    fresh: dict = {}
    changed = len(cached) != len(files)
    width = len(_FIELDS)
    for path in sorted(files):
        stamp = files[path]
        hit = cached.get(path)
        if hit is not None and hit[0] == stamp and len(hit[1]) == width:
            rows.append(hit[1])
            fresh[path] = hit
            if hit[2]:
                _note(problems, path, hit[2])
            continue
        try:
            entry, problem = read_checked(Path(path))
        except OSError as exc:
            _note(problems, path, f"it cannot be read ({exc.strerror or exc})")
            continue
        row = _row(entry)
        if problem:
            _note(problems, path, problem)
        rows.append(row)
        fresh[path] = (stamp, row, problem)
        changed = True
    if index_file is not None and changed:
        from labpath.fsutil import atomic_write

        try:
            version = (INDEX_VERSION, sys.version_info[:2], _FIELDS)
            atomic_write(
                index_file, marshal.dumps({"version": version, "files": fresh})
            )
        except (OSError, ValueError):
            pass  # a cache that cannot be written (or holds an odd value) is only slower
    return rows


# --- filtering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """What `labpath journal list|search|export` selects; every given filter must hold."""

    text: tuple[str, ...] = ()  # each word or phrase must appear (case-insensitive)
    tags: tuple[str, ...] = ()  # each tag must be on the entry
    lab: str | None = None
    task: str | None = None
    phase: int | None = None
    week: int | None = None
    type: str | None = None
    starred: bool = False
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None


def created_at(entry: JournalEntry) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(entry.created)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.astimezone()


def matches(entry: JournalEntry, q: Query) -> bool:
    """Whether one entry passes every filter of the query."""
    if q.starred and not entry.starred:
        return False
    if q.type and entry.type != q.type:
        return False
    if q.lab and entry.lab != q.lab:
        return False
    if q.task and entry.task != q.task:
        return False
    if q.phase is not None and entry.phase != q.phase:
        return False
    if q.week is not None and entry.week != q.week:
        return False
    if q.tags:
        have = {t.lower().lstrip("#@") for t in entry.tags}
        if not all(t.lower().lstrip("#@") in have for t in q.tags):
            return False
    if q.since or q.until:
        when = created_at(entry)
        if when is None:
            return False
        if q.since and when < q.since:
            return False
        if q.until and when > q.until:
            return False
    if q.text:
        hay = " ".join((entry.title, entry.body, " ".join(entry.tags))).lower()
        if not all(word.lower() in hay for word in q.text):
            return False
    return True


def select(entries: list[JournalEntry], q: Query) -> list[JournalEntry]:
    """The entries matching q, newest first, at most q.limit of them."""
    hits = [e for e in entries if matches(e, q)]
    hits.sort(
        key=lambda e: (
            created_at(e) or dt.datetime.min.replace(tzinfo=dt.timezone.utc),
            e.id,
        ),
        reverse=True,
    )
    return hits[: q.limit] if q.limit else hits


# --- finding one entry ------------------------------------------------------------------


def find(entries: list[JournalEntry], ref: str) -> JournalEntry:
    """The entry an id (or id prefix, or file-name part) names; 'last' is the newest."""
    if not entries:
        raise UsageError(
            "the journal is empty", hint='add an entry: labpath log "what clicked"'
        )
    ref = ref.strip()
    if ref in ("last", "latest", "-1"):
        return select(entries, Query(limit=1))[0]
    key = ref.upper()
    hits = [e for e in entries if e.id.upper() == key]
    if len(hits) > 1:  # two files claim one id (a copy, a merge): name one by its file
        names = ", ".join(Path(e.path).stem for e in hits if e.path)
        raise UsageError(
            f"{len(hits)} journal entries have the id {hits[0].id} ({names})",
            hint="name one by its file: labpath journal show "
            f"{Path(hits[0].path).stem if hits[0].path else 'FILE'}",
        )
    if not hits:
        hits = [e for e in entries if e.path and Path(e.path).stem == ref]
    if not hits:
        hits = [e for e in entries if e.id.upper().startswith(key)]
    if not hits and len(ref) >= 3:
        hits = [
            e for e in entries if e.path and ref.lower() in Path(e.path).name.lower()
        ]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UsageError(
            f"no journal entry '{ref}'",
            hint="list entries with their ids: labpath journal list",
        )
    ids = ", ".join(e.id[:12] for e in hits[:5])
    raise UsageError(
        f"'{ref}' matches {len(hits)} entries ({ids}{', ...' if len(hits) > 5 else ''})",
        hint="give more characters of the id: labpath journal show ID",
    )


# --- export ------------------------------------------------------------------------------


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


# --- rewriting an entry --------------------------------------------------------------------


def rewrite(path: Path, text: str) -> None:
    """Replace an entry file atomically (readers see the old or the new text)."""
    from labpath.fsutil import atomic_write

    atomic_write(path, text)


def edited(original: JournalEntry, new_text: str, now: dt.datetime) -> JournalEntry:
    """The entry after the learner edited its file text; keeps id, created and unknown keys.

    A front matter that no longer parses is an error, so nothing is written.
    """
    import yaml

    try:
        front, body = parse(new_text)
    except AliasRefused:
        raise UsageError(
            "the edited front matter uses YAML anchors or aliases; nothing saved"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UsageError(
            f"the edited front matter is not valid YAML{where}; nothing saved"
        ) from None
    if new_text.startswith("---\n") and not front:
        raise UsageError("the edited front matter is not a YAML mapping; nothing saved")
    if not body.strip():
        raise UsageError(
            "the edited entry has no text; nothing saved",
            hint=f"to remove an entry, delete its file and commit: git rm {original.path}",
        )
    fresh = from_text(new_text, original.path)
    title = fresh.title
    if (
        str(front.get("title") or "") == original.title
        and title_of(body) != original.title
    ):
        title = title_of(body)  # the first line changed and the title was not touched
    return JournalEntry(
        **{
            **fresh.__dict__,
            "id": original.id,  # review history and links are keyed by the id
            "created": original.created if not front.get("created") else fresh.created,
            "title": title,
            "modified": now.replace(microsecond=0).isoformat(),
        }
    )


# --- workspace-level operations (what the commands call) ------------------------------------


def index_file(ws) -> Path:
    """The rebuildable search cache; .labpath/tmp/ is git-ignored in every workspace."""
    return ws.state_dir / "tmp" / "cache" / "journal-index.json"


def entries(ws, problems: list | None = None) -> list[JournalEntry]:
    return load_all(ws.journal_dir, index_file(ws), problems)


def search(ws, q: Query, problems: list | None = None) -> list[JournalEntry]:
    """The workspace's entries matching q, newest first.

    Filters run on light named tuples; only the entries returned become dataclasses.
    """
    import collections

    view = collections.namedtuple("EntryView", _FIELDS)
    rows = load_rows(ws.journal_dir, index_file(ws), problems)
    hits = select([view._make(r) for r in rows], q)
    return [JournalEntry(*h) for h in hits]


@dataclass(frozen=True)
class EditResult:
    entry: JournalEntry
    changed: bool
    commit: str | None = None
    notices: tuple[str, ...] = ()


def edit_entry(ws, ref: str, edit_text, now: dt.datetime | None = None) -> EditResult:
    """Let the learner edit an entry's file text (edit_text: str -> str), then commit it.

    edit_text is the editor, injected so tests can play the learner.
    """
    from labpath import vcs
    from labpath.fsutil import atomic_write, locked

    vcs.open_repo(ws.root)
    entry = find(entries(ws), ref)
    path = Path(entry.path)
    before = path.read_text(encoding="utf-8")
    after = edit_text(before)
    if after is None or after.strip() == before.strip():
        return EditResult(entry, False)
    now = now or dt.datetime.now().astimezone()
    try:
        new = edited(entry, after, now)
    except UsageError as exc:
        keep = ws.state_dir / "tmp" / f"edit-{entry.id}.md"
        atomic_write(keep, after)
        raise UsageError(exc.message, hint=f"your text is kept in {keep}; fix it there and "
                         f"copy it over {path}, or run `labpath journal edit {entry.id[:12]}` "
                         "again") from None  # fmt: skip
    notices = []
    if str(parse(after)[0].get("id", entry.id)) != entry.id:
        notices.append(f"kept the entry's id {entry.id}: review history is tied to it")
    with locked(ws.lock_file):
        if path.read_text(encoding="utf-8") != before:
            raise UsageError(
                f"{path} changed while you were editing it; nothing saved",
                hint=f"run `labpath journal edit {entry.id[:12]}` again",
            )
        rewrite(path, render(new))
        result = vcs.commit_paths(ws.root, [path], f'journal: edit "{new.title[:50]}"')
    if result.warning:
        notices.append(result.warning)
    return EditResult(new, True, result.sha, tuple(notices))


def set_star(ws, ref: str, starred: bool) -> EditResult:
    """Star or unstar an entry in place, keeping every other key."""
    from labpath import vcs
    from labpath.fsutil import locked

    vcs.open_repo(ws.root)
    entry = find(entries(ws), ref)
    if entry.starred == starred:
        return EditResult(entry, False)
    new = JournalEntry(**{**entry.__dict__, "starred": starred})
    path = Path(entry.path)
    with locked(ws.lock_file):
        rewrite(path, render(new))
        verb = "star" if starred else "unstar"
        result = vcs.commit_paths(
            ws.root, [path], f'journal: {verb} "{new.title[:50]}"'
        )
    return EditResult(
        new, True, result.sha, (result.warning,) if result.warning else ()
    )


def editor_function(editor: str, tmp_dir: Path):
    """An edit_text function that opens the learner's editor on the text."""
    from labpath import editor as editors

    return editors.function(editor, tmp_dir)


def make_query(
    text=(),
    tags=(),
    lab=None,
    task=None,
    phase=None,
    week=None,
    type=None,
    starred=False,
    since=None,
    until=None,
    limit=None,
    now: dt.datetime | None = None,
) -> Query:
    """A Query from command-line strings; bad dates, types and counts are usage errors."""
    now = now or dt.datetime.now().astimezone()
    if type is not None and type not in ENTRY_TYPES:
        raise UsageError(
            f"unknown entry type '{type}'", hint=f"types: {', '.join(ENTRY_TYPES)}"
        )
    if limit is not None and limit < 1:
        raise UsageError("-n must be at least 1")
    start, end = dates.period(since, until, now, why=": nothing can match")
    words = tuple(w for w in (text or ()) if w.strip())
    return Query(
        text=words, tags=tuple(t.lstrip("#@") for t in (tags or ())), lab=lab, task=task,
        phase=phase, week=week, type=type, starred=starred, since=start, until=end,
        limit=limit,
    )  # fmt: skip


def export(
    ws, q: Query, fmt: str, title: str = "Journal", out: str | None = None
) -> str:
    """The selected entries as Markdown or JSON text; written atomically to out if given."""
    import json

    from labpath.fsutil import atomic_write

    found = search(ws, q)
    target = Path(out).expanduser().resolve() if out else None
    if target is not None and target.is_dir():
        raise UsageError(
            f"--out {out} is a folder", hint=f"give a file: --out {out}/journal.{fmt}"
        )
    if fmt == "json":
        text = json.dumps(to_json(found, ws.root), indent=2, ensure_ascii=False) + "\n"
    else:
        base = target.parent if target else Path.cwd()
        text = to_markdown(found, title, ws.root, base)
    if target is not None:
        atomic_write(target, text)
    return text


def tag_counts(entries) -> list[tuple[str, int]]:
    """Every tag with its number of entries, most used first (jrnl's --tags)."""
    counts: dict[str, int] = {}
    for e in entries:
        for t in e.tags:
            counts[t] = counts.get(t, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
