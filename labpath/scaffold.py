"""Copy a lab's starter files into the workspace without ever overwriting the learner's."""

from __future__ import annotations

import os
from pathlib import Path

from labpath.errors import UsageError
from labpath.fsutil import atomic_write
from labpath.labs import Lab


def _sources(lab: Lab, with_brief: bool) -> list[tuple[Path, Path]]:
    """(source, path relative to the learner's lab folder) for each starter file."""
    found = [
        (p, p.relative_to(lab.starter_dir))
        for p in sorted(lab.starter_dir.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    if with_brief and lab.brief.is_file():
        found.append((lab.brief, Path("README.md")))
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _check_folder(dest: Path, root: Path | None) -> None:
    """The lab folder and every folder above it up to the workspace stay inside it."""
    if root is None:
        return
    if not _inside(dest, root):
        raise UsageError(
            f"{dest} leads outside the workspace (to {dest.resolve()}); "
            "labpath never writes there",
            hint=f"make {dest} a plain folder inside {root} (not a link) and run again",
        )


def _link_problem(target: Path, root: Path | None) -> str | None:
    if target.is_symlink():
        where = os.readlink(target)
        return f"{target} is a symbolic link (to {where}); labpath never writes through one"
    if root is not None and target.parent.exists() and not _inside(target.parent, root):
        return (
            f"{target.parent} leads outside the workspace; labpath never writes there"
        )
    return None


def refuse_links(lab: Lab, dest: Path, root: Path | None = None) -> None:
    """Refuse, before anything is written, if a starter path is a link or leads outside."""
    _check_folder(dest, root)
    for _, rel in _sources(lab, with_brief=False):
        problem = _link_problem(dest / rel, root)
        if problem:
            raise UsageError(
                problem + "; nothing changed",
                hint=f"replace the link with the file itself (cp --remove-destination "
                f'"$(readlink -f {dest / rel})" {dest / rel}), then run it again',
            )


def _write(src: Path, target: Path) -> None:
    """Copy src to target by rename, so a link put there meanwhile is replaced, not followed."""
    atomic_write(target, src.read_bytes(), mode=0o644)


def scaffold(lab: Lab, dest: Path, root: Path | None = None) -> list[Path]:
    """Create the starter files missing from dest; return the paths created.

    A path that exists in any form, a dangling link included, is the learner's and is
    left alone; a folder leading outside the workspace `root` is refused.
    """
    _check_folder(dest, root)
    created = []
    for src, rel in _sources(lab, with_brief=True):
        target = dest / rel
        if os.path.lexists(target):
            continue
        if _link_problem(target, root):
            continue
        _write(src, target)
        created.append(target)
    return created


def restore(lab: Lab, dest: Path, root: Path | None = None) -> list[Path]:
    """Put every starter file back over the learner's (reset), never through a link."""
    refuse_links(lab, dest, root)
    restored = []
    for src, rel in _sources(lab, with_brief=False):
        _write(src, dest / rel)
        restored.append(dest / rel)
    return restored
