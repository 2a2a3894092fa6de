"""A journal entry and its file format: YAML front matter over a Markdown body."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from dataclasses import field
from pathlib import Path

from labpath.errors import UsageError
from labpath.structs import struct

ENTRY_TYPES = ("aha", "note", "failure", "review")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@struct
class JournalEntry:
    """One entry: its front-matter fields, its Markdown body, and the file it came from."""

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


FIELDS = tuple(JournalEntry.__dataclass_fields__)


def new_id(when: dt.datetime | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, sortable by time."""
    when = when or dt.datetime.now(dt.timezone.utc)
    # os.urandom is what secrets reads; importing secrets would also load hashlib and random
    noise = int.from_bytes(os.urandom(10), "big")
    value = (int(when.timestamp() * 1000) << 80) | noise
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


def render(entry: JournalEntry) -> str:
    """The file text: YAML front matter (stable key order) and the Markdown body."""
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
    head = _simple_dump(front)
    if head is None:
        import yaml

        head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{head}---\n\n{entry.body.strip()}\n"


def _simple_dump(front: dict) -> str | None:
    """Front matter of scalars and lists of text written without PyYAML (a tenth of
    `labpath log`'s start-up), or None for anything else. What it writes is read back
    by _simple_front, and so by YAML, as exactly `front`; it checks that it is."""
    lines = []
    for key, value in front.items():
        if isinstance(value, list):
            items = [_simple_text(v) for v in value]
            if None in items:
                return None
            lines.append(f"{key}: []" if not items else f"{key}:")
            lines += [f"- {item}" for item in items]
        elif isinstance(value, dict):  # the check's figures: a mapping of scalars
            if not value:
                lines.append(f"{key}: {{}}")
                continue
            lines.append(f"{key}:")
            for inner, item in value.items():
                text = _simple_item(item) if isinstance(inner, str) else None
                if text is None:
                    return None
                lines.append(f"  {inner}: {text}")
        elif (text := _simple_item(value)) is not None:
            lines.append(f"{key}: {text}")
        else:
            return None
    head = "\n".join(lines) + "\n"
    return head if _simple_front(head[:-1]) == front else None


def _simple_item(value) -> str | None:
    """A bool, an int or a string as one plain YAML scalar; None if not sure."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _simple_text(value)


def _simple_text(value) -> str | None:
    """A string as a plain or a single-quoted YAML scalar; None if neither is sure."""
    if not isinstance(value, str) or not value or len(value) > 200:
        return None
    if _simple_scalar(value) == value:
        return value
    quoted = "'" + value.replace("'", "''") + "'"
    return quoted if _simple_scalar(quoted) == value else None


class AliasRefused(ValueError):
    """Front matter with YAML anchors or aliases (a few lines can expand to gigabytes)."""


def parse(text: str) -> tuple[dict, str]:
    """Split an entry file into its front matter and body; anchors and aliases refused."""
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}, text
    simple = _simple_front(text[4:end])
    if simple is not None:  # what render() writes, read without YAML's machinery
        return simple, text[end + 5 :].lstrip("\n")
    import yaml

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


# The plain scalars YAML 1.1 (PyYAML's safe loader) reads as booleans or null; any other
# plain scalar that starts with a letter is a string (numbers, dates, .inf and the like
# start with a digit, a sign or a dot).
_NOT_TEXT = frozenset(
    "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF "
    "null Null NULL".split()
)
_TRUE = frozenset("yes Yes YES true True TRUE on On ON".split())
_NULL = frozenset("null Null NULL ~".split())
_SIMPLE_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?")
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_PLAIN_BAD = re.compile(r"[#\[\]{}&*!|>%@`\t]|: |:$")
_NUMBER = re.compile(r"0b[01]+|0[0-7]+|[0-9]+|0x[0-9a-fA-F]+")
_FAIL = object()


def _simple_scalar(v: str):
    """One scalar as PyYAML's safe loader reads it, or _FAIL when unsure."""
    if not v or v != v.strip() or not v.isprintable():
        return _FAIL
    first = v[0]
    if first.isalpha():  # text, a boolean or null: the common case, tested first
        if v in _NOT_TEXT:
            return v in _TRUE
        if v in _NULL:
            return None
        return _FAIL if _PLAIN_BAD.search(v) else v
    if first == "'":
        inner = v[1:-1]
        if len(v) < 2 or v[-1] != "'" or "'" in inner.replace("''", ""):
            return _FAIL
        return inner.replace("''", "'")
    if first == '"':
        inner = v[1:-1]
        if len(v) < 2 or v[-1] != '"' or '"' in inner or "\\" in inner:
            return _FAIL
        return inner
    if v == "[]":
        return []
    if v == "{}":
        return {}
    if _INT.fullmatch(v):
        return int(v)
    if v in _NULL:
        return None
    if first.isascii() and first.isdigit():
        # letters and digits alone (an id) are text unless they spell a number
        if not (v.isascii() and v.isalnum()) or _NUMBER.fullmatch(v):
            return _FAIL
        return v
    return _FAIL


