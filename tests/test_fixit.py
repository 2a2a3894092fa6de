"""fixit's count is exact: each fault trips its own check alone, any draw trips exactly
the checks of the faults planted, and correct blocks written other ways count 0."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from labpath import bugedit, labs, planted
from labpath.checks import procs
from labpath.checks.runner import run_checks
from labpath.devcheck import load_bugs

pytestmark = pytest.mark.torch

LAB = labs.load("fixit")
BUGS = load_bugs(LAB)
SOLUTION = (LAB.solution_dir / "block.py").read_text(encoding="utf-8")
VARIANTS = sorted(p.name for p in (LAB.directory / "accepted").iterdir() if p.is_dir())


def plant(ids):
    """The solution with the faults applied one after another; one that no longer
    matches exactly once (another fault edited its code) is skipped."""
    text, applied = SOLUTION, []
    for bug in (b for i in ids for b in BUGS if b.id == i):
        edited = text
        for old, new in bug.replace:
            edited, n = bugedit.apply(edited, old, new)
            if n != 1:
                break
        else:
            text = edited
            applied.append(bug)
    return text, applied


@pytest.fixture(scope="module")
def worker():
    with procs.WorkerPool(1) as pool, pool.borrow() as warm:
        yield warm


def failing(folder: Path, worker) -> list[str]:
    report = run_checks(LAB, folder, worker=worker)
    assert report.total == len(BUGS), (report.status, report.message)
    return sorted(r.name for r in report.results if r.outcome != "passed")


def with_block(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "block.py").write_text(text, encoding="utf-8")
    return folder


def test_the_library_pairs_each_fault_with_its_own_check():
    fails = [b.fails for b in BUGS]
    assert len(BUGS) >= 15
    assert len(set(fails)) == len(fails), (
        "two faults share a check: the count would lie"
    )
    assert all(b.diagnosis is None for b in BUGS), "the learner only ever sees a count"
    assert all(b.file == "block.py" for b in BUGS)


# Each fault alone trips its own check and no other: `labpath dev check fixit` proves it
# for the whole library (tests/test_devcheck.py runs it).


@pytest.mark.slow
def test_a_generated_starter_trips_exactly_the_checks_of_its_faults(tmp_path, worker):
    wrong = []
    for seed in range(8):
        plant = planted.Plant(seed, 5)
        applied, _ = planted.draw(LAB, plant)
        assert len(applied) == 5
        text = planted.render(LAB, plant)["block.py"]
        assert "#" not in text
        got = failing(with_block(tmp_path, f"seed{seed}", text), worker)
        want = sorted(b.fails for b in applied)
        if got != want:
            wrong.append((seed, [b.id for b in applied], got))
    assert wrong == []


@pytest.mark.slow
def test_any_set_of_faults_that_apply_together_trips_exactly_theirs(tmp_path, worker):
    wrong = []
    for seed in range(8):
        drawn = random.Random(seed).sample([b.id for b in BUGS], 8)
        text, applied = plant(drawn)
        got = failing(with_block(tmp_path, f"draw{seed}", text), worker)
        want = sorted(b.fails for b in applied)
        if got != want:
            wrong.append((seed, [b.id for b in applied], got))
    assert wrong == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_correct_block_written_another_way_counts_zero(variant, worker):
    folder = LAB.directory / "accepted" / variant
    assert failing(folder, worker) == []


def test_deleting_dropout_does_not_fix_it(tmp_path, worker):
    text = SOLUTION
    for old, new in (
        ("x = self.dropout(x)", "x = x"),
        ("att = self.attn_dropout(att)", "att = att"),
    ):
        text, n = bugedit.apply(text, old, new)
        assert n == 1
    got = failing(with_block(tmp_path, "no-dropout", text), worker)
    dropout = ("dropout-in-eval", "dropout-on-scores")
    assert got == sorted(b.fails for b in BUGS if b.id in dropout)


def test_the_symptom_run_trains_both_blocks(tmp_path):
    out = tmp_path / "out"
    starter = with_block(
        tmp_path, "starter", planted.render(LAB, planted.Plant(3, 5))["block.py"]
    )
    env = {**os.environ, "LABPATH_TARGET": str(starter), "MPLBACKEND": "Agg"}
    args = [
        "--steps",
        "3",
        "--max-bytes",
        "5000",
        "--block-size",
        "8",
        "--batch-size",
        "2",
        "--n-embd",
        "12",
        "--n-head",
        "2",
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    done = subprocess.run(
        [sys.executable, str(LAB.directory / "run.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads((out / "fixit-figures.json").read_text())
    for key in ("yours", "reference"):
        assert len(figures[key]["sample"]) == 80
        assert figures[key]["final_train_loss"] > 0
    assert "your block" in done.stdout and "labpath's block" in done.stdout
