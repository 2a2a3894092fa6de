"""Find, create and describe the learner's workspace (settings, layout, resolution)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from labpath.errors import UsageError
from labpath.fsutil import atomic_write

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


@dataclass(frozen=True)
class Settings:
    start_date: str
    curriculum: str | None = None  # a folder, relative to the workspace or absolute
    weekly_hours: tuple[float, float] = (5.0, 10.0)
    editor: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
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


def _parse_settings(root: Path, path: Path) -> Settings:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise UsageError(
            f"{path}{line}: malformed YAML in the workspace settings",
            hint="fix that line, or restore it with "
            f"`git -C {root} checkout -- {SETTINGS_FILE}`",
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: settings must be a mapping of keys to values")
    from labpath.errors import did_you_mean

    for key in data:
        if key not in SETTINGS_KEYS:
            raise UsageError(
                f"{path}: unknown setting '{key}'",
                hint=did_you_mean(key, SETTINGS_KEYS)
                or f"known settings: {', '.join(SETTINGS_KEYS)}",
            )
    version = data.get("format_version", SETTINGS_VERSION)
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        raise UsageError(
            f"{path}: format_version {version!r} is newer than this labpath understands",
            hint="upgrade labpath: pip install -U labpath",
        )
    start = data.get("start_date") or dt.date.today().isoformat()
    if isinstance(start, dt.date):
        start = start.isoformat()
    try:
        dt.date.fromisoformat(str(start))
    except ValueError:
        raise UsageError(
            f"{path}: start_date '{start}' is not a date (YYYY-MM-DD)"
        ) from None
    hours = data.get("weekly_hours", [5, 10])
    if isinstance(hours, (int, float)):
        hours = [hours, hours]
    if (
        not isinstance(hours, list)
        or len(hours) != 2
        or not all(isinstance(h, (int, float)) and h > 0 for h in hours)
        or hours[0] > hours[1]
    ):
        raise UsageError(
            f"{path}: weekly_hours must be [min, max] hours, e.g. [5, 10]; got {hours!r}"
        )
    curriculum = data.get("curriculum")
    if curriculum is not None and not isinstance(curriculum, str):
        raise UsageError(f"{path}: curriculum must be a folder path")
    editor = data.get("editor")
    return Settings(
        start_date=str(start),
        curriculum=curriculum or None,
        weekly_hours=(float(hours[0]), float(hours[1])),
        editor=str(editor) if editor else None,
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
