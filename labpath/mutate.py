"""`labpath dev mutate`: run a lab's mutants through its checks and score what they catch."""

from __future__ import annotations

import ast
import difflib
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labpath import labs
from labpath.errors import UsageError
from labpath.mutants import (
    MUTANTS_FILE,
    Equivalent,
    Mutant,
    choose,
    generate,
    load_equivalents,
)

__all__ = [
    "EQUIVALENT",
    "INVALID",
    "KILLED",
    "MUTANTS_FILE",
    "NOT_RUN",
    "OUTCOMES",
    "SURVIVED",
    "TIMED_OUT",
    "Equivalent",
    "Mutant",
    "MutantResult",
    "MutationReport",
    "as_data",
    "choose",
    "generate",
    "load_equivalents",
    "mutate_lab",
]

KILLED = "killed"
SURVIVED = "survived"
TIMED_OUT = "timed_out"
EQUIVALENT = "equivalent"
INVALID = "invalid"
NOT_RUN = "not_run"
OUTCOMES = (KILLED, SURVIVED, TIMED_OUT, EQUIVALENT, INVALID, NOT_RUN)


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    diff: str = ""
    why: str = ""  # the reason a mutant is equivalent


@dataclass(frozen=True)
class MutationReport:
    lab: str
    seed: int
    sample: int
    generated: int
    results: tuple[MutantResult, ...]
    seconds: float
    budget: float
    unused_equivalents: tuple[str, ...] = ()
    baseline_seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def scored(self) -> int:
        """Mutants that change behaviour and were run to a verdict."""
        return self.count(KILLED) + self.count(SURVIVED) + self.count(TIMED_OUT)

    @property
    def detected(self) -> int:
        return self.count(KILLED) + self.count(TIMED_OUT)

    @property
    def score(self) -> float:
        return 100.0 * self.detected / self.scored if self.scored else 100.0

    @property
    def survivors(self) -> tuple[MutantResult, ...]:
        return tuple(r for r in self.results if r.outcome == SURVIVED)


def _mutated_copy(lab: labs.Lab, mutant: Mutant, dest: Path) -> str:
    shutil.copytree(
        lab.solution_dir, dest, ignore=shutil.ignore_patterns("__pycache__")
    )
    path = dest / mutant.file
    text = path.read_text(encoding="utf-8")
    new = mutant.apply(text)
    path.write_text(new, encoding="utf-8")
    return "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"solution/{mutant.file}",
            f"mutant/{mutant.file}",
            n=2,
        )
    )


def _static_verdict(mutant: Mutant, original: str) -> str | None:
    """INVALID for a mutant that does not parse, EQUIVALENT for one that parses the same."""
    try:
        tree = ast.parse(mutant.apply(original))
    except SyntaxError:
        return INVALID
    if ast.dump(tree) == ast.dump(ast.parse(original)):
        return EQUIVALENT
    return None


@contextmanager
def _stop_at_first_failure():
    # The check children inherit this environment: a mutant is killed by its first failure.
    old = os.environ.get("PYTEST_ADDOPTS")
    os.environ["PYTEST_ADDOPTS"] = ((old or "") + " -x").strip()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTEST_ADDOPTS", None)
        else:
            os.environ["PYTEST_ADDOPTS"] = old


