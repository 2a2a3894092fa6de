"""dev check's diagnosis proof, and catalogued bugs that must name only their own mistake."""

import tempfile
from pathlib import Path

import pytest

from labpath import devcheck, labs
from labpath.checks.procs import Worker
from labpath.checks.runner import CheckResult, run_checks


def bug(diagnosis=None):
    return devcheck.Bug("b", "a bug", "f.py", (("x", "y"),), "test_it", diagnosis)


def result(name="test_it", diagnosis=None):
    return CheckResult(name=name, outcome="failed", diagnosis=diagnosis)


def test_a_bug_that_names_its_own_mistake_is_proven():
    assert (
        devcheck.diagnosis_problem(bug("use +="), [result(diagnosis="so use += here")])
        is None
    )
    assert devcheck.diagnosis_problem(bug(), [result()]) is None


def test_a_diagnosis_the_bug_does_not_declare_is_an_error():
    problem = devcheck.diagnosis_problem(
        bug(), [result(diagnosis="keep a visited set")]
    )
    assert "declares no diagnosis" in problem and "keep a visited set" in problem


def test_another_mistakes_diagnosis_is_an_error():
    results = [result(diagnosis="use +="), result("test_other", "keep a visited set")]
    problem = devcheck.diagnosis_problem(bug("use +="), results)
    assert problem == "test_other names another mistake: 'keep a visited set'"


def test_a_declared_diagnosis_that_is_not_printed_is_an_error():
    problem = devcheck.diagnosis_problem(bug("use +="), [result()])
    assert problem == "test_it does not name the mistake ('use +=')"


@pytest.fixture(scope="module")
def worker():
    """One warm worker for the module's runs, as dev check runs its bugs."""
    warm = Worker()
    yield warm
    warm.stop()


def reports_for(lab_id, bug_id, checks, worker=None):
    lab = labs.load(lab_id)
    (found,) = [b for b in devcheck.load_bugs(lab) if b.id == bug_id]
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "code"
        devcheck.apply_bug(lab, found, dest)
        report = run_checks(lab, dest, select=checks, worker=worker)
    return {r.name: r for r in report.results}


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize(
    "bug_id, words",
    [
        ("add-overwrites-grad", "use += in every _backward"),
        ("forgot-reversed", "walk the topological order reversed"),
        ("no-visited-set", "keep a visited set"),
    ],
)
def test_micrograd_names_the_backward_mistake_it_sees(bug_id, words, worker):
    checks = [
        "test_reused_node_accumulates_gradient",
        "test_diamond_graph_propagates_in_topological_order",
    ]
    results = reports_for("micrograd", bug_id, checks, worker)
    assert any(r.outcome == "failed" for r in results.values())
    for r in results.values():
        assert r.diagnosis is None or words in r.diagnosis, (r.name, r.diagnosis)
    assert any(r.diagnosis for r in results.values())
