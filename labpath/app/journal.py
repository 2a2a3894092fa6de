"""Use cases of the journal: log, list and search, show, edit, star, tags, export."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from labpath import editor as editors
from labpath import journal, progress
from labpath.app.context import Context, open_workspace, refreshed
from labpath.app.results import Notice, info, plain, warnings
from labpath.curriculum import Task
from labpath.errors import UsageError, did_you_mean
from labpath.fsutil import locked
from labpath.structs import struct
from labpath.workspace import Workspace


@struct
class Filters:
    """The journal filters as typed on the command line."""

    text: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    lab: str | None = None
    task: str | None = None
    phase: int | None = None
    week: int | None = None
    type: str | None = None
    starred: bool = False
    since: str | None = None
    until: str | None = None
    n: int | None = None

    def query(self) -> journal.Query:
        return journal.make_query(
            self.text or (),
            self.tag or (),
            self.lab,
            self.task,
            self.phase,
            self.week,
            self.type,
            self.starred,
            self.since,
            self.until,
            self.n,
        )


def _editor(ws: Workspace, missing: str, hint: str) -> str:
    """The learner's editor: labpath.yaml, then $VISUAL, then $EDITOR."""
    from labpath import editor as editors

    editor = editors.resolve(ws.settings.editor)
    if not editor:
        raise UsageError(missing, hint=hint)
    return editor


# --- log -------------------------------------------------------------------------------


@struct
class LogResult:
    entry: journal.JournalEntry
    commit: str | None
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return {**plain(self.entry), "commit_saved": self.commit}


def entry_text(data: bytes | str, where: str) -> str:
    """Journal text as typed or piped: UTF-8, no NUL or terminal control bytes."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(
                f"the entry from {where} is not UTF-8 text (binary data?)",
                hint='pipe text: echo "what clicked" | labpath log -',
            ) from None
    bad = sorted({c for c in data if ord(c) < 32 and c not in "\t\n\r" or c == "\x7f"})
    if bad:
        raise UsageError(
            f"the entry from {where} holds control characters "
            f"({', '.join(f'0x{ord(c):02x}' for c in bad[:5])}); nothing saved",
            hint="remove them (binary data is not journal text) and log it again",
        )
    return data


def log_entry(
    ctx: Context,
    text: str | bytes | None,
    where: str,
    tags: list[str],
    lab_id: str | None = None,
    entry_type: str = "aha",
    starred: bool = False,
    attach_run: str | None = None,
) -> LogResult:
    """`labpath log`: the text given (or piped), else written in the editor, saved."""
    if attach_run is not None:  # an unknown run fails before the editor opens
        _run_to_attach(ctx.workspace, attach_run)
    if text is not None:
        text = entry_text(text, where)
    else:
        editor = _editor(
            ctx.workspace,
            "no entry text given and no editor set",
            'pass it: labpath log "what clicked", pipe it: ... | labpath log -, '
            "or set $EDITOR",
        )
        current = last_worked(ctx) or ctx.current
        about = f"task: {current.id}" if current else "all tasks done"
        text = journal.compose_in_editor(
            editor, journal.editor_template(about), ctx.workspace.state_dir / "tmp"
        )
    return log(
        ctx,
        text,
        tags,
        lab_id=lab_id,
        entry_type=entry_type,
        starred=starred,
        attach_run=attach_run,
    )


def what_clicked(ctx: Context, lab_id: str, answer: str) -> LogResult:
    """After a first pass: the learner's answer kept as an aha entry about the lab."""
    # the entry records the check that just passed
    return log(refreshed(ctx), answer, [], lab_id=lab_id, entry_type="aha")


