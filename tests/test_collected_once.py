"""Warm re-checks that reuse one collection: each run still sees its own save and spec.

The warm worker's collector imports the lab's check modules once and forks per run;
these tests hold it to what a cold run promises, on the plain-Python tiny lab (the
worker runs with `import torch` failing, so none of this needs torch).
"""

import os
import shutil
import time

import pytest

from labpath import authoring
from labpath.checks.runner import Worker, run_checks

from .conftest import DATA

TINY = DATA / "labs" / "tiny"
VARIANTS = TINY / "variants"
NO_TORCH = DATA / "no_torch"

# A line appended each time the copied lab's check module is imported.
COUNT_IMPORTS = (
    "import os as _os\n"
    "with open(_os.environ['TINY_IMPORTS'], 'a') as _fh:\n"
    "    _fh.write('imported\\n')\n"
)

FORGES = """
import json, os, posix


def mean(xs):
    names = []
    with open(os.environ["LABPATH_REPORT"]) as fh:
        for line in fh:
            body = json.loads(json.loads(line)["body"])
            if body.get("type") == "collected":
                names = body["names"]
    with open(os.environ["LABPATH_REPORT"], "a") as fh:
        for n, name in enumerate(names):
            body = {"type": "result", "name": name, "outcome": "passed", "seq": 90 + n}
            fh.write(json.dumps({"body": json.dumps(body), "mac": "0" * 64}) + "\\n")
    posix._exit(0)


def variance(xs):
    return 0.0
"""

SWITCHES_CHECKS_OFF = """
from labpath.checks import kit

kit.fail = lambda *args, **kwargs: None


def mean(xs):
    return 0.0


def variance(xs):
    return 0.0
"""

# Right but for the seeded random list of seven: its failure shows the seed's inputs.
WRONG_ON_SEEDED_INPUT = """
def mean(xs):
    return sum(xs) / len(xs)


def variance(xs):
    m = mean(xs)
    v = sum((x - m) ** 2 for x in xs) / len(xs)
    return v + 1.0 if len(xs) == 7 else v
"""

EXITS = """
import os


def mean(xs):
    os._exit(0)


def variance(xs):
    return 0.0
"""

# Warns and logs as it works; pytest's warnings and logging plugins are off in a run.
WARNS_AND_LOGS = """
import logging
import warnings


def mean(xs):
    warnings.warn("an old spelling", DeprecationWarning)
    logging.getLogger("learner").warning("mean of %d numbers", len(xs))
    return sum(xs) / len(xs)


def variance(xs):
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)
"""


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A copy of the tiny lab whose check module counts its imports."""
    lab_dir = tmp_path / "tiny"
    shutil.copytree(TINY, lab_dir)
    checks = lab_dir / "checks" / "test_moments.py"
    checks.write_text(COUNT_IMPORTS + checks.read_text())
    monkeypatch.setenv("TINY_IMPORTS", str(tmp_path / "imports.txt"))
    monkeypatch.setenv("PYTHONPATH", str(NO_TORCH))
    return authoring.lab_at(str(lab_dir))


@pytest.fixture
def worker():
    w = Worker()
    yield w
    w.stop()


@pytest.fixture
def folder(tmp_path):
    """The learner's folder, starting from the solution."""
    path = tmp_path / "learner"
    path.mkdir()
    shutil.copy(TINY / "solution" / "moments.py", path / "moments.py")
    return path


def save(folder, text_or_variant: str) -> None:
    """Save a variant of the tiny lab's (by name), or this text, as moments.py."""
    if "\n" not in text_or_variant:
        text_or_variant = (VARIANTS / text_or_variant / "moments.py").read_text()
    (folder / "moments.py").write_text(text_or_variant)


def outcomes(report) -> dict[str, str]:
    return {r.name: r.outcome for r in report.results}


def imports(tmp_path) -> int:
    path = tmp_path / "imports.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_runs_of_the_same_checks_import_the_check_module_once(
    lab, worker, folder, tmp_path
):
    for _ in range(3):
        assert run_checks(lab, folder, worker=worker).status == "passed"
    assert imports(tmp_path) == 1


def test_a_changed_check_file_is_collected_again(lab, worker, folder, tmp_path):
    assert run_checks(lab, folder, worker=worker).status == "passed"
    checks = lab.checks_dir / "test_moments.py"
    text = checks.read_text().replace(
        "def test_mean_matches_statistics(", "def test_mean_is_right("
    )
    checks.write_text(text)
    later = time.time() + 5  # a distinct time stamp even on a coarse clock
    os.utime(checks, (later, later))
    report = run_checks(lab, folder, worker=worker)
    assert report.status == "passed"
    assert "test_mean_is_right" in outcomes(report)
    assert imports(tmp_path) == 2


def test_a_save_between_two_warm_runs_is_seen(lab, worker, folder):
    assert run_checks(lab, folder, worker=worker).status == "passed"
    save(folder, "failing")
    report = run_checks(lab, folder, worker=worker)
    assert outcomes(report) == {
        "test_mean_matches_statistics": "passed",
        "test_variance_matches_statistics": "failed",
    }
    save(folder, "passing")
    assert run_checks(lab, folder, worker=worker).status == "passed"


