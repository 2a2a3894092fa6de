"""The pytest plugin loaded into every check run: learner import path and JSON results."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from labpath.checks import kit

_REAL_EXIT = os._exit


def _write(record: dict) -> None:
    report = os.environ.get("LABPATH_REPORT")
    if not report:
        return
    line = json.dumps(record, default=str) + "\n"
    # One write per record, flushed at once, so a crash loses at most the running check.
    with open(report, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()


def _refuse_exit(code=0):
    raise kit.LearnerExit(f"your code called os._exit({code}) during a check")


def pytest_configure(config):
    target = os.environ.get("LABPATH_TARGET")
    if target:
        kit.use_target(Path(target))
    # A learner's os._exit would end the run silently; make it a visible failure instead.
    os._exit = _refuse_exit
    rules = json.loads(os.environ.get("LABPATH_FORBIDDEN") or "[]")
    if rules and target:
        from labpath.checks import forbid

        roots = [Path(target)] + [
            Path(p) for p in json.loads(os.environ.get("LABPATH_USES") or "{}").values()
        ]
        checks = Path(str(config.rootpath))
        forbid.install(rules, roots, checks, kit.record_forbidden)


def pytest_unconfigure(config):
    os._exit = _REAL_EXIT


def pytest_collection_modifyitems(session, config, items):
    wanted = [n for n in os.environ.get("LABPATH_SELECT", "").split(",") if n]
    if wanted:
        names = {item.originalname or item.name for item in items}
        missing = [n for n in wanted if n not in names]
        if missing:
            _write({"type": "harness_error", "message": f"no check named {missing}"})
        keep = [i for i in items if (i.originalname or i.name) in wanted]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    _write({"type": "collected", "names": [i.name for i in items]})


def pytest_collectreport(report):
    if report.failed:
        text = str(report.longrepr).strip().splitlines()
        detail = text[-1] if text else "collection failed"
        _write({"type": "harness_error", "message": f"{report.nodeid}: {detail}"})


def pytest_internalerror(excrepr, excinfo):
    _write({"type": "harness_error", "message": str(excinfo.value)[:500]})


def pytest_runtest_logstart(nodeid, location):
    _write({"type": "start", "name": nodeid.split("::")[-1], "at": time.time()})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and not call.excinfo.errisinstance(
        pytest.skip.Exception
    ):
        report.labpath = kit.classify(call.excinfo.value, call.when)
    report.labpath_doc = (item.function.__doc__ or "").strip().splitlines()[0:1]


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::")[-1]
    doc = (getattr(report, "labpath_doc", None) or [""])[0]
    base = {"type": "result", "name": name, "doc": doc}
    if report.when == "setup" and report.skipped:
        _write({**base, "outcome": "skipped", "message": _skip_reason(report)})
    elif report.when in ("setup", "call") and report.failed:
        info = getattr(report, "labpath", None) or {"outcome": "failed"}
        _write(
            {
                **base,
                "duration": report.duration,
                "artifacts": kit.artifacts_of(name),
                **info,
            }
        )
    elif report.when == "call" and report.skipped:
        _write({**base, "outcome": "skipped", "message": _skip_reason(report)})
    elif report.when == "call" and report.passed:
        _write({**base, "outcome": "passed", "duration": report.duration,
                "artifacts": kit.artifacts_of(name)})  # fmt: skip


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_sessionfinish(session, exitstatus):
    _write({"type": "finished", "exitstatus": int(exitstatus)})
    sys.stdout.flush()