def log(
    ctx: Context,
    text: str,
    tags: list[str],
    lab_id: str | None = None,
    entry_type: str = "aha",
    starred: bool = False,
    when: dt.datetime | None = None,
    attach_run: str | None = None,
) -> LogResult:
    """Save one journal entry tied to the current work and commit that file alone.

    attach_run names a training run (see labpath.runs.find_run) whose plots are copied
    under journal/runs/ and committed with the entry.
    """
    from labpath import gitcmd, vcs

    ws = ctx.workspace
    text = (text or "").strip()
    if not text:
        raise UsageError(
            "the entry is empty; nothing saved", hint='labpath log "what clicked"'
        )
    if entry_type not in journal.ENTRY_TYPES:
        raise UsageError(f"unknown entry type '{entry_type}'")
    # fail before writing anything when git is unusable; one `git rev-parse`, and
    # GitPython only for a repository that rev-parse cannot read. It runs while the
    # entry is put together.
    asked = gitcmd.ask_repo(ws.root)
    try:
        entry, run, copies, when = _new_entry(
            ctx, text, tags, lab_id, entry_type, starred, when, attach_run
        )
    except BaseException:
        asked.stop()
        raise
    repo = vcs.ready_repo(ws.root, asked)
    head = vcs.head(ws.root) if repo is None else repo.head
    entry = dataclasses.replace(entry, commit=head)
    notices = []
    with locked(ws.lock_file):
        stored = _unsaved_twin(ws, entry, repo)
        if stored is not None:
            notices.append(
                f"this entry was already saved as {stored.path} by an earlier "
                "`labpath log` whose commit failed; committing that one"
            )
        else:
            if run is not None:
                from labpath import runs

                runs.copy_plots(run, ws.journal_dir / "runs")
            stored = journal.write(ws.journal_dir, entry, when)
        result = vcs.commit_or_warn(
            ws.root,
            [Path(stored.path), *(ws.root / p for p in stored.plots)],
            f'log: {entry.type} "{entry.title[:50]}"',
            f"the entry ({stored.path})",
            quick=True,
            repo=repo,
        )
    notices.append(result.warning)
    attached = ()
    if run is not None:
        attached = info(
            f"attached {len(copies)} plot(s) of run {run.id}, copied to "
            f"{ws.journal_dir / 'runs' / run.id}"
        )
    return LogResult(stored, result.sha, attached + warnings(*notices))


def _new_entry(ctx, text, tags, lab_id, entry_type, starred, when, attach_run):
    """The entry log() saves, tied to the current work, but for HEAD: (entry, the run
    to attach, its plots' copies, the entry's time)."""
    ws = ctx.workspace
    if lab_id:
        task = ctx.curriculum.task_for_lab(lab_id)
        if task is None:
            known = sorted({t.lab for t in ctx.curriculum.tasks if t.lab})
            raise UsageError(
                f"no lab '{lab_id}' in the curriculum",
                hint=did_you_mean(lab_id, known) or f"labs: {', '.join(known)}",
            )
    else:
        task = last_worked(ctx) or ctx.current
    run = _run_to_attach(ws, attach_run) if attach_run is not None else None
    state = ctx.state(task) if task else None
    last = state.last_check if state else None
    check = None
    plots: tuple[str, ...] = ()
    if last:
        check = {
            k: last.get(k) for k in ("status", "passed", "total", "at") if k in last
        }
        # plots inside the workspace that still exist; they are committed
        plots = tuple(
            p
            for p in last.get("plots", ())
            if not Path(p).is_absolute() and (ws.root / p).is_file()
        )
    copies: list[Path] = []
    if run is not None:
        into = ws.journal_dir / "runs" / run.id
        copies = [into / p.relative_to(run.folder) for p in run.plots]
        rel = [str(c.relative_to(ws.root)) for c in copies]
        plots += tuple(r for r in rel if r not in plots)
    when = (when or dt.datetime.now()).astimezone().replace(microsecond=0)
    entry = journal.JournalEntry(
        id=journal.new_id(),  # to the millisecond, so entries of one second keep their order
        created=when.isoformat(),
        title=journal.title_of(text),
        body=text,
        type=entry_type,
        tags=tuple(dict.fromkeys(t.strip().lstrip("#") for t in tags if t.strip())),
        starred=starred,
        phase=task.phase if task else None,
        week=task.week if task else None,
        task=task.id if task else None,
        lab=lab_id or (task.lab if task else None),
        check=check,
        commit=None,  # HEAD, filled in once git has answered
        plots=plots,
    )
    return entry, run, copies, when


def _run_to_attach(ws: Workspace, ref: str):
    """The run `--attach-run` names, refused when it saved no plots."""
    from labpath import runs

    if not ref.strip():
        raise UsageError(
            "the run given to --attach-run is empty",
            hint="name one (labpath run --list), or give last",
        )
    run = runs.find_run(ws.state_dir, ref)
    if not run.plots:
        raise UsageError(
            f"run {run.id} saved no plots; nothing to attach",
            hint=f"its folder is {run.folder}; labpath run --list shows runs with plots",
        )
    return run


def last_worked(ctx: Context) -> Task | None:
    """The task of the lab the learner last checked or scaffolded, per the progress log."""
    events = progress.read_events(ctx.workspace.progress_file)
    for e in reversed(events):
        if e.get("event") == "check" and isinstance(e.get("lab"), str):
            task = ctx.curriculum.task_for_lab(e["lab"])
        elif e.get("event") in ("start", "reset"):
            task = next((t for t in ctx.curriculum.tasks if t.id == e["task"]), None)
        else:
            continue
        if task is not None:
            return task
    return None


