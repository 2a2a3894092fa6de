"""Harness internals beside the plugin: whose failure an exception is, and forbidden uses."""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path

from labpath.checks import kit, protocol
from labpath.checks.kit import (
    CheckFailure,
    CheckOverrun,
    HarnessError,
    LearnerImportError,
    seed,
)

# The data memory a check process may use (None: no cap), and the limit cap_memory
# lowered, to put back for a GPU run collected later in the same process.
MEMORY_CAP: int | None = None
_UNCAPPED: int | None = None


def cap_memory(device: str | None) -> None:
    """Cap this process's data memory (RLIMIT_DATA) at half the machine's, 4 GiB at
    least, so that a loop of the learner's that keeps appending ends in MemoryError
    within its check instead of swapping the machine to a halt. CPU runs only: a GPU
    driver maps memory of its own. Where the limit is already lower it stays.
    """
    global MEMORY_CAP, _UNCAPPED
    try:
        import resource

        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    except (ImportError, AttributeError, ValueError, OSError):
        return  # no such limit here (Windows), or no way to know the memory
    try:
        if (device or "cpu") != "cpu":
            if _UNCAPPED is not None:
                resource.setrlimit(resource.RLIMIT_DATA, (_UNCAPPED, hard))
                _UNCAPPED = None
            MEMORY_CAP = None
            return
        cap = max(total // 2, 4 << 30)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft != resource.RLIM_INFINITY and soft <= cap:
            MEMORY_CAP = soft
            return
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    except (ValueError, OSError):
        return
    _UNCAPPED, MEMORY_CAP = soft, cap


def out_of_memory_hint() -> str:
    size = "its share" if MEMORY_CAP is None else f"{MEMORY_CAP / (1 << 30):.1f} GiB"
    return (
        f"a check run may use {size} of memory here: a loop that never ends while it "
        "keeps appending, or a tensor far larger than the lab needs?"
    )


class LearnerExit(Exception):
    """The learner's code tried to end the process during a check."""


class ForbiddenUse(Exception):
    """The learner's code used an API the lab forbids."""


FORBIDDEN_USED: list[dict] = []


def record_forbidden(rule: dict) -> None:
    """Called by a tripwire: remember the use and stop the learner's code there."""
    if rule not in FORBIDDEN_USED:
        FORBIDDEN_USED.append(rule)
    raise ForbiddenUse(
        f"your code uses {rule['name']}, which this lab forbids: {rule['why']}"
    )


def forbidden_result() -> dict:
    names = ", ".join(r["name"] for r in FORBIDDEN_USED)
    why = FORBIDDEN_USED[0]["why"]
    return {
        "outcome": "failed",
        "message": f"your code uses {names}, which this lab forbids",
        "diagnosis": f"forbidden shortcut: {why}",
        "hint": "write it yourself from tensor operations; the checks compare with the library",
        "seed": seed(),
    }


def artifacts_of(check: str) -> list[str]:
    """The plots a check saved (through kit.artifact_path) that exist."""
    return [p for p in kit._ARTIFACTS.get(check, []) if Path(p).exists()]


# --- turning an exception into a result --------------------------------------------


def classify(exc: BaseException, when: str) -> dict:
    """Decide whose failure this is (not started, wrong, labpath's own) and describe it."""
    chain = list(_chain(exc))
    if any(isinstance(e, ForbiddenUse) for e in chain) and FORBIDDEN_USED:
        return forbidden_result()
    for e in chain:
        # Only a NotImplementedError the learner's own file raises is a gap not yet
        # written; one from inside torch (wrong arguments) is a mistake.
        if isinstance(e, NotImplementedError) and _raised_by_learner(e):
            loc = learner_location(e)
            what = _raiser(e)
            return {
                "outcome": "not_started",
                "message": f"{what} still raises NotImplementedError"
                + (f" ({loc})" if loc else ""),
                "learner_location": loc,
            }
    if isinstance(exc, (CheckFailure, CheckOverrun)):
        return {"outcome": "failed", **exc.fields}
    if isinstance(exc, HarnessError):
        return {"outcome": "error", "message": f"labpath's check failed: {exc}"}
    if isinstance(exc, (LearnerImportError, LearnerExit)):
        return {"outcome": "failed", "message": str(exc), "seed": seed()}
    if isinstance(exc, SystemExit):
        return {
            "outcome": "failed",
            "message": f"your code called sys.exit({exc.code!r}) during the check",
            "learner_location": learner_location(exc),
        }
    loc = learner_location(exc)
    if isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    ):  # Python's own, or torch's allocator (its message names the bytes it wanted)
        asked = re.search(r"allocate (\d+) bytes", str(exc))
        return {
            "outcome": "failed",
            "message": "your code ran out of memory"
            + (
                f" (torch asked for {int(asked[1]) / (1 << 30):.1f} GiB)"
                if asked
                else ""
            ),
            "learner_location": loc,
            "hint": out_of_memory_hint(),
            "seed": seed(),
        }
    text = f"{type(exc).__name__}: {exc}".strip()
    if when == "setup" and loc is None and _shape_mismatch(exc):
        # Building torch's twin of the learner's model from their parameters: a size
        # that does not fit is their layout (fan-in and fan-out swapped), not labpath's.
        return {
            "outcome": "failed",
            "message": f"your model's parameter shapes do not fit the reference: {text}",
            "hint": "check the shape of every weight your classes create "
            "(fan-in and fan-out in the documented order)",
            "seed": seed(),
        }
    if when == "setup" and loc is None and not isinstance(exc, AssertionError):
        return {"outcome": "error", "message": f"labpath's check setup failed: {text}"}
    if isinstance(exc, AssertionError):
        return {
            "outcome": "failed",
            "message": text or "assertion failed",
            "seed": seed(),
        }
    return {
        "outcome": "failed",
        "message": f"your code raised {text}"
        if loc
        else f"while checking your code: {text}",
        "learner_location": loc,
        "seed": seed(),
    }


_SHAPE_WORDS = ("shape", "size mismatch", "cannot be multiplied", "must match the size")


def _shape_mismatch(exc: BaseException) -> bool:
    """A torch size error (the learner's parameters have the wrong layout)."""
    text = str(exc)
    return isinstance(exc, (RuntimeError, ValueError)) and any(
        w in text for w in _SHAPE_WORDS
    )


def _learner_roots() -> list[Path]:
    roots = [kit._TARGET] if kit._TARGET is not None else []
    try:
        uses = protocol.decode().uses
    except ValueError:
        uses = {}
    return roots + [Path(p).resolve() for p in uses.values()]


def _raised_by_learner(exc: BaseException) -> bool:
    """Whether the innermost frame of exc is in the learner's code (or no folder is known)."""
    frames = traceback.extract_tb(exc.__traceback__)
    roots = _learner_roots()
    if not roots or not frames:
        return True
    try:
        where = Path(frames[-1].filename).resolve()
    except (OSError, ValueError):
        return False
    return any(where.is_relative_to(r) for r in roots)


def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def learner_location(exc: BaseException) -> str | None:
    """'file.py:LINE in func' of the deepest frame inside the learner's folder."""
    root = kit._TARGET
    if root is None:
        return None
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            Path(frame.filename).resolve().relative_to(root)
        except ValueError:
            continue
        found = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
    return found


def _raiser(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return "your code"
    frame = last.tb_frame
    name = frame.f_code.co_name
    owner = frame.f_locals.get("self")
    if owner is not None and not isinstance(owner, type):
        name = f"{type(owner).__name__}.{name}"
    return f"`{name}`"
