"""The check protocol: the run's spec as LABPATH_* variables, and results as records."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labpath import labs
from labpath.app import context
from labpath.app.check import check_spec
from labpath.checks import protocol, runner
from labpath.checks.protocol import CheckSpec, Rule
from labpath.checks.result import CheckReport, CheckResult, read_records, signed_line
from labpath.checks.verdict import build_report

from .conftest import ROOT


def full_spec(tmp_path: Path) -> CheckSpec:
    return CheckSpec(
        lab="mlp",
        target=tmp_path / "code",
        seed=7,
        uses={"micrograd": tmp_path / "mg"},
        forbidden=(Rule("torch.nn.LSTM", "write the cell"),),
        select=("test_a", "test_b"),
        data=tmp_path / "names.txt",
        device="cpu",
        artifacts=tmp_path / "plots",
        report=tmp_path / "r.jsonl",
        run="123-abc",
    )


def test_a_spec_survives_the_trip_through_the_environment(tmp_path):
    spec = full_spec(tmp_path)
    env = protocol.encode(spec)
    assert all(name.startswith("LABPATH_") for name in env)
    assert env[protocol.SELECT] == "test_a,test_b"
    assert json.loads(env[protocol.USES]) == {"micrograd": str(tmp_path / "mg")}
    assert protocol.decode(env) == spec


def test_an_empty_environment_decodes_to_the_defaults():
    spec = protocol.decode({})
    assert spec.target is None and spec.seed == protocol.DEFAULT_SEED
    assert spec.uses == {} and spec.forbidden == () and spec.select == ()
    assert spec.device is None and spec.data is None


def test_unset_options_are_not_sent(tmp_path):
    env = protocol.encode(CheckSpec(lab="micrograd", target=tmp_path))
    for name in (protocol.SELECT, protocol.DATA, protocol.DEVICE, protocol.ARTIFACTS):
        assert name not in env


def test_a_malformed_variable_is_a_value_error_not_a_silent_default():
    with pytest.raises(ValueError):
        protocol.decode({protocol.USES: "[1, 2]"})
    with pytest.raises(ValueError):
        protocol.decode({protocol.SEED: "seven"})


def test_every_variable_the_child_reads_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [
        v for k, v in vars(protocol).items() if k.isupper() and "LABPATH_" in str(v)
    ]
    assert len(names) == 13
    for name in names:
        assert f"| `{name}` |" in readme, name


def test_importing_the_runner_loads_no_lab_and_no_torch():
    code = (
        "import sys, labpath.checks.runner\n"
        "print([m for m in sys.modules if m.startswith('labpath.labs')"
        " or m.split('.')[0] in ('torch', 'pytest')])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_result_record_with_a_key_from_a_newer_labpath_keeps_it_aside():
    record = {
        "type": "result",
        "seq": 3,
        "name": "test_a",
        "outcome": "failed",
        "artifacts": ["a.png"],
        "confidence": 0.9,
        "fix": {"line": 4},
    }
    result = CheckResult.from_record(record)
    assert result.name == "test_a" and result.artifacts == ("a.png",)
    assert dict(result.extra) == {"confidence": 0.9, "fix": {"line": 4}}
    assert result == CheckResult("test_a", "failed", artifacts=("a.png",))
    again = CheckResult.from_record(result.to_record())
    assert again == result and dict(again.extra) == dict(result.extra)


def test_a_result_record_missing_keys_still_reads():
    result = CheckResult.from_record({"type": "result"})
    assert (result.name, result.outcome, result.extra) == ("", "failed", {})


def test_a_report_survives_the_trip_through_a_record():
    named = CheckResult("test_b", "failed", diagnosis="`=` instead of `+=`")
    report = CheckReport(
        "micrograd",
        ".",
        "failed",
        (CheckResult("a", "passed"), named),
        duration=1.5,
        seed=3,
        artifacts=("p.png",),
    )
    back = CheckReport.from_record(json.loads(json.dumps(report.to_record())))
    assert back == report and back.lead == named


def test_an_unknown_key_on_the_channel_does_not_crash_the_verdict(tmp_path):
    key = b"k" * 32
    records = [
        {"type": "collected", "names": ["test_a"]},
        {"type": "result", "name": "test_a", "outcome": "passed", "new_field": [1]},
        {"type": "finished", "exitstatus": 0},
    ]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(signed_line(key, r, i) for i, r in enumerate(records)))
    read, forged = read_records(path, key)
    assert forged == 0
    report = build_report("demo", tmp_path, read, 0, False, 10, 0.1, 1, "")
    assert report.status == "passed", report.message
    assert dict(report.results[0].extra) == {"new_field": [1]}


class PlainLab:
    """A lab made of plain-Python checks, written into tmp_path (no torch anywhere)."""

    def __init__(self, root: Path, check: str, uses=()):
        self.id, self.time_limit, self.seed = "plain", 120.0, 11
        self.forbidden, self.uses = (), tuple(uses)
        self.checks_dir = root / "checks"
        self.checks_dir.mkdir(parents=True)
        (self.checks_dir / "test_plain.py").write_text(check)


PLAIN_CHECKS = """import sys

