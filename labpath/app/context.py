"""The loaded workspace every use case works on, and the guards that protect its history.

The flow of every command: the CLI parses its arguments, `load()` opens the workspace
(creating it for `next`) and reads its curriculum and progress, one use case runs and
returns a frozen result with its notices, and the ui renders that result.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from labpath import curriculum as curriculum_mod
from labpath import progress, workspace
from labpath.app.results import Notice, info
from labpath.curriculum import Curriculum, Task
from labpath.errors import UsageError
from labpath.progress import TaskState
from labpath.structs import struct
from labpath.workspace import Workspace


@struct
class Context:
    """A workspace with its curriculum and progress, read once per command."""

    workspace: Workspace
    curriculum: Curriculum
    states: dict[str, TaskState]
    focus: str | None = None  # the task `labpath start` made current
    notices: tuple[Notice, ...] = ()  # what opening the workspace said

    def state(self, task: Task) -> TaskState:
        return progress.state_of(self.states, task)

    @property
    def current(self) -> Task | None:
        return progress.next_task(self.curriculum, self.states, self.focus)


def load(
    ws_path: str | None = None, curriculum_dir: str | None = None, create: bool = False
) -> Context:
    """Open (or, for `next`, create) the workspace and read its curriculum and progress."""
    notices: list[str | None] = []
    try:
        ws = workspace.open_workspace(ws_path)
    except UsageError:
        if not create:
            raise
        root = workspace.find(ws_path)
        ws, _, result = workspace.init(root)
        notices.append(f"Created a labpath workspace at {root}")
        notices.append(result.warning if result else None)
    cur = curriculum_mod.load(curriculum_dir or ws.curriculum_dir())
    events = progress.read_events(ws.progress_file)
    return Context(
        ws, cur, progress.derive(events), progress.focus_of(events), info(*notices)
    )


def open_workspace(ws_path: str | None = None) -> Workspace:
    """The workspace alone, for commands that need neither curriculum nor progress."""
    return workspace.open_workspace(ws_path)


def refreshed(ctx: Context) -> Context:
    """The same context with progress read again (after a command recorded events)."""
    events = progress.read_events(ctx.workspace.progress_file)
    return replace(
        ctx,
        states=progress.derive(events),
        focus=progress.focus_of(events),
        notices=(),
    )


def guard(ws: Workspace) -> None:
    """Refuse to record while a rebase, merge or detached HEAD would swallow the commit."""
    from labpath import vcs

    if vcs.is_repo(ws.root):
        vcs.ensure_committable(ws.root)


def committable(ws: Workspace) -> bool:
    from labpath import vcs

    return vcs.is_repo(ws.root) and vcs.blocked(ws.root) is None


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False
