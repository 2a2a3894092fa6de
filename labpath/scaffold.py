"""Copy a lab's starter files into the workspace without ever overwriting the learner's."""

from __future__ import annotations

import os
from pathlib import Path

from labpath.errors import UsageError
from labpath.fsutil import atomic_write
from labpath.labs import Lab


def _sources(lab: Lab, with_brief: bool, plant=None) -> list[tuple[bytes, Path]]:
    """(content, path relative to the learner's lab folder) for each starter file.

    A lab that plants faults gets its generated files (and the seed they came from)
    in place of any starter file of the same name.
    """
    found = {
        p.relative_to(lab.starter_dir): p.read_bytes()
        for p in sorted(lab.starter_dir.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    if plant is not None:
        from labpath import planted

        for name, text in planted.render(lab, plant).items():
            found[Path(name)] = text.encode("utf-8")
        found[Path(planted.STATE_FILE)] = planted.state_text(plant).encode("utf-8")
    if with_brief and lab.brief.is_file():
        found[Path("README.md")] = lab.brief.read_bytes()
    return [(data, rel) for rel, data in found.items()]


def targets(lab: Lab, dest: Path, with_brief: bool = True) -> list[Path]:
    """Where scaffolding puts each of the lab's files (starter, brief, planted seed)."""
    names = {
        p.relative_to(lab.starter_dir)
        for p in lab.starter_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    if lab.planted:
        from labpath import planted

        names |= {Path(b.file) for b in planted.library(lab)}
        names.add(Path(planted.STATE_FILE))
    if with_brief and lab.brief.is_file():
        names.add(Path("README.md"))
    return [dest / n for n in sorted(names)]


def plant_for(lab: Lab, dest: Path, faults: int | None, fresh: bool = False):
    """The faults to plant in dest: those recorded there, else a new draw.

    None for a lab that plants none. fresh: always a new draw (reset --faults).
    """
    if not lab.planted:
        if faults is not None:
            raise UsageError(
                f"--faults: lab '{lab.id}' plants no faults",
                hint="--faults applies to a lab whose starter hides faults, such as fixit",
            )
        return None
    from labpath import planted

    recorded = None if fresh else planted.read_state(dest)
    if recorded is not None:
        if faults is not None and faults != recorded.faults:
            raise UsageError(
                f"--faults {faults}: {dest} already holds {recorded.faults} planted "
                "faults; nothing changed",
                hint=f"draw a new set: labpath reset {lab.id} --faults {faults} "
                "(your code is committed first)",
            )
        return recorded
    return planted.new_plant(lab, faults)


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
    for rel in targets(lab, Path(), with_brief=False):
        problem = _link_problem(dest / rel, root)
        if problem:
            raise UsageError(
                problem + "; nothing changed",
                hint=f"replace the link with the file itself (cp --remove-destination "
                f'"$(readlink -f {dest / rel})" {dest / rel}), then run it again',
            )


def _write(data: bytes, target: Path) -> None:
    """Write by rename, so a link put there meanwhile is replaced, not followed."""
    atomic_write(target, data, mode=0o644)


def scaffold(
    lab: Lab, dest: Path, root: Path | None = None, faults: int | None = None
) -> list[Path]:
    """Create the starter files missing from dest; return the paths created.

    A path that exists in any form, a dangling link included, is the learner's and is
    left alone; a folder leading outside the workspace `root` is refused. faults: how
    many to plant, for a lab that plants them (its default when None).
    """
    _check_folder(dest, root)
    plant = plant_for(lab, dest, faults)
    created = []
    for src, rel in _sources(lab, with_brief=True, plant=plant):
        target = dest / rel
        if os.path.lexists(target):
            continue
        if _link_problem(target, root):
            continue
        _write(src, target)
        created.append(target)
    return created


def restore(
    lab: Lab, dest: Path, root: Path | None = None, faults: int | None = None
) -> list[Path]:
    """Put every starter file back over the learner's (reset), never through a link.

    A lab that plants faults gets the same faults back, or a new draw of `faults`.
    """
    refuse_links(lab, dest, root)
    plant = plant_for(lab, dest, faults, fresh=faults is not None)
    restored = []
    for src, rel in _sources(lab, with_brief=False, plant=plant):
        _write(src, dest / rel)
        restored.append(dest / rel)
    return restored