from labpath.checks import kit


def test_add_is_right():
    calc = kit.learner_module("calc")
    if calc.add(2, 3) != 5:
        kit.fail("add(2, 3)", yours=calc.add(2, 3), expected=5)


def test_no_torch_was_needed():
    assert "torch" not in sys.modules, "the harness imported torch"


def test_a_newer_field():
    exc = kit.CheckFailure("shown as usual", hint="h")
    exc.fields["confidence"] = 0.5  # what a newer kit might add
    raise exc
"""


def test_a_real_run_of_plain_python_checks_reads_an_unknown_key(tmp_path):
    lab = PlainLab(tmp_path / "lab", PLAIN_CHECKS)
    code = tmp_path / "code"
    code.mkdir()
    (code / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    report = runner.run(runner.spec_for(lab, code))
    got = {r.name: r for r in report.results}
    assert report.status == "failed", (report.message, report.output[-2000:])
    assert got["test_add_is_right"].outcome == "passed"
    assert got["test_no_torch_was_needed"].outcome == "passed"
    newer = got["test_a_newer_field"]
    assert (newer.outcome, newer.what, newer.hint) == ("failed", "shown as usual", "h")
    assert newer.seed == 11
    assert dict(newer.extra) == {"confidence": 0.5}


def test_a_lab_that_builds_on_another_needs_it_resolved(tmp_path):
    lab = PlainLab(tmp_path / "lab", PLAIN_CHECKS, uses=["calc"])
    with pytest.raises(ValueError, match="plain builds on calc"):
        runner.spec_for(lab, tmp_path)
    spec = runner.spec_for(lab, tmp_path, {"calc": tmp_path / "calc"}, select=["t"])
    assert spec.uses == {"calc": tmp_path / "calc"} and spec.select == ("t",)
    assert spec.checks_dir == lab.checks_dir and spec.time_limit == 120.0


def test_a_check_uses_the_learners_own_folder_of_a_lab_it_builds_on(cli, ws):
    assert cli("init", ws).exit_code == 0
    ctx = context.load(str(ws))
    mlp = labs.load("mlp")
    reference = labs.load("micrograd").solution_dir
    assert check_spec(None, mlp, ws).uses == {"micrograd": reference}
    own = ctx.workspace.lab_dir("micrograd")
    own.mkdir(parents=True)
    assert check_spec(ctx, mlp, ws).uses == {"micrograd": reference}
    (own / "engine.py").write_text("class Value:\n    pass\n")
    spec = check_spec(ctx, mlp, ws, seed=5)
    assert spec.uses == {"micrograd": own} and spec.seed == 5
