"""`labpath dev check`: prove every lab is sound (starter fails, solution passes, bugs caught)."""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from labpath import labs, labspec
from labpath.errors import UsageError
from labpath.labspec import Bug

MIN_BUGS = 6  # realistic mistakes a lab catalogues at least


@dataclass(frozen=True)
class Finding:
    lab: str
    item: str  # "starter", "solution", "brief", "hints", "curriculum", "bug:<id>"
    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class LabVerdict:
    lab: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


def load_bugs(lab: labs.Lab) -> list[Bug]:
    """The lab's catalogue of realistic mistakes (bugs.yaml), validated."""
    return labspec.read_bugs(lab)


def apply_bug(lab: labs.Lab, bug: Bug, dest: Path) -> None:
    """Copy the solution to dest and apply the bug's edits; each edit must match once."""
    shutil.copytree(
        lab.solution_dir, dest, ignore=shutil.ignore_patterns("__pycache__")
    )
    (dest / bug.file).write_text(bugged(lab, bug), encoding="utf-8")


def bugged(lab: labs.Lab, bug: Bug) -> str:
    """The bug's file of the solution with its edits applied; each must match once."""
    from labpath import bugedit

    text = (lab.solution_dir / bug.file).read_text(encoding="utf-8")
    for old, new in bug.replace:
        text, n = bugedit.apply(text, old, new)
        if n != 1:
            raise UsageError(
                f"{bug.source or lab.bugs_file}: bug '{bug.id}': the code to replace "
                f"occurs {n} times in solution/{bug.file} (must be exactly once): "
                f"{old[:60]!r}"
            )
    return text


def _run(lab: labs.Lab, folder: Path, select: list[str] | None = None, pool=None):
    """The one call into the check runner: a fork of a warm worker when pool is given."""
    from labpath.checks.procs import WorkerFailed
    from labpath.checks.runner import run_checks

    # Dev checks run on the reference solutions of the labs this one builds on.
    uses = {name: labs.load(name).solution_dir for name in lab.uses}
    if pool is not None:
        try:
            with pool.borrow() as worker:
                return run_checks(lab, folder, select=select, uses=uses, worker=worker)
        except WorkerFailed:
            pass  # a cold run says what is wrong with the environment
    return run_checks(lab, folder, select=select, uses=uses)


def check_lab(
    lab_id: str | labs.Lab, curriculum=None, jobs: int = 2, warm: bool = True
) -> LabVerdict:
    """Run every soundness check of one lab.

    warm: each run is a fork of a worker that imported torch and pytest once (one
    worker per job); otherwise each run starts a fresh interpreter.
    """
    from labpath.checks.procs import WorkerPool

    lab = lab_id if isinstance(lab_id, labs.Lab) else labs.load(lab_id)
    if not warm:
        return _check_lab(lab, curriculum, jobs, None)
    with WorkerPool(max(1, jobs)) as pool:
        return _check_lab(lab, curriculum, jobs, pool)


def _check_lab(lab: labs.Lab, curriculum, jobs: int, pool) -> LabVerdict:
    findings: list[Finding] = []
    findings.append(
        Finding(
            lab.id,
            "brief",
            lab.brief.is_file() and lab.brief.stat().st_size > 200,
            "README.md with the goal, steps and references",
        )
    )
    findings.append(
        Finding(
            lab.id,
            "hints",
            len(lab.hints) >= 3,
            f"{len(lab.hints)} hint tiers (need 3)",
        )
    )
    if curriculum is not None:
        task = curriculum.task_for_lab(lab.id)
        findings.append(
            Finding(
                lab.id,
                "curriculum",
                task is not None,
                f"task '{task.id}'" if task else "no curriculum task names this lab",
            )
        )
    if lab.planted:
        findings.append(_planted_starter(lab, pool))
    else:
        starter = _run(lab, lab.starter_dir, pool=pool)
        findings.append(
            Finding(
                lab.id,
                "starter",
                starter.status in ("not_started", "failed"),
                f"{starter.status}: {starter.passed}/{starter.total} passed"
                + (f" ({starter.message})" if starter.message else ""),
                starter.duration,
            )
        )
    solution = _run(lab, lab.solution_dir, pool=pool)
    from labpath.checks.kit import OPTIONAL

    bad = [
        r.name
        for r in solution.results
        if r.outcome != "passed"
        and not (r.outcome == "skipped" and OPTIONAL in (r.message or ""))
    ]
    findings.append(
        Finding(
            lab.id,
            "solution",
            solution.ok and not bad,
            f"{solution.status}: {solution.passed}/{solution.total} passed"
            + (f"; not passing: {bad}" if bad else "")
            + (f" ({solution.message})" if solution.message else ""),
            solution.duration,
        )
    )
    bugs = load_bugs(lab)
    findings.append(
        Finding(
            lab.id,
            "bug catalogue",
            len(bugs) >= MIN_BUGS,
            f"{len(bugs)} bugs (need {MIN_BUGS})",
        )
    )

    def run_bug(bug: Bug) -> Finding:
        with tempfile.TemporaryDirectory(prefix=f"labpath-bug-{bug.id}-") as tmp:
            dest = Path(tmp) / "code"
            try:
                apply_bug(lab, bug, dest)
            except UsageError as exc:
                return Finding(lab.id, f"bug:{bug.id}", False, exc.message)
            if lab.planted:  # a fault must trip its own detector and no other
                report = _run(lab, dest, pool=pool)
                return _alone(lab, bug, report)
            report = _run(lab, dest, select=[bug.fails], pool=pool)
        named = [r for r in report.results if r.name.split("[")[0] == bug.fails]
        caught = any(r.outcome == "failed" for r in named)
        outcomes = sorted({r.outcome for r in named}) or [report.status]
        detail = f"{bug.fails}: {', '.join(outcomes)}"
        if report.message:
            detail += f" ({report.message})"
        problem = diagnosis_problem(bug, report.results)
        if caught and problem:
            caught, detail = False, f"{detail}; {problem}"
        return Finding(lab.id, f"bug:{bug.id}", caught, detail, report.duration)

    def run_variant(folder: Path) -> Finding:
        report = _run(lab, folder, pool=pool)
        bad = [r.name for r in report.results if r.outcome not in ("passed", "skipped")]
        return Finding(
            lab.id,
            f"accepted:{folder.name}",
            report.ok and not bad,
            f"{report.status}: {report.passed}/{report.total} passed"
            + (f"; rejected by: {bad}" if bad else "")
            + (f" ({report.message})" if report.message else ""),
            report.duration,
        )

    variants = sorted(p for p in lab.accepted_dir.glob("*") if p.is_dir())
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as threads:
        findings.extend(threads.map(run_bug, bugs))
        findings.extend(threads.map(run_variant, variants))
    return LabVerdict(lab.id, tuple(findings))


