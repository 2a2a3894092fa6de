"""The pytest plugin loaded into every check run: learner import path and signed results."""

from __future__ import annotations

import gc
import os
import signal
import sys
import time
import unittest
import warnings
from pathlib import Path

import pytest

from labpath.checks import _harness, kit, protocol
from labpath.checks import result as rec

_REAL_EXIT = os._exit

# A check run imports pytest, torch and the checks before the first check runs, and
# the garbage collector walking the growing heap over and over was about a tenth of
# torch's import. Collection is off until the checks are collected (then what exists
# is frozen and collection is on again); only in a run labpath started, never in a
# process that merely imports this module.
_GC_PAUSED = bool(os.environ.get(protocol.REPORT)) and gc.isenabled()
if _GC_PAUSED:
    gc.disable()

# The pytest process itself (set when the run begins); a process the learner's code
# forks is never guarded and never writes results.
_GUARDED_PID = -1


def _die_with_parent() -> None:
    """End this process when labpath does (Linux), even if labpath is killed outright."""
    parent = os.environ.pop(protocol.PARENT, None)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # labpath died before the line above
        _REAL_EXIT(3)


def _take_key() -> bytes | None:
    """The run's signing key, read from the pipe labpath handed over, which then closes."""
    fd = os.environ.pop(protocol.KEY_FD, None)
    if fd is None:
        return None
    fd = int(fd)
    key = b""
    try:
        while len(key) < 32:
            chunk = os.read(fd, 32 - len(key))
            if not chunk:
                break
            key += chunk
    finally:
        os.close(fd)
    return key


def _make_writer(key: bytes | None, path: str | None):
    seq = [0]

    def write(record: dict) -> None:
        if not path or os.getpid() != _GUARDED_PID:
            return
        if record.get("type") == rec.RESULT:
            # Only what result.py defines (and any extra key) crosses to labpath.
            record = rec.CheckResult.from_record(record).to_record()
        line = rec.signed_line(key, record, seq[0])
        seq[0] += 1
        # One write per record, flushed at once, so a crash loses at most the running check.
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()

    return write


_write = _make_writer(None, None)


def _begin() -> None:
    global _GUARDED_PID, _write
    _GUARDED_PID = os.getpid()
    _die_with_parent()
    spec = protocol.decode()
    _harness.cap_memory(spec.device)
    _write = _make_writer(_take_key(), str(spec.report) if spec.report else None)


def _refuse_exit(code=0):
    if os.getpid() != _GUARDED_PID:  # a forked worker ends as it means to
        _REAL_EXIT(code)
    raise _harness.LearnerExit(f"your code called os._exit({code}) during a check")


def pytest_configure(config):
    _begin()
    # pytest's warnings plugin is off in a check run (runner.pytest_command); this is
    # the one filter labpath's runs had from it, kept even where PYTHONWARNINGS=error.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    config.addinivalue_line(
        "markers", "labpath_after(*checks): run only if none of these checks failed"
    )
    spec = protocol.decode()
    if spec.target is not None:
        kit.use_target(spec.target)
    # A learner's os._exit would end the run silently; make it a visible failure instead.
    os._exit = _refuse_exit
    if spec.forbidden and spec.target is not None:
        from labpath.checks import forbid

        rules = [{"name": r.name, "why": r.why} for r in spec.forbidden]
        roots = [spec.target, *spec.uses.values()]
        checks = Path(str(config.rootpath))
        forbid.install(rules, roots, checks, _harness.record_forbidden)


_STATE = {"exitstatus": None}


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    os._exit = _REAL_EXIT
    # Every check has reported, and its records are written: the run ends here, as
    # pytest would end it. What is left is the interpreter's teardown of torch, pytest
    # and the checks (about a tenth of a cold check), and, when the learner's code left
    # a thread running (not a daemon), a wait that would hold the run open.
    if _STATE["exitstatus"] is not None and os.getpid() == _GUARDED_PID:
        sys.stdout.flush()
        sys.stderr.flush()
        _REAL_EXIT(_STATE["exitstatus"])


def begin_run(session) -> None:
    """In a process forked after collection: take this run's spec, key and selection.

    The collection was made once, for every run of the same checks; what differs
    from run to run (results file, key, learner folder, seed, selection) is read here.
    """
    _begin()
    spec = protocol.decode()
    if spec.target is not None:
        kit.use_target(spec.target)
        if spec.forbidden:  # armed at configuration, for the collection's folder
            from labpath.checks import forbid

            forbid.retarget([spec.target, *spec.uses.values()])
    _select(session.config, session.items)
    # The collection's snapshot stands, less this run's writer, which _begin set: taken
    # again, it walked every module, touching pages the fork had only shared (about
    # 10 ms of each re-check). The learner's code has not run yet in this process.
    _INTEGRITY.rebind(sys.modules[__name__])


def pytest_collection_modifyitems(session, config, items):
    _builds_on_last(items)
    _select(config, items)