def test_a_per_run_seed_and_selection_are_honoured(lab, worker, folder):
    save(folder, WRONG_ON_SEEDED_INPUT)
    warm = {s: run_checks(lab, folder, worker=worker, seed=s) for s in (7, 8, 7)}
    cold = run_checks(lab, folder, seed=7)
    message = lambda r: by_name(r)["test_variance_matches_statistics"].what
    assert warm[7].seed == 7 and warm[8].seed == 8
    assert "variance([" in message(warm[7])
    assert message(warm[7]) == message(cold)  # the same inputs as a cold run's
    assert message(warm[8]) != message(warm[7])  # the seed chose other inputs
    only = run_checks(
        lab, folder, worker=worker, select=["test_variance_matches_statistics"]
    )
    assert list(outcomes(only)) == ["test_variance_matches_statistics"]
    everything = run_checks(lab, folder, worker=worker)
    assert len(everything.results) == 2


def by_name(report):
    return {r.name: r for r in report.results}


@pytest.mark.parametrize(
    "variant", ["segfault", "hangs", EXITS], ids=["segfault", "hangs", "exits"]
)
def test_a_crash_hang_or_exit_leaves_the_next_run_correct(
    lab, worker, folder, tmp_path, variant
):
    assert run_checks(lab, folder, worker=worker).status == "passed"
    save(folder, variant)
    bad = run_checks(lab, folder, worker=worker, timeout=3)
    assert bad.status != "passed"
    assert "test_mean_matches_statistics" not in {
        r.name for r in bad.results if r.outcome == "passed"
    }
    save(folder, "failing")
    after = run_checks(lab, folder, worker=worker)
    assert outcomes(after)["test_variance_matches_statistics"] == "failed"
    save(folder, "passing")
    assert run_checks(lab, folder, worker=worker).status == "passed"
    assert imports(tmp_path) == 1  # all of it from the one collection


def test_forged_records_are_still_rejected(lab, worker, folder):
    assert run_checks(lab, folder, worker=worker).status == "passed"
    save(folder, FORGES)
    report = run_checks(lab, folder, worker=worker)
    assert report.status == "crashed"
    assert "not written by labpath" in report.message
    assert report.passed == 0


def test_checks_switched_off_by_the_learners_code_still_fail(lab, worker, folder):
    assert run_checks(lab, folder, worker=worker).status == "passed"
    save(folder, SWITCHES_CHECKS_OFF)
    report = run_checks(lab, folder, worker=worker)
    assert report.status == "failed"
    first = report.results[0]
    assert first.outcome == "failed"
    assert "your code replaced labpath.checks.kit.fail" in first.message


def test_a_check_module_that_imports_the_learners_code_is_never_reused(
    lab, worker, folder, tmp_path
):
    checks = lab.checks_dir / "test_moments.py"
    checks.write_text(
        checks.read_text() + "\n_LEARNER = kit.learner_module('moments')\n"
    )
    assert run_checks(lab, folder, worker=worker).status == "passed"
    save(folder, "failing")
    report = run_checks(lab, folder, worker=worker)
    assert outcomes(report)["test_variance_matches_statistics"] == "failed"
    # the collector's import and each run's own: nothing stale was reused
    assert imports(tmp_path) == 3


def test_a_check_module_that_reads_the_seed_at_import_is_never_reused(
    lab, worker, folder, tmp_path
):
    checks = lab.checks_dir / "test_moments.py"
    checks.write_text(checks.read_text() + "\n_SEED_AT_IMPORT = kit.seed()\n")
    save(folder, WRONG_ON_SEEDED_INPUT)
    warm = {s: run_checks(lab, folder, worker=worker, seed=s) for s in (7, 8)}
    cold = run_checks(lab, folder, seed=8)
    message = lambda r: by_name(r)["test_variance_matches_statistics"].what
    assert message(warm[8]) == message(cold)  # not the first run's seed
    # the collector's import, then each run's own: the collection was refused
    assert imports(tmp_path) >= 3


def test_a_learners_warnings_and_log_lines_change_no_outcome(
    lab, worker, folder, monkeypatch
):
    # DeprecationWarning stays ignored in a check even where the learner's environment
    # makes warnings errors, cold and warm alike.
    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    save(folder, WARNS_AND_LOGS)
    assert run_checks(lab, folder).status == "passed"
    for _ in range(2):
        assert run_checks(lab, folder, worker=worker).status == "passed"


def test_another_learner_folder_reuses_the_collection_and_its_tripwires(
    lab, worker, folder, tmp_path
):
    # The tiny lab forbids statistics: the tripwires guard each run's own folder.
    other = tmp_path / "other"
    other.mkdir()
    save(other, "uses_statistics")
    for _ in range(2):
        assert run_checks(lab, folder, worker=worker).status == "passed"
        report = run_checks(lab, other, worker=worker)
        assert report.status == "failed"
        first = report.results[0]
        assert "your code uses statistics, which this lab forbids" in first.message
    assert imports(tmp_path) == 1


def test_the_folder_labpath_runs_in_shadows_nothing_in_a_warm_run(
    lab, folder, tmp_path, monkeypatch
):
    # A cold run's pytest starts in the run's own folder; the warm worker must not put
    # the learner's working folder first on sys.path either: here it holds another
    # labpath (a clone, say) and a pytest.py.
    where = tmp_path / "cwd"
    (where / "labpath").mkdir(parents=True)
    (where / "labpath" / "__init__.py").write_text("raise ImportError('a clone')\n")
    (where / "pytest.py").write_text("raise ImportError('not pytest')\n")
    monkeypatch.chdir(where)
    worker = Worker()
    try:
        for _ in range(2):
            assert run_checks(lab, folder, worker=worker).status == "passed"
    finally:
        worker.stop()
    assert run_checks(lab, folder).status == "passed"
