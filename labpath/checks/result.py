"""What a check run reports, as records both processes read and write (stdlib only)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

# A check's outcome.
PASSED, FAILED, NOT_STARTED, SKIPPED, ERROR = (
    "passed",
    "failed",
    "not_started",
    "skipped",
    "error",
)
# A run's overall status.
PASS, FAIL, NOT_DONE, TIMEOUT, CRASH, HARNESS = (
    "passed",
    "failed",
    "not_started",
    "timeout",
    "crashed",
    "harness_error",
)
# The kinds of record the check process writes, one per line, in this order of events.
START, COLLECTED, RESULT, HARNESS_ERROR, INTERRUPTED, FINISHED = (
    "start",
    "collected",
    "result",
    "harness_error",
    "interrupted",
    "finished",
)
# Keys that frame a record on the channel rather than describe a check.
FRAMING = ("type", "seq")
_NOTHING: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class CheckResult:
    name: str
    outcome: str  # passed | failed | not_started | skipped | error
    doc: str = ""
    duration: float = 0.0
    what: str | None = None
    yours: str | None = None
    expected: str | None = None
    where: str | None = None
    seed: int | None = None
    hint: str | None = None
    diagnosis: str | None = None
    message: str | None = None
    learner_location: str | None = None
    table: list | None = None
    artifacts: tuple[str, ...] = ()
    # What the check measured or wants said on a pass (kit.figure, kit.budget,
    # kit.note): dicts with a "kind" and the "text" a report shows.
    notes: tuple[dict, ...] = ()

    @property
    def extra(self) -> Mapping[str, object]:
        """Keys a newer check process sent that this labpath does not know (kept, unused).

        Held outside the fields, so the report's --json stays what it was.
        """
        return getattr(self, "_extra", _NOTHING)

    def to_record(self) -> dict:
        """The result as one channel record (unknown keys it arrived with go back out)."""
        record = {"type": RESULT, **self.extra}
        for f in fields(self):
            value = getattr(self, f.name)
            record[f.name] = list(value) if f.name in _LISTS else value
        return record

    @classmethod
    def from_record(cls, record: Mapping) -> CheckResult:
        """Read a result record; what this version does not know goes to `extra`."""
        known = {k: v for k, v in record.items() if k in _RESULT_FIELDS}
        known.setdefault("name", "")
        known.setdefault("outcome", FAILED)
        known["artifacts"] = tuple(known.get("artifacts") or ())
        known["notes"] = tuple(
            dict(n) for n in known.get("notes") or () if isinstance(n, Mapping)
        )
        result = cls(**known)
        extra = {
            k: v
            for k, v in record.items()
            if k not in _RESULT_FIELDS and k not in FRAMING
        }
        if extra:
            object.__setattr__(result, "_extra", MappingProxyType(extra))
        return result


_RESULT_FIELDS = frozenset(f.name for f in fields(CheckResult))
_LISTS = ("artifacts", "notes")


@dataclass(frozen=True)
class CheckReport:
    lab: str
    target: str
    status: str
    results: tuple[CheckResult, ...] = ()
    duration: float = 0.0
    seed: int | None = None
    message: str | None = None  # for timeout / crash / harness errors
    output: str = ""  # pytest's own output, kept for --verbose and debugging
    artifacts: tuple[str, ...] = field(default_factory=tuple)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def passed(self) -> int:
        return self.count(PASSED)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> bool:
        return self.status == PASS

    @property
    def lead(self) -> CheckResult | None:
        """The failure to start with: the first that names a mistake, else the first."""
        failures = [r for r in self.results if r.outcome in (FAILED, ERROR)]
        named = [r for r in failures if r.diagnosis]
        return (named or failures or [None])[0]

    def to_record(self) -> dict:
        """The report as plain data, each result as its record."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["results"] = [r.to_record() for r in self.results]
        record["artifacts"] = list(self.artifacts)
        return record

    @classmethod
    def from_record(cls, record: Mapping) -> CheckReport:
        """Read a report back; unknown keys are dropped, unknown result keys kept."""
        known = {k: v for k, v in record.items() if k in _REPORT_FIELDS}
        known["results"] = tuple(
            CheckResult.from_record(r) for r in known.get("results") or ()
        )
        known["artifacts"] = tuple(known.get("artifacts") or ())
        return cls(**known)


_REPORT_FIELDS = frozenset(f.name for f in fields(CheckReport))


# --- the results channel ----------------------------------------------------------


def sign(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_line(key: bytes | None, record: Mapping, seq: int) -> str:
    """One channel line: the record with its sequence number, and its HMAC."""
    body = json.dumps({**record, "seq": seq}, default=str)
    return json.dumps({"body": body, "mac": sign(key or b"", body)}) + "\n"


def read_records(path: Path, key: bytes | None) -> tuple[list[dict], int]:
    """The records labpath's plugin wrote, and how many lines it did not write.

    Each line carries an HMAC under a key only the plugin was given (through a pipe,
    never the environment), and a sequence number, so forged, edited, replayed or
    reordered records are counted, not believed.
    """
    if not path.exists():
        return [], 0
    records, forged, expected = [], 0, 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], 0
    lines = text.splitlines()
    for i, line in enumerate(lines):
        try:
            outer = json.loads(line)
            body = outer["body"]
            good = key is None or hmac.compare_digest(sign(key, body), outer["mac"])
            record = json.loads(body) if good else None
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            if i == len(lines) - 1 and not text.endswith("\n"):
                continue  # the last line cut short by a crash
            forged += 1
            continue
        if not isinstance(record, dict) or record.get("seq") != expected:
            forged += 1
            continue
        expected += 1
        records.append(record)
    return records, forged
