"""Turn the records a check run wrote into a CheckReport: passed, failed or what went wrong."""

from __future__ import annotations

import os
import signal

from labpath.checks.result import (
    COLLECTED,
    CRASH,
    ERROR,
    FAIL,
    FAILED,
    FINISHED,
    HARNESS,
    HARNESS_ERROR,
    INTERRUPTED,
    NOT_DONE,
    NOT_STARTED,
    PASS,
    RESULT,
    START,
    TIMEOUT,
    CheckReport,
    CheckResult,
)


def build_report(
    lab: str,
    target,
    records: list[dict],
    returncode: int | None,
    timed_out: bool,
    timeout: float,
    elapsed: float,
    seed: int,
    output: str,
    forged: int = 0,
) -> CheckReport:
    """The report of a run of lab's checks on target, from what its process wrote."""
    results = []
    started = None
    finished = None
    interrupted = None
    collected = None
    harness = []
    for rec in records:
        kind = rec.get("type")
        if kind == START:
            started = rec.get("name")
        elif kind == COLLECTED:
            collected = list(rec.get("names") or [])
        elif kind == RESULT:
            results.append(CheckResult.from_record(rec))
            started = None
        elif kind == HARNESS_ERROR:
            harness.append(rec.get("message", "unknown error"))
        elif kind == INTERRUPTED:
            interrupted = rec
        elif kind == FINISHED:
            finished = rec
    common = dict(
        lab=lab,
        target=str(target),
        results=tuple(results),
        duration=elapsed,
        seed=seed,
        output=output,
    )
    during = f" while running {started}" if started else ""
    if timed_out:
        return CheckReport(
            status=TIMEOUT,
            message=f"the checks did not finish within {timeout:g}s{during}; "
            "an infinite loop or a very slow step in your code?",
            **common,
        )
    if forged:
        return CheckReport(
            status=CRASH,
            message=f"{forged} line(s) in labpath's results channel were not written "
            "by labpath, so no result of this run can be trusted - does your code "
            "write to labpath's files?",
            **common,
        )
    if finished is None:
        cause = _environment_cause(output)
        if cause:
            return CheckReport(
                status=CRASH,
                message=f"the check process ended early{during}: {cause}",
                **common,
            )
        how = _describe_exit(returncode)
        return CheckReport(
            status=CRASH,
            message=f"the check process ended early{during} ({how}) - "
            "does your code call sys.exit(), os._exit() or crash the interpreter?",
            **common,
        )
    if harness:
        return CheckReport(
            status=HARNESS,
            message="labpath's own checks failed to run (not your code): " + harness[0],
            **common,
        )
    if interrupted is not None:
        return _stopped_early(interrupted, started, collected, results, common)
    if not results:
        return CheckReport(
            status=HARNESS,
            message="no checks ran (labpath's check files found none)",
            **common,
        )
    names = [r.name for r in results]
    missing = [n for n in (collected or []) if n not in names]
    if collected is None or missing or len(names) != len(set(names)):
        first = f" (first: {missing[0]})" if missing else ""
        return CheckReport(
            status=CRASH,
            message=f"{len(missing)} of {len(collected or [])} checks never reported "
            f"a result{first} - does your code end or interrupt the check run?",
            **common,
        )
    if any(r.outcome in (FAILED, ERROR) for r in results):
        status = FAIL
    elif any(r.outcome == NOT_STARTED for r in results):
        status = NOT_DONE
    elif finished.get("exitstatus") != 0:
        return CheckReport(
            status=CRASH,
            message="every check reported a pass but pytest ended with exit status "
            f"{finished.get('exitstatus')} - does your code fail after a check, "
            "in a fixture's clean-up or at exit?",
            **common,
        )
    else:
        status = PASS
    return CheckReport(status=status, **common)


def _stopped_early(rec, started, collected, results, common) -> CheckReport:
    """The learner's code raised KeyboardInterrupt, signalled itself or called pytest.exit."""
    where = rec.get("where")
    what = rec.get("what") or "KeyboardInterrupt"
    name = rec.get("name") or started
    done = {r.name for r in results}
    left = [n for n in (collected or []) if n not in done and n != name]
    stopped = ()
    if name and name not in done:
        stopped = (
            CheckResult(
                name=name,
                outcome=FAILED,
                message=f"your code stopped the check run: {what}"
                + ("" if where else " (SIGINT or pytest.exit in your code?)"),
                learner_location=where,
                seed=common["seed"],
            ),
        )
    return CheckReport(
        status=FAIL,
        message=f"the run stopped at {name or 'start-up'}; "
        f"{len(left)} check(s) did not run. Only labpath may end a check run.",
        **{**common, "results": tuple(common["results"]) + stopped},
    )


_ENVIRONMENT_SIGNS = {
    "No space left on device": "no space left on the disk or in TMPDIR ({tmp}) "
    "(not your code); free some space or set TMPDIR to a folder with room",
    "Disk quota exceeded": "the disk quota is used up, so labpath could not write its "
    "results in TMPDIR ({tmp}) (not your code); free some space or set TMPDIR",
    "File too large": "a file-size limit (ulimit -f) stopped labpath writing its "
    "results (not your code); raise the limit: ulimit -f unlimited",
    "Bad file descriptor": "a file descriptor labpath needs was closed (not your "
    "code, unless it closes file descriptors); rerun from a normal terminal",
}


def _environment_cause(output: str) -> str | None:
    """A reason in the child's output that is the environment's fault, not the code's."""
    for mark, text in _ENVIRONMENT_SIGNS.items():
        if mark in output and "labpath" in output.split(mark)[0][-4000:]:
            return text.format(tmp=os.environ.get("TMPDIR") or "/tmp")
    return None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
