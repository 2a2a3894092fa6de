"""Where entries live on disk: their paths, the no-clobber write, the scan and the index."""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import os
import stat
from pathlib import Path

from labpath.errors import EnvironmentFailure
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


class _Scan:
    """The journal's entry files as the folders list them, each with its lstat.

    listing is every month folder's path followed by its entry names, in the order
    the folders list them (NUL-separated): with sig, the (mtime_ns, size, mode) of
    each name in that order, it is what the index is checked against. Comparing the
    listing as the folders give it, rather than sorted, and the stats as one marshalled
    blob, leaves the lstat calls as the only per-entry work when nothing changed.
    """

    __slots__ = ("listing", "names", "stats", "sig")

    def __init__(
        self, listing: str, names: list[str], stats: list, whole: bool = True
    ) -> None:
        self.listing = listing
        self.names = names  # full paths, in listing order
        # os.stat_result, or None where a file vanished (then whole is False)
        self.stats = stats
        if whole:
            self.sig = list(map(_SIG, stats))
        else:
            self.sig = [None if st is None else _SIG(st) for st in stats]

    def entries(self, problems: list | None) -> tuple[list[str], list[tuple[int, int]]]:
        """The regular files by path, with (mtime_ns, size); links noted, not read."""
        paths: list[str] = []
        stamps: list[tuple[int, int]] = []
        for path, st in sorted(zip(self.names, self.stats), key=operator.itemgetter(0)):
            if st is None:
                continue
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                _note(problems, path, LINKED)
            elif stat.S_ISREG(mode):
                paths.append(path)
                stamps.append((st.st_mtime_ns, st.st_size))
        return paths, stamps


# what an entry file's lstat says of it, as the index records it
_SIG = operator.attrgetter("st_mtime_ns", "st_size", "st_mode")


