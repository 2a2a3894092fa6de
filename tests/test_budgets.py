"""What a passing check measured: figures, speed budgets against the reference, notes.

A test lab (the tiny lab plus a check file) is found through LABPATH_LABS and checked
through the real CLI in subprocesses; the bpe lab's reference training is compared with
recounting, and its budget and tie-break note are shown on real learners.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap

import pytest

from labpath import labs
from labpath.checks.runner import run_checks

from .conftest import DATA

TINY = DATA / "labs" / "tiny"

CHECKS = '''
"""Budgets and figures on plain Python."""

import random

from labpath.checks import kit

XS = [random.Random(0).uniform(-5, 5) for _ in range(20000)]


def test_variance_speed(moments):
    """variance of 20,000 numbers against the reference (information)."""
    ref = kit.reference_module("moments")
    kit.budget("variance of 20,000 numbers", lambda: moments.variance(XS),
               lambda: ref.variance(XS), max_ratio=3)


def test_figure(moments):
    """variance([1, 2, 4]) as a figure."""
    kit.figure("variance", moments.variance([1.0, 2.0, 4.0]), "<", 2.0)
'''

REQUIRED = '''

def test_mean_speed(moments):
    """mean must stay within 3x of the reference."""
    ref = kit.reference_module("moments")
    kit.budget("mean of 20,000 numbers", lambda: moments.mean(XS),
               lambda: ref.mean(XS), max_ratio=3, required=True, memory=True)
'''

BAD_OP = '''

def test_bad_figure(moments):
    """A figure with an operator kit does not know."""
    kit.figure("variance", 1.0, "=~", 2.0)
'''

# Correct, and far slower than the reference: the work is repeated 40 times.
SLOW = """
def mean(xs):
    for _ in range(40):
        total = 0.0
        for x in xs:
            total += x
    return total / len(xs)


def variance(xs):
    m = mean(xs[:1]) * 0 + sum(xs) / len(xs)
    for _ in range(40):
        out = sum((x - m) ** 2 for x in xs) / len(xs)
    return out