def _failing(report) -> set[str]:
    return {
        r.name.split("[")[0]
        for r in report.results
        if r.outcome in ("failed", "error", "not_started")
    }


def _alone(lab: labs.Lab, bug: Bug, report) -> Finding:
    """A planted fault trips exactly its own detector, so a count of failures is exact."""
    failing = _failing(report)
    ok = failing == {bug.fails}
    detail = f"{bug.fails}: {'failed' if bug.fails in failing else 'passed'}"
    others = sorted(failing - {bug.fails})
    if others:
        detail += f"; also tripped: {', '.join(others)}"
    if report.message:
        detail += f" ({report.message})"
    return Finding(lab.id, f"bug:{bug.id}", ok, detail, report.duration)


def _planted_starter(lab: labs.Lab, pool) -> Finding:
    """The generated starter (the lab's seed, its default count): exactly the faults
    drawn are counted."""
    from labpath import planted

    plant = planted.Plant(lab.seed, lab.planted)
    with tempfile.TemporaryDirectory(prefix=f"labpath-starter-{lab.id}-") as tmp:
        dest = Path(tmp) / "code"
        shutil.copytree(
            lab.starter_dir, dest, ignore=shutil.ignore_patterns("__pycache__")
        )
        chosen, _ = planted.draw(lab, plant)
        for name, text in planted.render(lab, plant).items():
            (dest / name).write_text(text, encoding="utf-8")
        report = _run(lab, dest, pool=pool)
    failing, wanted = _failing(report), {b.fails for b in chosen}
    detail = f"{len(chosen)} planted (of {lab.planted} asked), {len(failing)} failing"
    if failing != wanted:
        detail += (
            f"; not tripped: {sorted(wanted - failing)}; "
            f"tripped without a fault: {sorted(failing - wanted)}"
        )
    return Finding(
        lab.id,
        "starter",
        failing == wanted and len(chosen) == lab.planted,
        detail,
        report.duration,
    )


def diagnosis_problem(bug: Bug, results) -> str | None:
    """Why the bug's report names the wrong mistake, or None when it names only its own."""
    printed = [(r.name, r.diagnosis) for r in results if r.diagnosis]
    if bug.diagnosis is None:
        if printed:
            name, text = printed[0]
            return (
                f"{name} names a mistake ({text!r}) but the bug declares no "
                "diagnosis: declare it in bugs.yaml if it is this bug's, else the "
                "diagnosis fires without its fingerprint"
            )
        return None
    wrong = [(n, t) for n, t in printed if bug.diagnosis not in t]
    if wrong:
        name, text = wrong[0]
        return f"{name} names another mistake: {text!r}"
    if not any(n.split("[")[0] == bug.fails for n, _ in printed):
        return f"{bug.fails} does not name the mistake ({bug.diagnosis!r})"
    return None


def check_curriculum(curriculum) -> list[Finding]:
    """Every shipped lab is reachable from the curriculum, and none is still 'planned'."""
    named = {t.lab for t in curriculum.tasks if t.lab}
    found = [
        Finding(
            lab,
            "curriculum",
            lab in named,
            "" if lab in named else "no task names this lab",
        )
        for lab in labs.available()
    ]
    found += [
        Finding(
            t.lab,
            "curriculum",
            False,
            f"{t.source}: task '{t.id}' repeats steps its lab's brief holds; move "
            f"them to labpath/labs/{t.lab}/README.md (## Steps) and remove them here",
        )
        for t in curriculum.tasks
        if t.steps and t.lab and not t.lab_planned and labs.exists(t.lab)
    ]
    stale = "`lab_status: planned` although the lab ships; remove that line"
    found += [
        Finding(
            t.lab, "curriculum", False, f"{t.source}: task '{t.id}' still says {stale}"
        )
        for t in curriculum.tasks
        if t.lab_planned and labs.exists(t.lab)
    ]
    return found
