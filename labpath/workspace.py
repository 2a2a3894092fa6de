"""Find, create and describe the learner's workspace (settings, layout, resolution)."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import field
from pathlib import Path

from labpath.errors import UsageError
from labpath.fsutil import atomic_write
from labpath.structs import struct

SETTINGS_FILE = "labpath.yaml"
SETTINGS_VERSION = 1
SETTINGS_KEYS = ("format_version", "curriculum", "start_date", "weekly_hours", "editor")

# State (the logs, journal, labs) is committed; these are caches and scratch.
GITIGNORE = """\
__pycache__/
*.pyc
.labpath/lock
.labpath/tmp/
.labpath/artifacts/
.labpath/runs/
.*.tmp
"""
# Append-only logs merge line by line, so two machines never conflict on them.
GITATTRIBUTES = """\
.labpath/*.jsonl merge=union
"""


@struct
class Settings:
    start_date: str
    curriculum: str | None = None  # a folder, relative to the workspace or absolute
    weekly_hours: tuple[float, float] = (5.0, 10.0)
    editor: str | None = None
    extra: dict = field(default_factory=dict)


@struct
class Workspace:
    root: Path
    settings: Settings

    @property
    def labs_dir(self) -> Path:
        return self.root / "labs"

    @property
    def journal_dir(self) -> Path:
        return self.root / "journal"

    @property
    def state_dir(self) -> Path:
        return self.root / ".labpath"

    @property
    def progress_file(self) -> Path:
        return self.state_dir / "progress.jsonl"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "lock"

    def lab_dir(self, lab: str) -> Path:
        return self.labs_dir / lab

    def lab_at(self, path: Path | None = None) -> str | None:
        """The shipped lab whose folder (labs/<lab>/...) holds path (default: cwd)."""
        from labpath import labs

        try:
            path = Path.cwd() if path is None else path
            rel = path.resolve().relative_to(self.labs_dir.resolve())
        except (ValueError, OSError):
            return None
        name = rel.parts[0] if rel.parts else None
        return name if name and labs.exists(name) else None

    def curriculum_dir(self) -> Path | None:
        """The learner's own curriculum folder, or None for the built-in plan."""
        if not self.settings.curriculum:
            own = self.root / "curriculum"
            return own if own.is_dir() and any(own.glob("*.y*ml")) else None
        path = Path(self.settings.curriculum).expanduser()
        return path if path.is_absolute() else self.root / path


def default_home() -> Path:
    return Path.home() / "labpath"


def find(explicit: str | None = None, cwd: Path | None = None) -> Path | None:
    """The workspace folder by the decided order, whether or not it exists yet.

    --workspace, then $LABPATH_HOME, then the nearest ancestor holding labpath.yaml,
    then ~/labpath.
    """
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("LABPATH_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    return default_home()


def open_workspace(explicit: str | None = None, cwd: Path | None = None) -> Workspace:
    """Open the resolved workspace; a clear error when there is none."""
    root = find(explicit, cwd)
    if root.exists() and not root.is_dir():
        raise UsageError(f"workspace path {root} is a file, not a folder")
    if not (root / SETTINGS_FILE).is_file():
        raise UsageError(
            f"no labpath workspace at {root}",
            hint="run `labpath next` to start one there, or `labpath init DIR`",
        )
    ws = Workspace(root, read_settings(root))
    migrate(ws)
    return ws


def migrate(ws: Workspace) -> None:
    """Bring an older workspace's .gitignore up to date (committed); never fails a command."""
    path = ws.root / ".gitignore"
    try:
        have = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError):
        return
    from labpath.fsutil import sweep

    sweep(ws.root, f".{SETTINGS_FILE}.*.tmp")  # what a killed atomic write left
    sweep(ws.state_dir, ".*.tmp")
    present = {line.strip() for line in have.splitlines()}
    missing = [line for line in GITIGNORE.splitlines() if line not in present]
    if not missing or not os.access(ws.root, os.W_OK):
        return
    from labpath import vcs

    try:
        if not vcs.is_repo(ws.root) or vcs.blocked(ws.root) is not None:
            return
        text = have.rstrip("\n") + ("\n" if have.strip() else "") + "\n".join(missing)
        atomic_write(path, text + "\n")
        vcs.commit_paths(
            ws.root, [path], "labpath: ignore its caches (check artifacts, runs)"
        )
    except Exception:  # an ignore rule is never worth failing the command
        pass


def read_settings(root: Path) -> Settings:
    """Parse and validate labpath.yaml (cached while the file is unchanged)."""
    from labpath.cache import memo

    path = root / SETTINGS_FILE
    return memo("settings", path.resolve(), [path], lambda: _parse_settings(root, path))


MAX_SETTINGS_BYTES = 64 * 1024


def shown(value, limit: int = 40) -> str:
    """A value from a file, safe to put in a message: repr'd, printable, cut short."""
    text = repr(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _settings_loader():
    """PyYAML's safe loader, but dates stay strings (so 2026-13-45 is ours to refuse)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolvers = {
        first: [(tag, rx) for tag, rx in pairs if tag != "tag:yaml.org,2002:timestamp"]
        for first, pairs in base.yaml_implicit_resolvers.items()
    }
    return type("SettingsLoader", (base,), {"yaml_implicit_resolvers": resolvers})


def _parse_settings(root: Path, path: Path) -> Settings:
    import yaml

    restore = f"restore it with `git -C {root} checkout -- {SETTINGS_FILE}`"

    def bad(message: str, hint: str | None = None) -> UsageError:
        return UsageError(
            f"{path}: {message}", hint=hint or f"fix that line, or {restore}"
        )

    if not path.is_file():
        raise bad("is not a regular file", hint=f"make it a file again: {restore}")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise bad(
            f"cannot be read ({exc.strerror})", hint="check its permissions"
        ) from None
    if len(raw) > MAX_SETTINGS_BYTES:
        raise bad(
            f"is larger than {MAX_SETTINGS_BYTES // 1024} KB; settings are a few lines"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("is not UTF-8 text") from None
    if "\0" in text:
        raise bad("holds a NUL byte")
    loader = _settings_loader()
    try:
        # Aliases could expand a few lines into gigabytes: settings never need them.
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                raise bad(
                    f"line {mark.line + 1}: YAML anchors and aliases (&, *) are "
                    "not allowed in the settings",
                    hint="write each value out",
                )
        data = yaml.load(text, Loader=loader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise UsageError(
            f"{path}{line}: malformed YAML in the workspace settings",
            hint=f"fix that line, or {restore}",
        ) from None
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise bad("holds a value YAML cannot build (an explicit !!tag?)") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: settings must be a mapping of keys to values")
    from labpath.errors import did_you_mean

    for key in data:
        if key not in SETTINGS_KEYS:
            raise UsageError(
                f"{path}: unknown setting {shown(key)}",
                hint=did_you_mean(str(key)[:40], SETTINGS_KEYS)
                or f"known settings: {', '.join(SETTINGS_KEYS)}",
            )
    version = data.get("format_version", SETTINGS_VERSION)
    if (
        isinstance(version, int)
        and not isinstance(version, bool)
        and version > SETTINGS_VERSION
    ):
        raise UsageError(
            f"{path}: format_version {version} is newer than this labpath understands",
            hint="upgrade labpath: pip install -U labpath",
        )
    if version != SETTINGS_VERSION or isinstance(version, bool):
        raise bad(
            f"format_version must be the number {SETTINGS_VERSION}, got {shown(version)}",
            hint=f"write format_version: {SETTINGS_VERSION} (no quotes)",
        )
    start = data.get("start_date") or dt.date.today().isoformat()
    if isinstance(start, dt.date):
        start = start.isoformat()
    try:
        if not isinstance(start, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", start):
            raise ValueError
        dt.date.fromisoformat(start)
    except ValueError:
        raise UsageError(
            f"{path}: start_date {shown(start)} is not a date (YYYY-MM-DD)",
            hint="write it like start_date: 2026-11-02",
        ) from None
    hours = data.get("weekly_hours", [5, 10])
    if _number(hours):
        hours = [hours, hours]
    if (
        not isinstance(hours, list)
        or len(hours) != 2
        or not all(_number(h) and 0 < h <= 7 * 24 for h in hours)
        or hours[0] > hours[1]
    ):
        raise UsageError(
            f"{path}: weekly_hours must be [min, max] hours, e.g. [5, 10]; got {shown(hours)}",
            hint="write it like weekly_hours: [5, 10] (at most 168 hours a week)",
        )
    curriculum = data.get("curriculum")
    if curriculum is not None and (
        not isinstance(curriculum, str) or "\0" in curriculum
    ):
        raise UsageError(
            f"{path}: curriculum must be a folder path",
            hint="write it like curriculum: my-curriculum",
        )
    editor = data.get("editor")
    if editor is not None and not isinstance(editor, str):
        raise bad(
            f"editor must be a command, got {shown(editor)}",
            hint="write it like editor: code --wait",
        )
    if editor:
        from labpath.editor import command

        command(editor, f"{path}: editor")
    return Settings(
        start_date=start,
        curriculum=curriculum or None,
        weekly_hours=(float(hours[0]), float(hours[1])),
        editor=editor or None,
    )


def _number(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def settings_text(settings: Settings) -> str:
    lines = [
        "# labpath workspace settings",
        f"format_version: {SETTINGS_VERSION}",
        f"start_date: {settings.start_date}",
        f"weekly_hours: [{settings.weekly_hours[0]:g}, {settings.weekly_hours[1]:g}]",
        "# curriculum: my-curriculum    # a folder of phase YAML files (default: built-in)",
        "# editor: code --wait           # used by `labpath log` (default: $EDITOR)",
    ]
    if settings.curriculum:
        lines[-2] = f"curriculum: {settings.curriculum}"
    if settings.editor:
        lines[-1] = f"editor: {settings.editor}"
    return "\n".join(lines) + "\n"


def init(root: Path, curriculum: str | None = None, today: dt.date | None = None):
    """Create (or complete) a workspace at root; returns (workspace, created, commit)."""
    from labpath import vcs

    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"cannot create a workspace at {root}: it is a file")
    created = not (root / SETTINGS_FILE).is_file()
    root.mkdir(parents=True, exist_ok=True)
    written = []
    if created:
        start = (today or dt.date.today()).isoformat()
        atomic_write(root / SETTINGS_FILE, settings_text(Settings(start, curriculum)))
        written.append(root / SETTINGS_FILE)
    for name, text in ((".gitignore", GITIGNORE), (".gitattributes", GITATTRIBUTES)):
        path = root / name
        if not path.exists():
            atomic_write(path, text)
            written.append(path)
        elif text.splitlines()[0] not in path.read_text(encoding="utf-8"):
            # The learner's own file: add our lines below theirs.
            existing = path.read_text(encoding="utf-8")
            atomic_write(path, existing.rstrip("\n") + "\n" + text)
            written.append(path)
    for sub in ("labs", "journal", ".labpath"):
        (root / sub).mkdir(exist_ok=True)
    vcs.init_repo(root)
    result = (
        vcs.commit_paths(root, written, "labpath: set up the workspace")
        if written
        else None
    )
    return Workspace(root, read_settings(root)), created, result