def mutate_lab(
    lab_id: str | labs.Lab,
    sample: int | None = 40,
    seed: int = 0,
    budget: float = 600.0,
    jobs: int = 2,
    timeout: float | None = None,
    match: str | None = None,
) -> MutationReport:
    """Generate, sample and run mutants of one lab until done or out of budget."""
    from labpath.checks.procs import WorkerPool
    from labpath.checks.result import PASS, TIMEOUT
    from labpath.checks.runner import run, spec_for

    lab = labs.load(lab_id) if isinstance(lab_id, str) else lab_id
    # Mutants of this lab run on the reference solutions of the labs it builds on.
    uses = {name: labs.load(name).solution_dir for name in lab.uses}
    if sample is not None and sample < 0:
        raise UsageError(
            f"--sample {sample}: the number of mutants cannot be negative",
            hint=f"labpath dev mutate {lab.id} --sample 20",
        )
    if budget <= 0 or jobs < 1:
        raise UsageError(
            "--budget must be positive and --jobs at least 1",
            hint=f"labpath dev mutate {lab.id} --budget 300 --jobs 2",
        )
    everything = generate(lab)
    wanted = [m for m in everything if not match or match in m.key]
    if not wanted:
        raise UsageError(
            f"lab '{lab.id}': no mutant's key contains {match!r}",
            hint=f"labpath dev mutate {lab.id} --sample 0 --json lists every key",
        )
    chosen = choose(wanted, sample, seed)
    known = load_equivalents(lab)
    texts = {
        name: (lab.solution_dir / name).read_text(encoding="utf-8")
        for name in {m.file for m in everything}
    }
    start = time.monotonic()
    # One warm worker per job, launched from this thread; the baseline waits for one.
    with WorkerPool(jobs) as pool:
        with pool.borrow() as worker:
            baseline = run(spec_for(lab, lab.solution_dir, uses), worker=worker)
        if baseline.status != PASS:
            raise UsageError(
                f"lab '{lab.id}': the unmutated solution does not pass its checks "
                f"({baseline.status}), so no mutant can be judged",
                hint=f"labpath dev check {lab.id}",
            )
        deadline = start + budget
        # Generous against load, short enough that a mutant's endless loop costs little.
        per_mutant = timeout or min(lab.time_limit, max(20.0, 4 * baseline.duration))

        def run_one(mutant: Mutant) -> MutantResult:
            static = _static_verdict(mutant, texts[mutant.file])
            if static == INVALID:
                return MutantResult(mutant, INVALID, "does not parse")
            if static == EQUIVALENT:
                return MutantResult(
                    mutant, EQUIVALENT, why="the same program once parsed"
                )
            listed = next((e for e in known if e.covers(mutant)), None)
            if listed is not None:
                return MutantResult(mutant, EQUIVALENT, why=listed.why)
            left = deadline - time.monotonic()
            if left < 1:
                return MutantResult(mutant, NOT_RUN, "the time budget ran out first")
            with tempfile.TemporaryDirectory(prefix="labpath-mutant-") as tmp:
                dest = Path(tmp) / "code"
                diff = _mutated_copy(lab, mutant, dest)
                spec = spec_for(lab, dest, uses, timeout=min(per_mutant, left))
                with pool.borrow() as worker:
                    report = run(spec, worker=worker)
            if report.status == TIMEOUT:
                outcome = TIMED_OUT if left > per_mutant else NOT_RUN
                return MutantResult(
                    mutant, outcome, report.message or "", report.duration, diff
                )
            if report.status == PASS:
                return MutantResult(
                    mutant, SURVIVED, "every check passed", report.duration, diff
                )
            failed = [
                r.name for r in report.results if r.outcome not in ("passed", "skipped")
            ]
            detail = failed[0] if failed else (report.message or report.status)
            return MutantResult(mutant, KILLED, detail, report.duration, "")

        with (
            _stop_at_first_failure(),
            ThreadPoolExecutor(max_workers=max(1, jobs)) as threads,
        ):
            results = tuple(threads.map(run_one, chosen))
    return MutationReport(
        lab=lab.id,
        seed=seed,
        sample=len(chosen),
        generated=len(everything),
        results=results,
        seconds=time.monotonic() - start,
        budget=budget,
        unused_equivalents=tuple(
            e.key for e in known if not any(e.covers(m) for m in everything)
        ),
        baseline_seconds=baseline.duration,
    )


def as_data(report: MutationReport) -> dict:
    """The report as plain data for --json, with each mutant's key and the score."""
    return {
        "lab": report.lab,
        "seed": report.seed,
        "generated": report.generated,
        "sample": report.sample,
        "counts": {k: report.count(k) for k in OUTCOMES},
        "score": round(report.score, 1),
        "seconds": round(report.seconds, 1),
        "baseline_seconds": round(report.baseline_seconds, 1),
        "budget": report.budget,
        "unused_equivalents": list(report.unused_equivalents),
        "mutants": [
            {
                "key": r.mutant.key,
                "file": r.mutant.file,
                "line": r.mutant.line,
                "op": r.mutant.op,
                "outcome": r.outcome,
                "detail": r.detail,
                "why": r.why,
                "seconds": round(r.seconds, 2),
                "diff": r.diff,
            }
            for r in report.results
        ],
    }
