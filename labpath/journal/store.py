"""Where entries live on disk: their paths, the no-clobber write, the scan and the index."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import stat
from pathlib import Path

from labpath.journal.entry import FIELDS, JournalEntry, read_checked, render, slugify

INDEX_VERSION = 5

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
    from labpath.fsutil import (
        file_mode,
        fresh_file,
        sweep,
        sync_folder,
        test_pause,
        write_synced,
    )

    while True:
        path = entry_path(journal_dir, created, entry.title)
        stored = dataclasses.replace(entry, path=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep(path.parent, ".entry-*.tmp")
        fd, tmp = fresh_file(path.parent, ".entry-", ".tmp")
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


def entry_names(journal_dir: Path, keep=None, containing: str = "") -> list[Path]:
    """The entry files' paths under journal/YYYY/MM/, from the folder listings alone
    (no stat of each file: links are not told apart here). keep(name), when given,
    picks the file names wanted; only those become paths. With containing, a folder
    none of whose names holds that text is passed over in one scan of its listing."""
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
            if containing and containing not in "/".join(names):
                continue
            found.extend(
                folder / n
                for n in names
                if n.endswith(".md") and n[0] != "." and (keep is None or keep(n))
            )
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
) -> tuple[list[str], list[tuple[int, int]]]:
    """Every entry file under journal/YYYY/MM/ with its (mtime_ns, size), by path;
    links skipped (and noted)."""
    if not journal_dir.is_dir():
        return [], []
    candidates: list[str] = []
    for year in sorted(os.scandir(journal_dir), key=_name):
        if year.name.startswith(".") or not year.is_dir():
            continue
        if year.is_symlink():
            _note(problems, year.path, LINKED)
            continue
        for month in sorted(os.scandir(year.path), key=_name):
            if month.name.startswith(".") or not month.is_dir():
                continue
            if month.is_symlink():
                _note(problems, month.path, LINKED)
                continue
            # names from the listing, then one lstat each through map(): the stat
            # calls are the floor, and a DirEntry per file doubled the time
            head = month.path + os.sep
            candidates.extend(
                head + n
                for n in os.listdir(month.path)
                if n.endswith(".md") and not n.startswith(".")
            )
    candidates.sort()  # by path, as the files were always read
    try:
        stats = list(map(os.lstat, candidates))
    except OSError:  # one vanished meanwhile: ask again, one by one
        stats = [_lstat(p) for p in candidates]
    paths: list[str] = []
    stamps: list[tuple[int, int]] = []
    for path, st in zip(candidates, stats):
        if st is None:
            continue
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            _note(problems, path, LINKED)
        elif stat.S_ISREG(mode):
            paths.append(path)
            stamps.append((st.st_mtime_ns, st.st_size))
    return paths, stamps


def _lstat(path: str):
    try:
        return os.lstat(path)
    except OSError:
        return None


def _name(entry) -> str:
    return entry.name


def _note(problems: list | None, path: str, what: str) -> None:
    if problems is not None:
        problems.append(f"{path}: {what}")


def _row(entry: JournalEntry) -> tuple:
    """The entry as a tuple of plain values in field order, for the index."""
    return tuple(getattr(entry, f) for f in FIELDS)


def haystack(entry) -> str:
    """The text a search looks in: title, body and tags, lower case (query.matches)."""
    return " ".join((entry.title, entry.body, " ".join(entry.tags))).lower()


def sort_key(entry) -> tuple[float, str]:
    """Newest first is this key, descending: the creation instant, then the id."""
    from labpath.journal.entry import created_at

    when = created_at(entry)
    return (when.timestamp() if when else float("-inf"), entry.id)


class Index:
    """The journal's entries as the search cache holds them, one list per field.

    paths and stamps (mtime_ns, size) are in file-name order; rows are each entry's
    field tuple, marshalled (decoded only for the entries a command returns); hay the
    lower-case text a search looks in; order the entries newest first.
    """

    def __init__(self, paths, stamps, rows, hay, problems, keys, order, offsets=None):
        self.paths = paths
        self.stamps = stamps
        # a list of marshalled rows, or (read back) all of them in one bytes object
        # with their offsets: one object to load rather than one per entry
        self.rows = rows
        self._offsets = offsets
        self.hay = hay
        self.problems = problems  # {path: what is wrong with the file}
        self._keys = keys  # marshalled [(timestamp, id)], decoded when rebuilding
        self._order = order  # bytes of an array of int32

    def __len__(self) -> int:
        return len(self.paths)

    def keys(self) -> list:
        import marshal

        if isinstance(self._keys, bytes):
            self._keys = marshal.loads(self._keys)
        return self._keys

    def order(self):
        from array import array

        if isinstance(self._order, bytes):
            self._order = array("i", self._order)
        return self._order

    def offsets(self):
        from array import array

        if isinstance(self._offsets, bytes):
            self._offsets = array("q", self._offsets)
        return self._offsets

    def raw(self, i: int):
        """Entry i's row as stored: marshalled bytes (or the tuple, if marshal could
        not hold it)."""
        if self._offsets is None:
            return self.rows[i]
        off = self.offsets()
        return self.rows[off[i] : off[i + 1]]

    def row(self, i: int) -> tuple:
        import marshal

        row = self.raw(i)
        return marshal.loads(row) if isinstance(row, bytes) else row

    def dump(self) -> bytes:
        import marshal
        import sys
        from array import array

        keys = (
            self._keys if isinstance(self._keys, bytes) else marshal.dumps(self._keys)
        )
        order = self.order().tobytes()
        if self._offsets is None:
            if not all(isinstance(r, bytes) for r in self.rows):
                raise ValueError("a front-matter value that marshal cannot hold")
            off = array("q", [0])
            total = 0
            for r in self.rows:
                total += len(r)
                off.append(total)
            blob = b"".join(self.rows)
        else:
            blob, off = self.rows, self.offsets()
        return marshal.dumps(
            {
                "version": (INDEX_VERSION, sys.version_info[:2], FIELDS),
                "paths": self.paths,
                "stamps": self.stamps,
                "rows": blob,
                "offsets": off.tobytes(),
                "hay": self.hay,
                "problems": self.problems,
                "keys": keys,
                "order": order,
            }
        )


def _read_index(index_file: Path) -> Index | dict:
    """The cached index, or {} when it is missing, stale in format, or corrupt."""
    import marshal
    import sys

    try:
        data = marshal.loads(index_file.read_bytes())
        if data.get("version") == (INDEX_VERSION, sys.version_info[:2], FIELDS):
            ix = Index(
                data["paths"],
                data["stamps"],
                data["rows"],
                data["hay"],
                data["problems"],
                data["keys"],
                data["order"],
                data["offsets"],
            )
            n = len(ix.paths)
            if len(ix.stamps) == n == len(ix.hay) == len(ix.offsets()) - 1:
                return ix
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
    """Every entry as a field tuple, in file-name order (see load_index)."""
    ix = load_index(journal_dir, index_file, problems)
    return [ix.row(i) for i in range(len(ix))]


def load_index(
    journal_dir: Path, index_file: Path | None = None, problems: list | None = None
) -> Index:
    """Every entry; parsed files are cached in index_file by mtime and size.

    The index is a rebuildable cache outside git (marshal: fast to load, and it can
    hold only plain values): a missing, stale or corrupt index only costs a re-read
    of the files that changed. What is wrong with a file is appended to problems.
    """
    import marshal
    from array import array

    paths, stamps = _scan(journal_dir, problems)
    cached = (
        _read_index(index_file)
        if index_file is not None and index_file.is_file()
        else {}
    )
    if isinstance(cached, Index) and cached.paths == paths and cached.stamps == stamps:
        for path in paths:  # nothing changed: the common case, and the quick one
            if path in cached.problems:
                _note(problems, path, cached.problems[path])
        return cached
    known = {}
    if isinstance(cached, Index):
        keys = cached.keys()
        known = {
            p: (cached.stamps[i], cached.raw(i), cached.hay[i], keys[i])
            for i, p in enumerate(cached.paths)
        }
    kept_paths, kept_stamps, rows, hay, keys_out = [], [], [], [], []
    found: dict[str, str] = {}
    old_problems = cached.problems if isinstance(cached, Index) else {}
    for path, stamp in zip(paths, stamps):
        hit = known.get(path)
        if hit is not None and hit[0] == stamp:
            row, text, key = hit[1], hit[2], hit[3]
            problem = old_problems.get(path)
        else:
            try:
                entry, problem = read_checked(path)
            except OSError as exc:
                _note(problems, path, f"it cannot be read ({exc.strerror or exc})")
                continue
            try:
                row = marshal.dumps(_row(entry))
            except ValueError:  # a value marshal cannot hold: this index is not saved
                row = _row(entry)
            text, key = haystack(entry), sort_key(entry)
        if problem:
            _note(problems, path, problem)
            found[path] = problem
        kept_paths.append(path)
        kept_stamps.append(stamp)
        rows.append(row)
        hay.append(text)
        keys_out.append(key)
    order = sorted(range(len(kept_paths)), key=keys_out.__getitem__, reverse=True)
    ix = Index(
        kept_paths, kept_stamps, rows, hay, found, keys_out, array("i", order).tobytes()
    )
    if index_file is not None:
        from labpath.fsutil import atomic_write

        try:
            atomic_write(index_file, ix.dump(), cache=True)
        except (OSError, ValueError):
            pass  # a cache that cannot be written (or holds an odd value) is only slower
    return ix
