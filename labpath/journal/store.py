"""Where entries live on disk: their paths, the no-clobber write, the scan and the index."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

from labpath.journal.entry import FIELDS, JournalEntry, read_checked, render, slugify

INDEX_VERSION = 3

LINKED = "it is a symbolic link, and labpath does not follow links in the journal"


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

    from labpath.fsutil import file_mode, sweep, sync_folder, test_pause, write_synced

    while True:
        path = entry_path(journal_dir, created, entry.title)
        stored = dataclasses.replace(entry, path=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep(path.parent, ".entry-*.tmp")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".entry-", suffix=".tmp")
        os.fchmod(fd, file_mode(path))
        try:
            write_synced(fd, render(stored))
            test_pause("journal.write")
            # link() fails if the name exists: a second process logging in the same
            # second takes the next name instead of replacing this entry.
            os.link(tmp, path)
        except FileExistsError:
            continue
        finally:
            os.unlink(tmp)
        sync_folder(path.parent)
        return stored


def entry_files(journal_dir: Path) -> list[Path]:
    """Every entry file, oldest first by name."""
    if not journal_dir.is_dir():
        return []
    return sorted(p for p in journal_dir.glob("*/*/*.md") if not p.is_symlink())


def entry_names(journal_dir: Path) -> list[Path]:
    """The entry files' paths under journal/YYYY/MM/, from the folder listings alone
    (no stat of each file: links are not told apart here)."""
    found: list[Path] = []
    try:
        years = os.listdir(journal_dir)
    except OSError:
        return found
    for year in years:
        if year.startswith("."):
            continue
        try:
            months = os.listdir(journal_dir / year)
        except OSError:  # a file, not a folder
            continue
        for month in months:
            if month.startswith("."):
                continue
            folder = journal_dir / year / month
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            found.extend(folder / n for n in names if n.endswith(".md") and n[0] != ".")
    return found


def count(journal_dir: Path) -> int:
    return len(entry_files(journal_dir))


def rewrite(path: Path, text: str) -> None:
    """Replace an entry file atomically (readers see the old or the new text)."""
    from labpath.fsutil import atomic_write

    atomic_write(path, text)


def index_file(ws) -> Path:
    """The rebuildable search cache; .labpath/tmp/ is git-ignored in every workspace."""
    return ws.state_dir / "tmp" / "cache" / "journal-index.marshal"


def entries(ws, problems: list | None = None) -> list[JournalEntry]:
    return load_all(ws.journal_dir, index_file(ws), problems)


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


def _row(entry: JournalEntry) -> tuple:
    """The entry as a tuple of plain values in field order, for the index."""
    return tuple(getattr(entry, f) for f in FIELDS)


def _read_index(index_file: Path) -> dict:
    import marshal
    import sys

    try:
        data = marshal.loads(index_file.read_bytes())
        if data.get("version") == (INDEX_VERSION, sys.version_info[:2], FIELDS):
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
    width = len(FIELDS)
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
            version = (INDEX_VERSION, sys.version_info[:2], FIELDS)
            data = marshal.dumps({"version": version, "files": fresh})
            atomic_write(index_file, data, cache=True)
        except (OSError, ValueError):
            pass  # a cache that cannot be written (or holds an odd value) is only slower
    return rows
