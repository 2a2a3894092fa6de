"""Training runs kept in the workspace: .labpath/runs/LAB/STAMP/, listed and found by id.

`labpath run LAB` gives each run its own folder named by its start time; that folder's
path under runs/ ("gpt2/20261202T081500") is the run's id. A run the learner sent
elsewhere (`--out DIR`) leaves .labpath/runs/LAB/STAMP.where instead, holding DIR.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import UsageError, did_you_mean

PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
_STAMP = re.compile(r"(\d{8}T\d{6})(?:-\d+)?")
WHERE = ".where"  # runs/LAB/STAMP.where: the folder of a run made elsewhere


@dataclass(frozen=True)
class Run:
    id: str  # LAB/STAMP
    lab: str
    started: dt.datetime
    folder: Path
    plots: tuple[Path, ...]  # the figures it saved, by path inside folder


def runs_dir(state_dir: Path) -> Path:
    return state_dir / "runs"


def _plots(folder: Path) -> tuple[Path, ...]:
    found = (
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in PLOT_SUFFIXES and p.is_file() and not p.is_symlink()
    )
    return tuple(sorted(found, key=lambda p: p.relative_to(folder).as_posix()))


def list_runs(state_dir: Path, lab: str | None = None) -> list[Run]:
    """Every run folder (of one lab when given), newest first."""
    root = runs_dir(state_dir)
    found = []
    labs = [root / lab] if lab else sorted(p for p in root.glob("*") if p.is_dir())
    for lab_dir in labs:
        if not lab_dir.is_dir():
            continue
        for folder in lab_dir.iterdir():
            name = folder.name.removesuffix(WHERE)
            m = _STAMP.fullmatch(name)
            if not m or folder.is_symlink():
                continue
            if name != folder.name:
                folder = _elsewhere(folder)
            if folder is None or not folder.is_dir() or folder.is_symlink():
                continue
            started = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%S")
            found.append(
                Run(
                    f"{lab_dir.name}/{name}",
                    lab_dir.name,
                    started,
                    folder,
                    _plots(folder),
                )
            )
    return sorted(found, key=lambda r: (r.started, r.id), reverse=True)


def record_elsewhere(lab_runs: Path, stamp: str, folder: Path) -> None:
    """Note in runs/LAB/ that the run STAMP writes to folder, outside the workspace."""
    from labpath.fsutil import atomic_write

    lab_runs.mkdir(parents=True, exist_ok=True)
    atomic_write(lab_runs / (stamp + WHERE), f"{folder}\n")


def _elsewhere(note: Path) -> Path | None:
    """The folder a .where note names: an absolute path, else None."""
    try:
        text = note.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    folder = Path(text)
    return folder if text and "\n" not in text and folder.is_absolute() else None


def find_run(state_dir: Path, ref: str) -> Run:
    """The run named by ref: its id (LAB/STAMP), its stamp alone, `last`, or a lab's
    id for that lab's newest run."""
    ref = ref.strip().strip("/")
    every = list_runs(state_dir)
    hint = "labpath run --list shows the runs and their ids"
    if not every:
        raise UsageError(
            f"no run '{ref}': this workspace has no runs yet",
            hint="start one with labpath run LAB (e.g. labpath run fixit)",
        )
    if ref == "last":
        return every[0]
    for run in every:
        if ref == run.id:
            return run
    by_lab = [r for r in every if r.lab == ref]
    if by_lab:
        return by_lab[0]
    stamped = [
        r
        for r in every
        if ref and (r.id.startswith(ref) or r.folder.name.startswith(ref))
    ]
    if len(stamped) == 1:
        return stamped[0]
    if len(stamped) > 1:
        raise UsageError(
            f"run '{ref}' is ambiguous: {', '.join(r.id for r in stamped[:4])}",
            hint="give the whole id LAB/STAMP",
        )
    close = did_you_mean(ref, [r.id for r in every] + sorted({r.lab for r in every}))
    if " " in ref:  # `log --attach-run "the text"` takes the text for the run
        hint = f"the entry's text goes before --attach-run; {hint}"
    raise UsageError(f"no run '{ref}'", hint=f"{close} {hint}" if close else hint)


def copy_plots(run: Run, into: Path) -> list[Path]:
    """Copy the run's plots under into/LAB/STAMP/, keeping their paths inside the run;
    a copy already there with the same bytes is left alone."""
    from labpath.fsutil import atomic_write

    copied = []
    for plot in run.plots:
        target = into / run.id / plot.relative_to(run.folder)
        data = plot.read_bytes()
        if not (target.is_file() and target.read_bytes() == data):
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
        copied.append(target)
    return copied
