"""Faults planted in a lab's starter, drawn from its bug catalogue by a seed.

A lab with `planted:` in its lab.yaml ships no faulty starter: `labpath next` writes the
reference solution with k of its catalogued bugs applied, drawn by a seed chosen at that
moment, and with its comments removed, so there is nothing to diff against. The seed and
k are all the learner's folder keeps (`.planted.json`); labpath re-derives the faults
from them. A check of such a lab reports only how many of its detectors still fail.
"""

from __future__ import annotations

import difflib
import io
import json
import random
import secrets
import tokenize
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import UsageError

STATE_FILE = ".planted.json"
STATE_VERSION = 1


@dataclass(frozen=True)
class Plant:
    seed: int
    faults: int  # how many were asked for


@dataclass(frozen=True)
class Count:
    """What a check of a planted lab may say: how many, never which."""

    planted: int
    remaining: int
    raised: bool = False  # the learner's code raised in at least one probe
    rewritten: int | None = None  # % of the generated lines the learner changed

    def to_json(self) -> dict:
        return {
            "planted": self.planted,
            "remaining": self.remaining,
            "raised": self.raised,
            "rewritten_percent": self.rewritten,
        }


def new_plant(lab, faults: int | None = None) -> Plant:
    """A fresh seed and the fault count asked for (the lab's default when None)."""
    k = lab.planted if faults is None else faults
    check_count(lab, k)
    return Plant(secrets.randbelow(2**31), k)


def check_count(lab, k: int) -> None:
    size = len(library(lab))
    if not 1 <= k <= size:
        raise UsageError(
            f"--faults {k}: lab '{lab.id}' can plant 1 to {size} faults",
            hint=f"the default is {lab.planted}",
        )


def library(lab):
    """The lab's fault library: its bug catalogue."""
    from labpath import labspec

    return labspec.read_bugs(lab)


def draw(lab, plant: Plant) -> tuple[list, dict[str, str]]:
    """The faults the seed picks and the solution's files with them applied.

    Faults are tried in the seed's order and each is applied to the text the earlier
    ones left; one whose code no longer occurs exactly once is passed over, so the
    faults drawn never overlap.
    """
    from labpath import bugedit

    bugs = library(lab)
    order = sorted(bugs, key=lambda b: b.id)
    random.Random(plant.seed).shuffle(order)
    texts: dict[str, str] = {}
    chosen = []
    for bug in order:
        if len(chosen) == plant.faults:
            break
        text = texts.get(bug.file)
        if text is None:
            text = (lab.solution_dir / bug.file).read_text(encoding="utf-8")
        for old, new in bug.replace:
            text, n = bugedit.apply(text, old, new)
            if n != 1:
                break
        else:
            texts[bug.file] = text
            chosen.append(bug)
    catalogue = {b.id: i for i, b in enumerate(bugs)}
    chosen.sort(key=lambda b: catalogue[b.id])
    return chosen, texts


def render(lab, plant: Plant) -> dict[str, str]:
    """The generated starter: relative name -> text, comments stripped."""
    _, texts = draw(lab, plant)
    return {name: strip_comments(text) for name, text in texts.items()}


def strip_comments(text: str) -> str:
    """Python source without its `#` comments; lines that held only one are dropped."""
    cuts: dict[int, int] = {}  # line number -> column where its comment starts
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                cuts[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, SyntaxError):
        return text
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number in cuts:
            kept = line[: cuts[number]].rstrip()
            if not kept:
                continue
            line = kept
        lines.append(line)
    return "\n".join(lines) + "\n"


# --- the learner's folder ---------------------------------------------------------


def state_text(plant: Plant) -> str:
    return (
        json.dumps(
            {
                "format_version": STATE_VERSION,
                "seed": plant.seed,
                "faults": plant.faults,
                "note": "labpath derives the planted faults from this seed; "
                "keep the file as it is",
            },
            indent=2,
        )
        + "\n"
    )


def read_state(folder: Path) -> Plant | None:
    """The plant recorded in a lab folder, or None when it has none (or a broken one)."""
    try:
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        seed, faults = data["seed"], data["faults"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seed, faults)):
        return None
    return Plant(seed, faults)


# --- what a check may say ---------------------------------------------------------

RAISED = "your code raised while being probed; run your own tests on it"


def count(lab, report, folder: Path | None) -> Count:
    """How many detectors fail, with the planted count of the folder (else the default)."""
    from labpath.checks.result import ERROR, FAILED, NOT_STARTED

    plant = read_state(folder) if folder is not None else None
    planted = plant.faults if plant else lab.planted
    bad = [r for r in report.results if r.outcome in (FAILED, ERROR, NOT_STARTED)]
    raised = any(
        r.learner_location or (r.message or "").startswith("your code raised")
        for r in bad
    )
    rewritten = None
    if plant is not None and folder is not None:
        rewritten = _rewritten(lab, plant, folder)
    return Count(planted, len(bad), raised, rewritten)


def _rewritten(lab, plant: Plant, folder: Path) -> int | None:
    """The share of the generated starter's lines that are no longer in the file."""
    try:
        generated = render(lab, plant)
    except (OSError, UsageError):
        return None
    gone = total = 0
    for name, text in generated.items():
        try:
            mine = (folder / name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            mine = []
        theirs = text.splitlines()
        matcher = difflib.SequenceMatcher(None, theirs, mine, autojunk=False)
        kept = sum(block.size for block in matcher.get_matching_blocks())
        gone += len(theirs) - kept
        total += len(theirs)
    return round(100 * gone / total) if total else None


def conceal(report, c: Count):
    """The report with nothing left that tells one detector from another."""
    from dataclasses import replace

    from labpath.checks.result import (
        FAIL,
        FAILED,
        NOT_DONE,
        PASS,
        PASSED,
        CheckResult,
    )

    status = report.status
    message = report.message
    if status in (PASS, FAIL, NOT_DONE):
        status = PASS if c.remaining == 0 and report.results else FAIL
        message = None
    elif status in ("timeout", "crashed"):
        message = (
            "the probes did not finish: your code hung or crashed the process; "
            "run your own tests on it"
        )
    result = CheckResult(
        name="planted faults",
        outcome=PASSED if status == PASS else FAILED,
        what=f"{c.planted} faults planted, {c.remaining} remain",
    )
    return replace(
        report,
        status=status,
        results=(result,),
        message=message,
        output="",
        artifacts=(),
    )


def journal_links(ws, lab_id: str) -> list[tuple[str, str, str]]:
    """(created, title, path) of the learner's journal entries tagged with the lab's id
    or written for it, oldest first."""
    from labpath import journal

    try:
        entries = journal.entries(ws)
    except (OSError, UsageError):  # a broken journal must not hide the solution
        return []
    found = [
        (e.created, e.title, e.path or "")
        for e in entries
        if lab_id in e.tags or e.lab == lab_id
    ]
    return sorted(found)