def _builds_on_last(items) -> None:
    """Move a check marked kit.after behind the checks it names when one of them would
    run later: pytest runs the files in name order, so a training check in test_a.py
    would otherwise run before the quick checks of test_b.py it builds on, and never
    be skipped. Checks already in order keep their places."""

    def name(item) -> str:
        return item.originalname or item.name

    for _ in range(len(items)):  # a cycle of kit.after stops here, in some order
        for i, item in enumerate(items):
            marker = item.get_closest_marker("labpath_after")
            needs = set(marker.args) if marker else ()
            later = [j for j in range(i + 1, len(items)) if name(items[j]) in needs]
            if later:
                items.insert(later[-1], items.pop(i))  # just behind the last of them
                break
        else:
            return


def _select(config, items) -> None:
    wanted = list(protocol.decode().select)
    if wanted:
        names = {item.originalname or item.name for item in items}
        missing = [n for n in wanted if n not in names]
        if missing:
            _write({"type": rec.HARNESS_ERROR, "message": f"no check named {missing}"})
        keep = [i for i in items if (i.originalname or i.name) in wanted]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    _write({"type": rec.COLLECTED, "names": [i.name for i in items]})


def pytest_collection_finish(session):
    _INTEGRITY.snapshot(Path(str(session.config.rootpath)))
    # What torch, pytest and the collected checks made lives as long as the run, and a
    # full collection walked all of it each time: a scalar autograd engine (every node
    # in a reference cycle through its _backward closure) makes enough nodes to trigger
    # one every few hundred thousand, which cost the mlp lab's training check about a
    # third of its time. Frozen, no collection walks those objects again.
    gc.freeze()
    if _GC_PAUSED:
        gc.enable()


def pytest_collectreport(report):
    if report.failed:
        text = str(report.longrepr).strip().splitlines()
        detail = text[-1] if text else "collection failed"
        _write({"type": rec.HARNESS_ERROR, "message": f"{report.nodeid}: {detail}"})


def pytest_internalerror(excrepr, excinfo):
    _write({"type": rec.HARNESS_ERROR, "message": str(excinfo.value)[:500]})


def pytest_keyboard_interrupt(excinfo):
    exc = excinfo.value
    if isinstance(exc, (pytest.Session.Interrupted, pytest.Session.Failed)):
        return  # pytest's own stop after a collection error, reported as such
    if isinstance(exc, pytest.exit.Exception):
        what = f"pytest.exit({exc.msg!r}, returncode={exc.returncode!r})"
    else:
        what = f"{type(exc).__name__}"
    _write(
        {
            "type": rec.INTERRUPTED,
            "what": what,
            "name": _STATE.get("running"),
            "where": _harness.learner_location(exc),
        }
    )


def pytest_runtest_logstart(nodeid, location):
    _STATE["running"] = nodeid.split("::")[-1]
    kit._NOTES.clear()
    _write({"type": rec.START, "name": _STATE["running"], "at": time.time()})


# Outcomes so far, by check name and by name without parameters (a check builds on
# "test_x" fails when any test_x[...] failed).
_OUTCOMES: dict[str, str] = {}
_BAD = ("failed", "error")


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("labpath_after")
    for check in marker.args if marker else ():
        if _OUTCOMES.get(check) in _BAD:
            pytest.skip(f"skipped: fix {check} first (this check builds on it)")


def _remember(name: str, outcome: str) -> None:
    _OUTCOMES[name] = outcome
    base = name.split("[")[0]
    if base != name and _OUTCOMES.get(base) not in _BAD:
        _OUTCOMES[base] = outcome


# A failure shared by many checks (a session fixture that imports the learner's file)
# is reported in full once; the checks after it say what to fix first.
_SHARED: dict[int, tuple[BaseException, str, str]] = {}


def _is_skip(exc) -> bool:
    return isinstance(exc, (pytest.skip.Exception, unittest.SkipTest))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    excinfo = call.excinfo  # before pytest turns a unittest.SkipTest into its own skip
    outcome = yield
    report = outcome.get_result()
    if excinfo is not None and _is_skip(excinfo.value):
        where = _harness.learner_location(excinfo.value)
        if where is not None:  # only labpath's checks may skip a check
            kind = type(excinfo.value).__name__
            report.outcome = "failed"
            report.longrepr = f"the learner's code skipped the check ({kind})"
            report.labpath = {
                "outcome": "failed",
                "message": f"your code skipped this check ({kind}: {excinfo.value}); "
                "only labpath skips a check, for an optional feature you left out",
                "learner_location": where,
                "seed": kit.seed(),
            }
    elif excinfo is not None:
        exc = excinfo.value
        seen = _SHARED.get(id(exc))
        name = item.nodeid.split("::")[-1]
        if seen is not None and seen[0] is exc and seen[2] in _BAD:
            report.labpath = {
                "outcome": "skipped",
                "message": f"skipped: fix {seen[1]} first (the same error stops this check)",
            }
        else:
            report.labpath = _harness.classify(exc, call.when)
            if call.when == "setup":
                _SHARED[id(exc)] = (exc, name, report.labpath.get("outcome"))
    report.labpath_doc = (item.function.__doc__ or "").strip().splitlines()[0:1]