"""


def make_lab(root, extra=""):
    """The tiny lab under root/speedy with the budget checks (and extra ones) added."""
    lab = root / "speedy"
    shutil.copytree(TINY, lab, ignore=shutil.ignore_patterns("variants"))
    yaml = lab / "lab.yaml"
    yaml.write_text(yaml.read_text().replace("id: tiny", "id: speedy"))
    (lab / "checks" / "test_speed.py").write_text(CHECKS + extra)
    return lab


def labpath(*args, labs_dir, home):
    env = {
        **os.environ,
        "LABPATH_LABS": str(labs_dir),
        "LABPATH_HOME": str(home),
        "NO_COLOR": "1",
        "COLUMNS": "300",
    }
    return subprocess.run(
        [sys.executable, "-m", "labpath", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture()
def slow(tmp_path):
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "moments.py").write_text(SLOW)
    return folder


def test_a_slow_correct_learner_passes_with_the_ratio(tmp_path, slow):
    make_lab(tmp_path / "labs")
    run = labpath(
        "check", "speedy", "--path", slow, labs_dir=tmp_path / "labs", home=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASSED" in run.stdout
    line = next(x for x in run.stdout.splitlines() if "works, but" in x)
    assert "variance of 20,000 numbers: works, but " in line
    assert "× slower than the reference (learner " in line and "reference " in line
    assert "variance 1.56 (needs < 2.00)" in run.stdout

    run = labpath(
        "check",
        "speedy",
        "--path",
        slow,
        "--json",
        labs_dir=tmp_path / "labs",
        home=tmp_path,
    )
    results = {r["name"]: r for r in json.loads(run.stdout)["results"]}
    (budget,) = results["test_variance_speed"]["notes"]
    assert budget["kind"] == "budget" and budget["ok"] is False
    assert budget["ratio"] > 3 and budget["required"] is False
    assert budget["learner_seconds"] > budget["reference_seconds"] > 0
    assert results["test_variance_speed"]["outcome"] == "passed"
    (figure,) = results["test_figure"]["notes"]
    assert figure == {
        "kind": "figure",
        "name": "variance",
        "value": pytest.approx(14 / 9),
        "op": "<",
        "bound": 2.0,
        "ok": True,
        "text": "variance 1.56 (needs < 2.00)",
    }
    assert results["test_mean_matches_statistics"]["notes"] == []


def test_within_budget_is_shown_only_with_verbose(tmp_path):
    lab = make_lab(tmp_path / "labs")
    solution = lab / "solution"
    quiet = labpath(
        "check", "speedy", "--path", solution, labs_dir=lab.parent, home=tmp_path
    )
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "variance of 20,000 numbers:" not in quiet.stdout
    loud = labpath(
        "check", "speedy", "--path", solution, "-v", labs_dir=lab.parent, home=tmp_path
    )
    assert "variance of 20,000 numbers: " in loud.stdout
    assert "works, but" not in loud.stdout


def test_a_required_budget_fails_with_the_ratio(tmp_path, slow):
    make_lab(tmp_path / "labs", REQUIRED)
    run = labpath(
        "check", "speedy", "--path", slow, labs_dir=tmp_path / "labs", home=tmp_path
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "✗ test_mean_speed" in run.stdout
    detail = next(x for x in run.stdout.splitlines() if "mean of 20,000" in x)
    assert "works, but " in detail and "× slower than the reference" in detail
    assert "this lab requires at most 3×" in detail
    assert "peak memory learner " in detail
    assert "Start with test_mean_speed" in run.stdout


def test_a_figure_with_an_unknown_operator_is_labpaths_error(tmp_path):
    lab = make_lab(tmp_path / "labs", BAD_OP)
    run = labpath(
        "check",
        "speedy",
        "--path",
        lab / "solution",
        labs_dir=lab.parent,
        home=tmp_path,
    )
    # labpath's own mistake, marked "!" apart from the learner's failures
    assert run.returncode == 1, run.stdout + run.stderr
    assert "! test_bad_figure" in run.stdout
    line = next(x for x in run.stdout.splitlines() if "kit.figure" in x)
    assert "labpath's check failed: kit.figure: op must be one of" in line


# --- the bpe lab ------------------------------------------------------------------

BPE = labs.load("bpe")
NAMES = (labs.LABS_ROOT.parent / "data" / "names.txt").read_text(encoding="utf-8")


def _solution():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "labpath_test_bpe_solution", BPE.solution_dir / "bpe.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recounting_merges(chunks, vocab_size):
    """Training as it was: recount every pair after each merge (ties: first seen)."""
    merges = {}
    for i in range(vocab_size - 256):
        stats = {}
        for ids in chunks:
            for pair in zip(ids, ids[1:]):
                stats[pair] = stats.get(pair, 0) + 1
        if not stats:
            break
        pair = max(stats, key=stats.get)
        out = []
        for ids in chunks:
            new, j = [], 0
            while j < len(ids):
                if j + 1 < len(ids) and (ids[j], ids[j + 1]) == pair:
                    new.append(256 + i)
                    j += 2
                else:
                    new.append(ids[j])
                    j += 1
            out.append(new)
        chunks = out
        merges[pair] = 256 + i
    return merges


def _both(bpe, text, vocab_size):
    basic = bpe.BasicTokenizer()
    basic.train(text, vocab_size)
    regex = bpe.RegexTokenizer()
    regex.train(text, vocab_size)
    chunks = [list(c.encode("utf-8")) for c in regex.compiled_pattern.findall(text)]
    return (
        (
            list(basic.merges.items()),
            recounting_merges([list(text.encode())], vocab_size),
        ),
        (list(regex.merges.items()), recounting_merges(chunks, vocab_size)),
    )


def test_reference_training_equals_recounting_on_the_names_file():
    for fast, slow in _both(_solution(), NAMES, 400):
        assert fast == list(slow.items())


def test_reference_training_equals_recounting_on_random_text():
    bpe, rng = _solution(), random.Random(2026)
    for _ in range(120):
        alphabet = rng.choice(["ab", "aab", "ab c", "xyz \n", "é😉a b", "aaaa b"])
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        for fast, slow in _both(bpe, text, 256 + rng.randint(0, 50)):
            assert fast == list(slow.items()), text


RECOUNTING = textwrap.dedent(
    """

    def _recounting_train(self, text, vocab_size, verbose=False):
        ids = list(text.encode("utf-8"))
        self.merges, self.vocab = {}, {i: bytes([i]) for i in range(256)}
        for i in range(vocab_size - 256):
            stats = get_stats(ids)
            if not stats:
                break
            pair = max(stats, key=stats.get)
            ids = merge(ids, pair, 256 + i)
            self.merges[pair] = 256 + i
            self.vocab[256 + i] = self.vocab[pair[0]] + self.vocab[pair[1]]


    BasicTokenizer.train = _recounting_train
    """
)


@pytest.mark.slow
def test_bpe_reports_a_recounting_learner_as_slower(tmp_path):
    learner = tmp_path / "bpe"
    learner.mkdir()
    source = (BPE.solution_dir / "bpe.py").read_text(encoding="utf-8")
    (learner / "bpe.py").write_text(source + RECOUNTING, encoding="utf-8")
    report = run_checks(
        BPE,
        learner,
        select=[
            "test_train_learns_the_reference_merges",
            "test_training_time_on_the_names_file",
        ],
    )
    assert report.ok, [(r.name, r.outcome, r.message) for r in report.results]
    timed = next(r for r in report.results if r.name.startswith("test_training_time"))
    (budget,) = timed.notes
    assert budget["ratio"] > 2, budget
    assert budget["text"].startswith("train(names, 512): ")


@pytest.mark.slow
def test_bpe_accepts_the_greatest_pair_tie_break_with_a_note():
    folder = BPE.accepted_dir / "largest-pair-on-ties"
    report = run_checks(BPE, folder, select=["test_merges_and_vocab_are_consistent"])
    assert report.ok, [(r.name, r.outcome, r.message) for r in report.results]
    (result,) = report.results
    (note,) = result.notes
    assert note["kind"] == "note"
    assert "lexicographically greatest pair" in note["text"]
    assert "accepted" in note["text"]


class _Node:
    """A scalar-engine node: in a cycle through its own backward closure."""

    def __init__(self):
        self.backward = lambda: self


def test_steps_frees_each_steps_cycles_and_restores_the_collector():
    import gc
    import weakref

    from labpath.checks import kit

    assert gc.isenabled()
    seen = []

    def one_step():
        node = _Node()
        seen.append(weakref.ref(node))

    for i in kit.steps(4):
        assert not gc.isenabled()  # no collection walks a live graph mid-step
        if i:
            assert seen[-1]() is None  # the last step's cycle was freed before this one
        one_step()
    assert gc.isenabled()
    for i in kit.steps(10):  # a loop that returns early or fails turns it back on too
        if i == 2:
            break
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        for i in kit.steps(3):
            seen.append(i / 0)
    assert gc.isenabled()
    gc.disable()
    try:
        list(kit.steps(2))
        assert not gc.isenabled()  # off before: off after
    finally:
        gc.enable()