def _simple_front(head: str) -> dict | None:
    """The front matter render() writes (keys, scalars, a list or a mapping of scalars
    under a key), parsed as YAML would; None for anything else, which YAML parses."""
    if not head:
        return {}
    lines = head.split("\n")
    out: dict = {}
    i, n = 0, len(lines)
    while i < n:
        m = _SIMPLE_KEY.fullmatch(lines[i])
        if m is None or m[1] in _NOT_TEXT or m[1] in out:
            return None
        i += 1
        if m[2] is not None:
            value = _simple_scalar(m[2])
            if value is _FAIL:
                return None
            out[m[1]] = value
            continue
        if i < n and lines[i].startswith("- "):
            items = []
            while i < n and lines[i].startswith("- "):
                item = _simple_scalar(lines[i][2:])
                if item is _FAIL or isinstance(item, (list, dict)):
                    return None
                items.append(item)
                i += 1
            out[m[1]] = items
        elif i < n and lines[i].startswith("  "):
            inner: dict = {}
            while i < n and lines[i].startswith("  "):
                k = _SIMPLE_KEY.fullmatch(lines[i][2:])
                if k is None or k[2] is None or k[1] in _NOT_TEXT or k[1] in inner:
                    return None
                value = _simple_scalar(k[2])
                if value is _FAIL or isinstance(value, (list, dict)):
                    return None
                inner[k[1]] = value
                i += 1
            out[m[1]] = inner
        else:
            out[m[1]] = None
    return out


# --- reading entries back -------------------------------------------------------------

# The keys labpath writes, in the order render() writes them.
KNOWN_KEYS = tuple(
    "id created type title tags starred phase week task lab check commit plots modified".split()
)


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
    if type(value) is str and value.isprintable():  # no control character to replace
        return value.strip()
    if isinstance(value, (dict, list, tuple, set)):
        return ""
    if isinstance(value, dt.date):
        value = _iso(value)
    return _LINE_CONTROL.sub(" ", str(value)).strip()


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
        created = _created_from_name(os.path.basename(path))
    plots = front.get("plots") or ()
    if isinstance(plots, str):
        plots = [plots]
    if not isinstance(plots, (list, tuple)):
        plots = ()
    stem = os.path.splitext(os.path.basename(path))[0] if path else ""
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


def read_checked(path: Path | str) -> tuple[JournalEntry, str | None]:
    """An entry and what is wrong with its file; invalid UTF-8 is read with U+FFFD."""
    with open(path, "rb") as f:
        data = f.read()
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


def created_at(entry: JournalEntry) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(entry.created)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.astimezone()


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
    return dataclasses.replace(
        fresh,
        id=original.id,  # review history and links are keyed by the id
        created=original.created if not front.get("created") else fresh.created,
        title=title,
        modified=now.replace(microsecond=0).isoformat(),
    )
