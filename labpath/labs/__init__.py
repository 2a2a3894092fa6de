"""The lab registry: each lab is a folder of data (brief, starter, checks, solution)."""

from __future__ import annotations

import os
from pathlib import Path

from labpath.errors import UsageError, did_you_mean
from labpath.structs import struct

LABS_ROOT = Path(__file__).resolve().parent
# Folders of labs kept outside labpath (os.pathsep-separated), after the shipped ones.
LABS_PATH_VAR = "LABPATH_LABS"
LAB_KEYS = (
    "format_version", "id", "title", "files", "time_limit", "hints",
    "forbidden", "seed", "data", "uses", "planted",
)


@struct
class Forbidden:
    name: str  # a dotted name such as torch.nn.LSTM or torch.autograd.grad
    why: str


@struct
class Lab:
    id: str
    title: str
    directory: Path
    files: tuple[str, ...]  # the learner's files, relative to their lab folder
    time_limit: float
    hints: tuple[str, ...]  # nudge -> concept -> near-solution
    forbidden: tuple[Forbidden, ...]
    seed: int
    # Labs whose code this one builds on (mlp uses micrograd).
    uses: tuple[str, ...] = ()
    # Faults planted in the starter by default (its bugs.yaml is the fault library), or
    # None: the starter is copied from starter/ as it is.
    planted: int | None = None

    @property
    def starter_dir(self) -> Path:
        return self.directory / "starter"

    @property
    def solution_dir(self) -> Path:
        return self.directory / "solution"

    @property
    def checks_dir(self) -> Path:
        return self.directory / "checks"

    @property
    def brief(self) -> Path:
        return self.directory / "README.md"

    @property
    def bugs_file(self) -> Path:
        return self.directory / "bugs.yaml"

    @property
    def accepted_dir(self) -> Path:
        """Correct solutions written another way, one folder each: the checks must pass them."""
        return self.directory / "accepted"


def roots() -> list[Path]:
    """Where labs are looked up, in order: the shipped labs, then $LABPATH_LABS."""
    extra = os.environ.get(LABS_PATH_VAR, "").split(os.pathsep)
    return [LABS_ROOT, *(Path(p).expanduser() for p in extra if p)]


def where(lab_id: str) -> Path | None:
    """The folder of the lab with this id; the first root holding it wins."""
    if not lab_id or "/" in lab_id or os.sep in lab_id or lab_id in (".", ".."):
        return None
    found = (r / lab_id for r in roots() if (r / lab_id / "lab.yaml").is_file())
    return next(found, None)


def available() -> list[str]:
    """Ids of every lab labpath can find (shipped, then $LABPATH_LABS), sorted."""
    return sorted({p.parent.name for r in roots() for p in r.glob("*/lab.yaml")})


def exists(lab_id: str) -> bool:
    return where(lab_id) is not None


def load(lab_id: str) -> Lab:
    """Read one lab's lab.yaml, validated, or a clear error for an unknown id."""
    from labpath.labspec import read_lab

    folder = where(lab_id)
    path = folder / "lab.yaml" if folder else None
    if path is None:
        raise UsageError(
            f"no lab '{lab_id}'",
            hint=did_you_mean(lab_id, available())
            or f"labs available: {', '.join(available())}",
        )
    from labpath.cache import memo

    # the parsed lab.yaml is cached like the curriculum: `labpath next` reads one on
    # every run, and YAML's parser costs more than the rest of the command
    lab = memo("lab", path.resolve(), [path], lambda: read_lab(path))
    if not all(exists(used) for used in lab.uses):
        return read_lab(path)  # a lab it uses is gone: the uncached read says so
    return lab
