"""The check runner against real learner folders: passes, failures, crashes, hangs, exits."""

import shutil
from pathlib import Path

import pytest

from labpath import devcheck, labs
from labpath.checks.runner import run_checks

from .conftest import DATA

LAB = labs.load("micrograd")
SAMPLES = DATA / "micrograd"


def outcomes(report):
    return {r.name: r.outcome for r in report.results}


@pytest.mark.torch
def test_solution_passes_every_check():
    report = run_checks(LAB, LAB.solution_dir)
    assert report.status == "passed", report.output
    assert report.passed == report.total >= 18


@pytest.mark.torch
def test_starter_is_reported_not_started_not_wrong():
    report = run_checks(LAB, LAB.starter_dir)
    assert report.status == "not_started"
    assert report.count("failed") == 0
    first = next(r for r in report.results if r.outcome == "not_started")
    assert "NotImplementedError" in first.message and "engine.py:" in first.message


@pytest.mark.torch
def test_repository_shaped_value_passes_with_missing_ops_skipped():
    report = run_checks(LAB, SAMPLES / "repo_shape")
    assert report.status == "passed", report.output
    assert outcomes(report)["test_tanh_matches_torch"] == "skipped"
    assert outcomes(report)["test_exp_matches_torch"] == "skipped"
    assert outcomes(report)["test_random_graphs_match_torch[30]"] == "passed"


@pytest.mark.torch
def test_lecture_shaped_value_passes_with_missing_ops_skipped():
    report = run_checks(LAB, SAMPLES / "lecture_shape")
    assert report.status == "passed", report.output
    got = outcomes(report)
    for name in (
        "test_relu_matches_torch",
        "test_number_minus_value",
        "test_number_divided_by_value",
        "test_readme_expression_matches_torch",
    ):
        assert got[name] == "skipped"
    assert got["test_tanh_matches_torch"] == "passed"


@pytest.mark.torch
def test_repository_root_layout_is_found(tmp_path):
    # <root>/micrograd/engine.py with an __init__.py, as in a clone of the repository
    (tmp_path / "micrograd").mkdir()
    (tmp_path / "micrograd" / "__init__.py").write_text("")
    shutil.copy(
        SAMPLES / "repo_shape" / "engine.py", tmp_path / "micrograd" / "engine.py"
    )
    assert run_checks(LAB, tmp_path).status == "passed"
    assert run_checks(LAB, tmp_path / "micrograd").status == "passed"


@pytest.mark.torch
def test_wrong_gradient_is_a_failure_with_yours_expected_and_diagnosis(tmp_path):
    bug = next(b for b in devcheck.load_bugs(LAB) if b.id == "mul-overwrites-grad")
    devcheck.apply_bug(LAB, bug, tmp_path / "code")
    report = run_checks(LAB, tmp_path / "code", seed=7)
    assert report.status == "failed"
    failed = {r.name: r for r in report.results if r.outcome == "failed"}
    reuse = failed["test_reused_node_accumulates_gradient"]
    assert reuse.what == "d(a * a)/da at a=3"
    assert (reuse.yours, reuse.expected) == ("3", "6")
    assert "+=" in reuse.diagnosis
    assert reuse.seed == 7
    assert "test_add_matches_torch" not in failed


@pytest.mark.torch
@pytest.mark.parametrize(
    "sample, timeout, status, words",
    [
        ("hang", 12, "timeout", "did not finish within 12s while running test_"),
        ("segfault", 300, "crashed", "SIGSEGV"),
    ],
)
def test_processes_that_never_report_are_never_a_pass(sample, timeout, status, words):
    report = run_checks(LAB, SAMPLES / sample, timeout=timeout)
    assert report.status == status
    assert words in report.message


@pytest.mark.torch
def test_os_exit_at_import_fails_every_check_by_name():
    report = run_checks(LAB, SAMPLES / "os_exit_at_import")
    assert report.status == "failed"
    assert report.passed == 0
    assert "your code called os._exit(0)" in report.results[0].message


@pytest.mark.torch
def test_sys_exit_at_import_fails_every_check():
    report = run_checks(LAB, SAMPLES / "exit_at_import")
    assert report.status == "failed"
    assert report.passed == 0