_PENDING: dict[str, dict] = {}


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::")[-1]
    doc = (getattr(report, "labpath_doc", None) or [""])[0]
    base = {"type": rec.RESULT, "name": name, "doc": doc}
    record = None
    if report.when in ("setup", "call") and report.skipped:
        record = {**base, "outcome": "skipped", "message": _skip_reason(report)}
    elif report.when in ("setup", "call") and report.failed:
        info = getattr(report, "labpath", None) or {"outcome": "failed"}
        record = {
            **base,
            "duration": report.duration,
            "artifacts": _harness.artifacts_of(name),
            "notes": list(kit._NOTES),
            **info,
        }
    elif report.when == "call" and report.passed:
        record = {
            **base,
            "outcome": "passed",
            "duration": report.duration,
            "artifacts": _harness.artifacts_of(name),
            "notes": list(kit._NOTES),
        }
    if record is not None:
        _PENDING.setdefault(report.nodeid, record)
    if report.when != "teardown":
        return
    # The result is written after teardown, once the check's own patches are undone,
    # and only if labpath's and torch's functions are still the ones they were.
    record = _PENDING.pop(report.nodeid, None) or {**base, "outcome": "failed"}
    changed = _INTEGRITY.changed()
    if changed:
        record = {
            **base,
            "outcome": "failed",
            "seed": kit.seed(),
            "message": f"your code replaced {changed[0]}, which the checks rely "
            "on; no result can be trusted after that (restored for later checks)",
        }
    elif report.failed and record.get("outcome") in ("passed", "skipped"):
        info = getattr(report, "labpath", None) or {}
        record = {
            **base,
            "outcome": "failed",
            "seed": kit.seed(),
            "message": "cleaning up after the check failed: "
            + str(info.get("message") or "error in teardown"),
        }
    _remember(name, record.get("outcome", "failed"))
    _write(record)


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_sessionfinish(session, exitstatus):
    _STATE["exitstatus"] = int(exitstatus)
    _write({"type": rec.FINISHED, "exitstatus": int(exitstatus)})
    sys.stdout.flush()


class _Integrity:
    """The functions the checks trust, by identity, so a replacement is noticed."""

    def __init__(self):
        self.entries: list[tuple[str, dict, str, object]] = []
        self.modules: list[tuple[str, object]] = []

    def snapshot(self, checks: Path) -> None:
        import builtins
        import math

        spaces = [
            ("builtins", builtins, _BUILTINS),
            ("math", math, None),
            ("os", os, ("_exit", "kill", "getpid", "fork")),
            ("labpath.checks.kit", kit, None),
            ("labpath.checks._harness", _harness, None),
            ("labpath.checks.protocol", protocol, None),
            ("labpath.checks.result", rec, None),
            ("labpath.checks.plugin", sys.modules[__name__], None),
            ("labpath.checks.forbid", sys.modules.get("labpath.checks.forbid"), None),
        ]
        torch = sys.modules.get("torch")
        if torch is not None:
            # What the checks compare with, not all of torch: torch itself rebinds a
            # few of its own functions (torch.manual_seed) while it runs.
            spaces += [
                ("torch", torch, _TORCH),
                ("torch.testing", getattr(torch, "testing", None), ("assert_close",)),
                ("torch.Tensor", torch.Tensor, None),
            ]
        root = str(checks.resolve()) + os.sep
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None)
            if isinstance(file, str) and file.startswith(root):
                spaces.append((name, mod, None))
        spaces.append(("kit.CheckFailure", kit.CheckFailure, None))
        for name, obj, only in spaces:
            if obj is None:
                continue
            space = vars(obj)
            for key in only or list(space):
                value = space.get(key, _MISSING)
                if value is _MISSING:
                    continue
                if callable(value) or isinstance(
                    value, (staticmethod, classmethod, property)
                ):
                    self.entries.append((name, obj, key, value))
        self.modules = [(n, m) for n, m, _ in spaces if sys.modules.get(n) is m]

    def rebind(self, obj) -> None:
        """Trust obj's functions as they are now; every other entry stands."""
        space = vars(obj)
        self.entries = [
            (name, o, key, space.get(key, value) if o is obj else value)
            for name, o, key, value in self.entries
        ]

    def changed(self) -> list[str]:
        found = []
        for name, mod in self.modules:
            if sys.modules.get(name) is not mod:
                found.append(f"the module {name}")
                sys.modules[name] = mod
        for name, obj, key, value in self.entries:
            if vars(obj).get(key, _MISSING) is not value:
                found.append(f"{name}.{key}")
                try:
                    setattr(obj, key, value)
                except (AttributeError, TypeError):
                    pass
        return found


_MISSING = object()
_BUILTINS = tuple(
    (
        "abs all any float int isinstance len max min range repr round sorted str sum "
        "type zip __import__"
    ).split()
)
_TORCH = tuple(
    (
        "allclose isclose equal as_tensor tensor isnan isinf isfinite abs where "
        "argmax sign nan_to_num unravel_index all any max min sum mean exp log "
        "softmax stack cat zeros ones randn rand float64 no_grad"
    ).split()
)
_INTEGRITY = _Integrity()
