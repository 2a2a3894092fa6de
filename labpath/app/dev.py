"""Use cases for lab authors: dev check and dev mutate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labpath.app.results import Notice, plain
from labpath.errors import CHECKS_FAILED, OK


@dataclass(frozen=True)
class LabsVerdict:
    verdicts: tuple  # devcheck.LabVerdict
    curriculum: tuple  # devcheck.Finding
    notices: tuple[Notice, ...] = ()

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts) and all(f.ok for f in self.curriculum)

    @property
    def exit_code(self) -> int:
        return OK if self.ok else CHECKS_FAILED

    def to_json(self) -> dict:
        return plain(
            {"ok": self.ok, "labs": self.verdicts, "curriculum": self.curriculum}
        )


def check_labs(
    lab_ids: list[str] | None, jobs: int, static: bool = False
) -> LabsVerdict:
    """Prove labs sound: starter fails, solution passes, each catalogued bug is caught.

    static: only what needs no torch (bugs apply, fails: names a check, interfaces).
    """
    from labpath import curriculum as curriculum_mod
    from labpath import devcheck, labs

    if static:
        from labpath import authoring

        verdicts, extra = authoring.check_static(lab_ids)
        return LabsVerdict(tuple(verdicts), tuple(extra))

    cur = curriculum_mod.load()
    ids = lab_ids or labs.available()
    for lab_id in ids:
        labs.load(lab_id)
    verdicts = [devcheck.check_lab(lab_id, cur, jobs=jobs) for lab_id in ids]
    extra = devcheck.check_curriculum(cur) if not lab_ids else []
    return LabsVerdict(tuple(verdicts), tuple(extra))


@dataclass(frozen=True)
class NewLab:
    path: Path
    notices: tuple[Notice, ...] = ()


def new_lab(lab_id: str, parent: str | None) -> NewLab:
    """Write a skeleton lab that `dev check --static` accepts."""
    from labpath import authoring

    return NewLab(authoring.new_lab(lab_id, parent))


@dataclass(frozen=True)
class Mutation:
    report: object  # mutate.MutationReport
    notices: tuple[Notice, ...] = ()

    @property
    def exit_code(self) -> int:
        return OK if not self.report.survivors else CHECKS_FAILED

    def to_json(self) -> dict:
        from labpath import mutate

        return mutate.as_data(self.report)


def mutate_lab(
    lab: str, sample: int, seed: int, budget: float, jobs: int, match: str | None
) -> Mutation:
    """Seeded mutants of a lab's solution through its checks."""
    from labpath import mutate

    return Mutation(
        mutate.mutate_lab(lab, sample or None, seed, budget, jobs, match=match)
    )