def _unsaved_twin(ws: Workspace, entry: journal.JournalEntry, repo=None):
    """An uncommitted entry with the same text, left by a log whose commit failed.

    Such a file has the entry's title in its name (journal.entry_path), so only the
    files so named are read, and git is asked only about those with the same text
    (none, mostly).
    """
    import re

    from labpath import gitcmd, vcs

    def key(e):
        return (e.body, e.type, e.lab, e.task, e.tags, e.starred)

    slug = journal.slugify(entry.title)
    named = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}T\d{{6}}-{re.escape(slug)}(-\d+)?\.md")

    def same_title(name: str) -> bool:  # the substring test first: ten thousand names
        return slug in name and named.fullmatch(name) is not None

    candidates = [
        p
        for p in journal.entry_names(ws.journal_dir, same_title, containing=slug)
        if not p.is_symlink()
    ]
    twins = []
    for path in candidates:  # reading a few files is quicker than asking git
        try:
            old = journal.read_entry(path)
        except (OSError, UnicodeDecodeError):
            continue
        if key(old) == key(entry):
            twins.append((path, old))
    if not twins:
        return None
    paths = [p for p, _ in twins]
    if repo is None:
        left = {p.resolve() for p in vcs.uncommitted(ws.root, [ws.journal_dir])}
        fresh = {p for p in paths if p.resolve() in left}
    else:
        held = gitcmd.in_head(repo, paths)
        fresh = {p for p in paths if p not in held}
    return next((old for p, old in twins if p in fresh), None)


# --- reading ---------------------------------------------------------------------------


@struct
class EntryList:
    entries: tuple[journal.JournalEntry, ...]
    filtered: bool  # whether any filter was given (an empty list then means no match)
    root: Path
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return journal.to_json(list(self.entries), self.root)


def select(ws_path: str | None, filters: Filters) -> EntryList:
    """`journal list` and `journal search`: the entries that match, newest first."""
    ws = open_workspace(ws_path)
    q = filters.query()
    problems: list[str] = []
    found = journal.search(ws, q, problems)
    return EntryList(tuple(found), q != journal.Query(), ws.root, warnings(*problems))


@struct
class EntryShown:
    entry: journal.JournalEntry
    root: Path
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return journal.to_json([self.entry], self.root)["entries"][0]


def show(ws_path: str | None, ref: str) -> EntryShown:
    ws = open_workspace(ws_path)
    return EntryShown(journal.find(journal.entries(ws), ref), ws.root)


@struct
class Edited:
    entry: journal.JournalEntry
    changed: bool
    commit: str | None
    root: Path
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        entry = journal.to_json([self.entry], self.root)["entries"][0]
        return {"entry": entry, "changed": self.changed, "commit": self.commit}


def edit(ws_path: str | None, ref: str) -> Edited:
    """Open an entry in the editor, save it with a `modified` time and commit it."""
    ws = open_workspace(ws_path)
    editor = _editor(
        ws,
        "no editor set",
        "set $EDITOR (e.g. export EDITOR=nano) or `editor:` in labpath.yaml",
    )
    from labpath.app import journal_edit  # only edit and star: not on log's path

    result = journal_edit.edit_entry(
        ws, ref, editors.function(editor, ws.state_dir / "tmp")
    )
    return Edited(
        result.entry, result.changed, result.commit, ws.root, warnings(*result.notices)
    )


def star(ws_path: str | None, ref: str, starred: bool) -> Edited:
    from labpath.app import journal_edit

    ws = open_workspace(ws_path)
    result = journal_edit.set_star(ws, ref, starred)
    return Edited(result.entry, result.changed, result.commit, ws.root)


@struct
class TagCounts:
    counts: tuple[tuple[str, int], ...]
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return dict(self.counts)


def tags(ws_path: str | None, since: str | None, until: str | None) -> TagCounts:
    ws = open_workspace(ws_path)
    q = journal.make_query(since=since, until=until)
    return TagCounts(tuple(journal.tag_counts(journal.search(ws, q))))


@struct
class Exported:
    text: str
    out: str | None
    notices: tuple[Notice, ...] = ()


def export(
    ws_path: str | None, filters: Filters, fmt: str, title: str, out: str | None
) -> Exported:
    """The selected entries as one Markdown document or JSON, to a file or stdout."""
    if fmt not in journal.FORMATS:
        raise UsageError(
            f"--format {fmt}: expected md or json",
            hint="labpath journal export --format md",
        )
    ws = open_workspace(ws_path)
    return Exported(journal.export(ws, filters.query(), fmt, title, out), out)
