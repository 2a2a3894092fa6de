"""The lab registry: each lab is a folder of data (brief, starter, checks, solution)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labpath.errors import UsageError, did_you_mean

LABS_ROOT = Path(__file__).resolve().parent
LAB_KEYS = (
    "format_version", "id", "title", "files", "time_limit", "hints",
    "forbidden", "seed", "data", "uses",
)


@dataclass(frozen=True)
class Forbidden:
    name: str  # a dotted name such as torch.nn.LSTM or torch.autograd.grad
    why: str


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    directory: Path
    files: tuple[str, ...]  # the learner's files, relative to their lab folder
    time_limit: float
    hints: tuple[str, ...]  # nudge -> concept -> near-solution
    forbidden: tuple[Forbidden, ...]
    seed: int
    uses: tuple[
        str, ...
    ] = ()  # labs whose code this one builds on (mlp uses micrograd)

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


def available() -> list[str]:
    """Ids of every lab shipped with labpath, sorted."""
    return sorted(p.parent.name for p in LABS_ROOT.glob("*/lab.yaml"))


def exists(lab_id: str) -> bool:
    return (LABS_ROOT / lab_id / "lab.yaml").is_file()


def load(lab_id: str) -> Lab:
    """Read one lab's lab.yaml, validated, or a clear error for an unknown id."""
    from labpath.labspec import read_lab

    path = LABS_ROOT / lab_id / "lab.yaml"
    if not lab_id or "/" in lab_id or not path.is_file():
        raise UsageError(
            f"no lab '{lab_id}'",
            hint=did_you_mean(lab_id, available())
            or f"labs available: {', '.join(available())}",
        )
    return read_lab(path)