def _scan(journal_dir: Path, problems: list | None = None) -> _Scan:
    """Every candidate entry file under journal/YYYY/MM/ with its lstat; linked year
    or month folders are skipped (and noted)."""
    parts: list[str] = []
    names: list[str] = []
    if not journal_dir.is_dir():
        return _Scan("", names, [])
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
            found = [
                n
                for n in os.listdir(month.path)
                if n.endswith(".md") and not n.startswith(".")
            ]
            parts.append(month.path)  # a folder's part holds a "/", a name's never
            parts.extend(found)
            head = month.path + os.sep
            names.extend([head + n for n in found])
    try:
        return _Scan("\0".join(parts), names, list(map(os.lstat, names)))
    except OSError:  # one vanished meanwhile: ask again, one by one
        stats = [_lstat(p) for p in names]
        return _Scan("\0".join(parts), names, stats, whole=False)


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
    """The journal's entries as the search cache holds them.

    Entry i is the i-th file in path order. Each bulk field is one blob, read from
    the index file only when a command needs it, and decoded only where it must be:

    - listing and sig: the _Scan the index was built from. While both are the same,
      nothing in the journal changed.
    - rows: every entry's field tuple, marshalled, end to end, with their offsets. A
      command reads and decodes only the ones it returns.
    - hay: the lower-case text a search looks in, UTF-8, newest first, end to end,
      with its offsets. A word is looked for in the bytes, never decoded.
    - order: the entries newest first; keys: what that order sorts by.
    - paths and stamps (mtime_ns, size): what the next rebuild reuses.
    """

    def __init__(self, count: int, problems: dict, blobs: dict, fd=None) -> None:
        self._count = count
        self.problems = problems  # {path: what is wrong with the file}
        # name -> bytes, or (offset, length) in the file open as fd
        self._blobs = blobs
        self._fd = fd
        self._decoded: dict = {}
        self._loose: list | None = None  # the rows, when one is not marshalled

    def __del__(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass

    @classmethod
    def build(cls, scan: _Scan, paths, stamps, rows, hay, problems, keys) -> Index:
        import marshal
        from array import array

        # a row marshal could not hold stays a tuple, and this index is not saved
        loose = None if all(isinstance(r, bytes) for r in rows) else list(rows)
        order = sorted(range(len(paths)), key=keys.__getitem__, reverse=True)
        ranked = [hay[i] for i in order]
        blobs = {
            "listing": _utf8(scan.listing),
            "sig": marshal.dumps(scan.sig),
            "paths": _utf8("\0".join(paths)),
            "stamps": marshal.dumps(stamps),
            "rows": b"".join(rows) if loose is None else b"",
            "offsets": _offsets(rows) if loose is None else b"",
            "hay": b"".join(ranked),
            "hay_offsets": _offsets(ranked),
            "keys": marshal.dumps(keys),
            "order": array("i", order).tobytes(),
        }
        ix = cls(len(paths), problems, blobs)
        ix._loose = loose
        return ix

    def __len__(self) -> int:
        return self._count

    def blob(self, name: str) -> bytes:
        got = self._blobs[name]
        if isinstance(got, tuple):
            start, size = got
            got = self._blobs[name] = _pread(self._fd, size, start)
        return got

    def _piece(self, name: str, start: int, end: int) -> bytes:
        """blob(name)[start:end], read alone if the blob is still in the file."""
        got = self._blobs[name]
        if not 0 <= start <= end <= (got[1] if isinstance(got, tuple) else len(got)):
            raise IndexError(f"{name}[{start}:{end}] is outside the blob")
        if isinstance(got, tuple):
            return _pread(self._fd, end - start, got[0] + start)
        return got[start:end]

    def _array(self, name: str, code: str):
        got = self._decoded.get(name)
        if got is None:
            from array import array

            got = self._decoded[name] = array(code, self.blob(name))
        return got

    def _marshalled(self, name: str):
        got = self._decoded.get(name)
        if got is None:
            import marshal

            got = self._decoded[name] = marshal.loads(self.blob(name))
        return got

    def unchanged(self, scan: _Scan) -> bool:
        """Whether the journal is as it was when this index was built."""
        import marshal

        return self.blob("listing") == _utf8(scan.listing) and self.blob(
            "sig"
        ) == marshal.dumps(scan.sig)

    @property
    def paths(self) -> list[str]:
        got = self._decoded.get("paths")
        if got is None:
            text = self.blob("paths").decode("utf-8", "surrogatepass")
            got = self._decoded["paths"] = text.split("\0") if len(self) else []
        return got

    @property
    def stamps(self) -> list:
        return self._marshalled("stamps")

    def keys(self) -> list:
        return self._marshalled("keys")

    def order(self):
        return self._array("order", "i")

    def raw(self, i: int):
        """Entry i's field tuple, marshalled (or the tuple, if marshal could not
        hold it)."""
        if self._loose is not None:
            return self._loose[i]
        off = self._array("offsets", "q")
        return self._piece("rows", off[i], off[i + 1])

    def row(self, i: int) -> tuple:
        import marshal

        row = self.raw(i)
        return marshal.loads(row) if isinstance(row, bytes) else row

    def text(self, i: int) -> bytes:
        """Entry i's lower-case search text, UTF-8."""
        rank = self._decoded.get("rank")
        if rank is None:
            rank = self._decoded["rank"] = [0] * len(self)
            for r, k in enumerate(self.order()):
                rank[k] = r
        off = self._array("hay_offsets", "q")
        return self.blob("hay")[off[rank[i]] : off[rank[i] + 1]]

    def newest_with(self, words):
        """The entries whose text holds every word (in any case, as query.matches
        decides it for the entry's own strings), newest first, found as they are
        needed: the texts are stored newest first, end to end, so one pass of
        bytes.find through them is the walk, and a search with a limit stops early.
        """
        from bisect import bisect_right

        order = self.order()
        # the longest word first: the likeliest to be rare, and so to skip furthest
        needles = sorted({_utf8(w.lower()) for w in words} - {b""}, key=len)[::-1]
        if not needles:
            yield from order
            return
        first, others = needles[0], needles[1:]
        off = self._array("hay_offsets", "q")
        find = self.blob("hay").find
        size = len(first)
        pos = find(first)
        while pos >= 0:
            r = bisect_right(off, pos) - 1
            start, end = off[r], off[r + 1]
            if pos + size > end:  # it runs into the next entry's text: look on
                pos = find(first, pos + 1)
                continue
            if all(find(n, start, end) >= 0 for n in others):
                yield order[r]
            pos = find(first, end)

    def dump(self) -> bytes:
        """The index file: MAGIC, the header's length, the header (marshalled: the
        format, the count, the problems, where each blob is), then the blobs."""
        import marshal
        import sys

        if self._loose is not None:
            raise ValueError("a front-matter value that marshal cannot hold")
        names = list(_BLOBS)
        blobs = [self.blob(n) for n in names]
        where, at = {}, 0
        for name, data in zip(names, blobs):
            where[name] = (at, len(data))
            at += len(data)
        header = marshal.dumps(
            {
                "version": (INDEX_VERSION, sys.version_info[:2], FIELDS),
                "count": self._count,
                "problems": self.problems,
                "blobs": where,
            }
        )
        return b"".join([MAGIC, len(header).to_bytes(8, "little"), header, *blobs])


MAGIC = b"labpath journal index\n"
_BLOBS = ("listing", "sig", "paths", "stamps", "rows", "offsets", "hay",
          "hay_offsets", "keys", "order")  # fmt: skip


def _pread(fd: int, size: int, offset: int) -> bytes:
    try:
        data = os.pread(fd, size, offset)
    except OSError as exc:
        raise _Stale(f"the journal's search cache cannot be read ({exc})") from None
    if len(data) != size:  # cut short in place (labpath only ever replaces it)
        raise _Stale("the journal's search cache was cut short while it was read")
    return data


class _Stale(EnvironmentFailure):
    """The index file is not what its header says: the command rebuilds the index
    from the entry files (read_through), so this never reaches the learner."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message, hint="run the command again: the cache is rebuilt from the entries"
        )


def _utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate (from an undecodable argument or file name)
    # stays one character, so a substring of the bytes is exactly one of the text
    return text.encode("utf-8", "surrogatepass")


def _offsets(chunks: list[bytes]) -> bytes:
    from array import array
    from itertools import accumulate

    return array("q", [0, *accumulate(map(len, chunks))]).tobytes()


def _read_index(index_file: Path) -> Index | dict:
    """The cached index, or {} when it is missing, stale in format, or corrupt.

    Only the header is read here; each blob is read when it is first needed, from the
    same open file (a writer replaces the file, never rewrites it: it stays whole)."""
    import marshal
    import sys

    try:
        fd = os.open(index_file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return {}
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, len(MAGIC) + 8, 0)
        if head[: len(MAGIC)] != MAGIC:
            raise ValueError("not an index")
        length = int.from_bytes(head[len(MAGIC) :], "little")
        base = len(MAGIC) + 8 + length
        if base > size:
            raise ValueError("truncated")
        data = marshal.loads(_pread(fd, length, len(MAGIC) + 8))
        if data.get("version") != (INDEX_VERSION, sys.version_info[:2], FIELDS):
            raise ValueError("another format")
        n, problems, where = data["count"], data["problems"], data["blobs"]
        if not (isinstance(n, int) and n >= 0 and isinstance(problems, dict)):
            raise ValueError("a bad header")
        blobs = {}
        for name in _BLOBS:
            start, length = where[name]
            if not (0 <= start and 0 <= length and base + start + length <= size):
                raise ValueError("a blob outside the file")
            blobs[name] = (base + start, length)
        if not (
            where["offsets"][1] == where["hay_offsets"][1] == 8 * (n + 1)
            and where["order"][1] == 4 * n
        ):
            raise ValueError("counts that disagree")
        return Index(n, problems, blobs, fd)
    except (ValueError, EOFError, TypeError, OSError, KeyError, _Stale):
        os.close(fd)
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

    def rows(ix: Index) -> list[tuple]:
        ix.blob("rows")  # read once, not one piece per entry
        return [ix.row(i) for i in range(len(ix))]

    return read_through(journal_dir, index_file, problems, rows)


# what reading a saved index whose header was sound but whose blobs were scribbled
# on can raise: marshal's errors, an index out of range, a row of the wrong shape
UNREADABLE = (ValueError, EOFError, TypeError, IndexError, KeyError)


def read_through(journal_dir: Path, index_file: Path | None, problems, use):
    """use(index): if what the saved index holds cannot be decoded, the index is
    rebuilt from the entry files alone and use runs again."""
    noted: list = []
    try:
        got = use(load_index(journal_dir, index_file, noted))
    except (*UNREADABLE, _Stale):
        noted = []
        got = use(load_index(journal_dir, index_file, noted, reuse=False))
    if problems is not None:
        problems.extend(noted)
    return got


def load_index(
    journal_dir: Path,
    index_file: Path | None = None,
    problems: list | None = None,
    reuse: bool = True,
) -> Index:
    """Every entry; parsed files are cached in index_file by mtime and size.

    The index is a rebuildable cache outside git (marshal: fast to load, and it can
    hold only plain values): a missing, stale or corrupt index only costs a re-read
    of the files that changed. What is wrong with a file is appended to problems.
    With reuse False the saved index is not read, only replaced.
    """
    import marshal

    scan = _scan(journal_dir, problems)
    cached = (
        _read_index(index_file)
        if reuse and index_file is not None and index_file.is_file()
        else {}
    )
    if isinstance(cached, Index) and _unchanged(cached, scan):
        # nothing changed: the common case, and the quick one
        for path, what in cached.problems.items():
            _note(problems, path, what)
        return cached
    paths, stamps = scan.entries(problems)
    known = _reusable(cached) if isinstance(cached, Index) else {}
    kept_paths, kept_stamps, rows, hay, keys_out = [], [], [], [], []
    found: dict[str, str] = {}
    for path, stamp in zip(paths, stamps):
        hit = known.get(path)
        if hit is not None and hit[0] == stamp:
            row, text, key, problem = hit[1:]
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
            text, key = _utf8(haystack(entry)), sort_key(entry)
        if problem:
            _note(problems, path, problem)
            found[path] = problem
        kept_paths.append(path)
        kept_stamps.append(stamp)
        rows.append(row)
        hay.append(text)
        keys_out.append(key)
    links = {p: LINKED for p, st in zip(scan.names, scan.stats) if _is_link(st)}
    ix = Index.build(
        scan, kept_paths, kept_stamps, rows, hay, {**links, **found}, keys_out
    )
    if index_file is not None:
        from labpath.fsutil import atomic_write

        try:
            atomic_write(index_file, ix.dump(), cache=True)
        except (OSError, ValueError):
            pass  # a cache that cannot be written is only slower
    return ix


def _reusable(cached: Index) -> dict:
    """{path: (stamp, row, text, key, problem)} of every entry the cached index holds,
    or {} if it cannot be read whole."""
    try:
        for name in ("rows", "hay"):
            cached.blob(name)  # each read once, not one piece per entry
        keys, stamps, problems = cached.keys(), cached.stamps, cached.problems
        return {
            p: (
                stamps[i],
                cached.raw(i),
                cached.text(i),
                keys[i],
                problems.get(p),
            )
            for i, p in enumerate(cached.paths)
        }
    except (ValueError, EOFError, TypeError, IndexError, OSError, _Stale):
        return {}


def _unchanged(cached: Index, scan: _Scan) -> bool:
    try:
        return cached.unchanged(scan)
    except (OSError, _Stale):
        return False


def _is_link(st) -> bool:
    return st is not None and stat.S_ISLNK(st.st_mode)
