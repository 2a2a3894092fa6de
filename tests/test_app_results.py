"""The use cases' results take the decisions the ui only words: exit codes, where to
start after a check, notices by level, the schedule."""

import dataclasses

import pytest

from labpath import ui
from labpath.app.check import CheckOutcome, RecheckResult, RecheckRow
from labpath.app.results import WARNING, Notice, info, own_fields, warnings
from labpath.app.time import Skipped
from labpath.checks.runner import CheckReport, CheckResult
from labpath.timelog import Skip


def _outcome(status, *results):
    return CheckOutcome(CheckReport("micrograd", "/x", status, results), None, False)


def test_a_check_outcome_names_its_exit_code_and_where_to_start():
    plain = CheckResult("test_add", "failed")
    named = CheckResult("test_mul", "failed", diagnosis="you added instead")
    gap = CheckResult("test_tanh", "not_started", message="Value.tanh")
    assert _outcome("passed").exit_code == 0 and _outcome("passed").start_with is None
    failed = _outcome("failed", CheckResult("test_ok", "passed"), plain, named)
    assert failed.exit_code == 1 and failed.start_with is named
    started = _outcome("not_started", CheckResult("test_ok", "passed"), gap)
    assert started.exit_code == 1 and started.start_with is gap
    for status in ("timeout", "crashed", "harness_error"):
        assert _outcome(status).exit_code == 3


def test_check_all_fails_on_any_regression():
    rows = (RecheckRow("micrograd", "passed", "passed", 3, 3),)
    assert RecheckResult(rows).exit_code == 0
    worse = rows + (RecheckRow("mlp", "passed", "failed", 1, 3),)
    result = RecheckResult(worse)
    assert result.exit_code == 1 and result.regressions == ["mlp"]
    assert result.to_json()["labs"][1]["regressed"] is True


def test_notices_keep_their_level_and_json_leaves_them_out(capsys):
    notices = info("Created it", None) + warnings("git is slow")
    assert [n.level for n in notices] == ["info", WARNING]
    result = Skipped(Skip("01ABC", "2026-12-03", "ill"), notices)
    assert "notices" not in own_fields(result)
    assert result.to_json() == {"id": "01ABC", "date": "2026-12-03", "reason": "ill"}
    ui.show(result)
    err = capsys.readouterr().err
    assert "Created it" in err and "Warning: git is slow" in err
    assert "Warning: Created it" not in err


def test_results_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Notice("x").message = "y"
    with pytest.raises(dataclasses.FrozenInstanceError):
        _outcome("passed").recorded = True