@pytest.mark.torch
def test_os_exit_inside_a_check_is_a_named_failure():
    report = run_checks(LAB, SAMPLES / "os_exit_in_check")
    assert report.status == "failed"
    seeded = {r.name: r for r in report.results}["test_backward_seeds_output_gradient"]
    assert seeded.outcome == "failed" and "os._exit(0)" in seeded.message


@pytest.mark.torch
def test_syntax_error_names_file_and_line():
    report = run_checks(LAB, SAMPLES / "syntax_error")
    assert report.status == "failed"
    assert "engine.py:2: SyntaxError" in report.results[0].message


@pytest.mark.torch
def test_missing_value_class_and_missing_file_are_failures(tmp_path):
    report = run_checks(LAB, SAMPLES / "no_value")
    assert report.status == "failed"
    assert "no class named Value" in report.results[0].what
    empty = run_checks(LAB, tmp_path)
    assert empty.status == "failed"
    assert "no engine.py found" in empty.results[0].message


def test_harness_failure_is_not_blamed_on_the_learner(tmp_path, monkeypatch):
    broken = tmp_path / "lab"
    shutil.copytree(LAB.directory, broken)
    (broken / "checks" / "test_engine.py").write_text(
        "import no_such_module_for_labpath\n"
    )
    lab = labs.Lab(**{**LAB.__dict__, "directory": broken})
    report = run_checks(lab, LAB.solution_dir)
    assert report.status == "harness_error"
    assert "not your code" in report.message


@pytest.mark.torch
def test_selecting_an_unknown_check_is_a_harness_error():
    report = run_checks(LAB, LAB.solution_dir, select=["test_does_not_exist"])
    assert report.status == "harness_error"


GC_CHECK = '''

def test_cycles_the_code_drops_are_collected_as_it_runs(moments):
    """The collector is on while checks run: dropped cycles go without a gc.collect()."""
    import gc
    import weakref

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    gone = cycle()
    assert gc.isenabled()
    for _ in range(200_000):  # allocations enough for the collector to run by itself
        cycle()
    assert gone() is None
'''


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_the_garbage_collector_runs_during_checks_after_start_up(tmp_path, warm):
    from labpath.checks.runner import Worker
    from labpath.labspec import read_lab

    lab = tmp_path / "tiny"
    shutil.copytree(
        DATA / "labs" / "tiny", lab, ignore=shutil.ignore_patterns("variants")
    )
    (lab / "checks" / "test_gc.py").write_text(GC_CHECK)
    worker = Worker() if warm else None
    try:
        report = run_checks(read_lab(lab / "lab.yaml"), lab / "solution", worker=worker)
    finally:
        if worker is not None:
            worker.stop()
    assert report.status == "passed", report.output
    assert outcomes(report)["test_cycles_the_code_drops_are_collected_as_it_runs"] == (
        "passed"
    )


TMP_CHECK = '''

def test_writes_in_its_temporary_folder(moments, tmp_path):
    """A check's tmp_path: the run's own, removed with it."""
    import os

    (tmp_path / "scratch.txt").write_text("x")
    with open(os.environ["LABPATH_TEST_MARK"], "w") as fh:
        fh.write(str(tmp_path))
'''


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_checks_temporary_folder_goes_with_the_run(tmp_path, warm, monkeypatch):
    # A run ends as soon as its results are written, without pytest's exit-time
    # cleanup; the temporary folders its checks used are inside the run's own folder,
    # which labpath removes, so nothing piles up in the system's temp folder.
    from labpath.checks.runner import Worker
    from labpath.labspec import read_lab

    lab = tmp_path / "tiny"
    shutil.copytree(
        DATA / "labs" / "tiny", lab, ignore=shutil.ignore_patterns("variants")
    )
    (lab / "checks" / "test_tmp.py").write_text(TMP_CHECK)
    mark = tmp_path / "mark"
    monkeypatch.setenv("LABPATH_TEST_MARK", str(mark))
    worker = Worker() if warm else None
    try:
        for _ in range(2):  # a warm worker's second run uses the same collection
            report = run_checks(
                read_lab(lab / "lab.yaml"), lab / "solution", worker=worker
            )
            assert report.status == "passed", report.output
            used = Path(mark.read_text())
            assert used.name.startswith("test_writes_in_its_temporary")
            assert not used.exists()
            assert "labpath-check-" in str(used)
            mark.unlink()
    finally:
        if worker is not None:
            worker.stop()
