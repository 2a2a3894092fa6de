"""The check author's API: load the learner's code, compare with references, fail clearly."""

from __future__ import annotations

import contextlib
import importlib
import math
import sys
from pathlib import Path

from labpath.checks import protocol

_TARGET: Path | None = None
_MODULES: dict[str, object] = {}


class CheckFailure(AssertionError):
    """A check found the learner's result wrong; carries what a report needs to teach."""

    def __init__(
        self,
        what: str,
        yours=None,
        expected=None,
        where: str | None = None,
        hint: str | None = None,
        diagnosis: str | None = None,
        table: list | None = None,
    ):
        self.fields = {
            "what": what,
            "yours": None if yours is None else _fmt(yours),
            "expected": None if expected is None else _fmt(expected),
            "where": where,
            "hint": hint,
            "diagnosis": diagnosis,
            "table": table,
            "seed": seed(),
        }
        parts = [what]
        if yours is not None or expected is not None:
            parts.append(
                f"yours {self.fields['yours']}, expected {self.fields['expected']}"
            )
        if where:
            parts.append(f"at {where}")
        super().__init__("; ".join(parts))


class CheckOverrun(BaseException):
    """A block under kit.within ran past its limit: the check fails with these fields.

    Not an Exception, so that neither the learner's `except Exception` nor a check's
    own around the call turns it into something else, and a property-based check
    (hypothesis) reports it at once instead of shrinking through more overruns.
    """

    def __init__(self, what: str, **kwargs):
        failure = CheckFailure(what, **kwargs)
        self.fields = failure.fields
        super().__init__(str(failure))


class LearnerImportError(Exception):
    """The learner's file is missing or fails to import."""


class HarnessError(Exception):
    """labpath's own check code failed; never the learner's fault."""


# --- the learner's code ------------------------------------------------------------


def use_target(path: Path) -> None:
    """Point the loader at the learner's folder (the plugin does this)."""
    global _TARGET
    _TARGET = Path(path).resolve()


# Set when a check module reads the per-run spec (seed, folder, data, device): a warm
# worker never reuses a collection during which that happened, since the module would
# keep the first run's values.
READ_PER_RUN = False


def _per_run() -> protocol.CheckSpec:
    global READ_PER_RUN
    READ_PER_RUN = True
    return protocol.decode()


def target() -> Path:
    """The learner's folder under check."""
    if _TARGET is None:
        given = _per_run().target
        if given is None:
            raise HarnessError(f"no learner folder given ({protocol.TARGET} is unset)")
        use_target(given)
    return _TARGET


def seed() -> int:
    """The seed of this check run (`labpath check --seed N` reproduces it)."""
    return _per_run().seed


DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def data_path(default: str) -> Path:
    """The data file a check uses: `--data FILE` when given, else labpath's own copy."""
    path = _per_run().data
    if path is not None:
        given = str(path)
        if path.is_dir():
            fail(f"--data {given} is a folder; this lab reads one text file")
        if not path.is_file():
            raise HarnessError(f"--data {given}: no such file")
        return path
    return DATA_DIR / default


def words(default: str = "names.txt") -> list[str]:
    """A newline-separated word list (lowercased, blank lines dropped)."""
    text = data_path(default).read_text(encoding="utf-8", errors="replace")
    return [w.strip().lower() for w in text.splitlines() if w.strip()]


def device() -> str:
    """The device checks that train should use: `--device auto|cpu|cuda|mps`."""
    import torch

    wanted = _per_run().device or "cpu"
    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    return wanted


def learner_module(name: str, package: str | None = None, lab: str | None = None):
    """Import the learner's module `name` from their folder.

    Accepts `<folder>/name.py`, `<folder>/<package>/name.py` (a repository root), and a
    copy of the package folder itself (with `__init__.py`), so files that import each
    other as `from package.name import X` or `from name import X` share one module.
    With lab= (a lab this one builds on, listed under `uses:` in lab.yaml), the module
    is looked for in that lab's folder when the learner's folder lacks it.
    """
    key = f"{package}.{name}" if package else name
    if key in _MODULES:
        return _MODULES[key]
    root = target()
    if not root.is_dir():
        raise LearnerImportError(f"your lab folder {root} does not exist")
    candidates = [root / f"{name}.py"]
    if package:
        candidates.append(root / package / f"{name}.py")
    if lab:
        other = _per_run().uses.get(lab)
        if other:
            candidates += [Path(other) / f"{name}.py"]
            if package:
                candidates.append(Path(other) / package / f"{name}.py")
    file = next((c for c in candidates if c.is_file()), None)
    if file is None:
        looked = " or ".join(str(c) for c in candidates)
        raise LearnerImportError(f"no {name}.py found (looked for {looked})")
    folder = file.parent
    by_path = False
    if folder.name.isidentifier() and (
        (folder / "__init__.py").is_file()
        or (folder.name == package and _relative_imports(folder))
    ):
        # Import as a package so `from micrograd.engine import Value` finds the same
        # module; a package folder without __init__.py imports as a namespace package.
        modname = f"{folder.name}.{name}"
        _prepend_path(folder.parent)
        # Last on the path: `from engine import X` still works inside the package, but
        # a package module named like an installed one (minbpe's regex.py) shadows nothing.
        _append_path(folder)
    else:
        modname = name
        # Last on the path, for the same reason: a flat folder's regex.py must not
        # replace the installed regex package for the code that imports it.
        _append_path(folder)
        by_path = not _found_at(name, file)
    try:
        module = (
            _load_by_path(name, file) if by_path else importlib.import_module(modname)
        )
    except NotImplementedError:
        raise
    except SyntaxError as exc:
        where = f"{Path(exc.filename or file).name}:{exc.lineno}"
        raise LearnerImportError(f"{where}: SyntaxError: {exc.msg}") from None
    except Exception as exc:
        from labpath.checks._harness import learner_location

        loc = learner_location(exc) or file.name
        raise LearnerImportError(
            f"importing your {file.name} failed at {loc}: {type(exc).__name__}: {exc}"
        ) from exc
    if not by_path:
        sys.modules.setdefault(name, module)
    _MODULES[key] = module
    return module


def _prepend_path(folder: Path) -> None:
    text = str(folder)
    if text not in sys.path:
        sys.path.insert(0, text)


def _append_path(folder: Path) -> None:
    text = str(folder)
    if text not in sys.path:
        sys.path.append(text)


def _relative_imports(folder: Path) -> bool:
    """Whether the folder's files import each other as a package does (`from .x import`)."""
    import re

    pattern = re.compile(r"^\s*from\s+\.", re.MULTILINE)
    for path in folder.glob("*.py"):
        try:
            if pattern.search(path.read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


def _found_at(name: str, file: Path) -> bool:
    """Whether importing `name` would load this file (and not an installed module)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    origin = getattr(spec, "origin", None)
    try:
        return origin is not None and Path(origin).resolve() == file.resolve()
    except OSError:
        return False


def _load_by_path(name: str, file: Path):
    """Load the learner's file under a private name: an installed `name` stays itself."""
    return _exec_as(f"labpath_learner_{name}", file)


def _exec_as(private: str, file: Path):
    """Run file as the module `private` in sys.modules (removed again if it raises)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(private, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(private, None)
        raise
    return module


def has(obj, attr: str) -> bool:
    """Whether the learner's class or object defines attr at all (an optional feature)."""
    return getattr(obj, attr, None) is not None


def after(*checks: str):
    """Mark a check that builds on others: when one of them failed, it does not run.

    It is reported "skipped: fix CHECK first", so a slow training check never spends a
    minute failing for a mistake a quick check has already named.
    """
    import pytest

    return pytest.mark.labpath_after(*checks)


OPTIONAL = "needs the optional packages"  # devcheck accepts a solution skipped for this


def optional(*modules: str, extra: str) -> tuple:
    """Import the packages of an optional cross-check, or skip it with one line."""
    import pytest

    try:
        return tuple(importlib.import_module(m) for m in modules)
    except ImportError as exc:
        pytest.skip(
            f"{OPTIONAL} {' and '.join(modules)} (pip install 'labpath[{extra}]'): {exc}"
        )


def skip_unless(obj, attr: str, what: str) -> None:
    """Skip the calling check when the learner's code lacks an optional feature."""
    import pytest

    if not has(obj, attr):
        pytest.skip(f"your code has no {what}; skipped (optional in this lab)")


# --- comparing with a reference ----------------------------------------------------


def close(
    yours,
    expected,
    what: str,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    dims: str | None = None,
    hint: str | None = None,
    diagnose=None,
) -> None:
    """Fail unless yours matches expected elementwise within atol + rtol * |expected|.

    dims names the dimensions ("B T C") so a shape error reads "(B, T, C) = (3, 5, 8)".
    diagnose(yours) may return the name of a known mistake that explains a mismatch.
    """
    import torch

    try:
        y = torch.as_tensor(_plain(yours), dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckFailure(
            f"{what}: your result is not a number or tensor ({type(yours).__name__}: {exc})",
            hint=hint,
        ) from None
    e = torch.as_tensor(_plain(expected), dtype=torch.float64)
    if tuple(y.shape) != tuple(e.shape):
        names = dims.split() if dims else None
        exp = _shape(e.shape, names)
        raise CheckFailure(
            f"{what}: wrong shape, expected {exp}, got {tuple(y.shape)}",
            hint=hint,
            diagnosis=_diagnose(diagnose, yours),
        )
    if y.numel() == 0:
        return
    diff = (y - e).abs()
    allowed = atol + rtol * e.abs()
    bad = ~(diff <= allowed)  # NaN counts as bad
    bad &= ~(torch.isnan(y) & torch.isnan(e))
    bad &= ~(torch.isinf(y) & torch.isinf(e) & (torch.sign(y) == torch.sign(e)))
    if not bool(bad.any()):
        return
    excess = torch.where(bad, torch.nan_to_num(diff - allowed, nan=math.inf), -math.inf)
    flat = int(torch.argmax(excess.reshape(-1)))
    index = _unravel(flat, tuple(e.shape))
    yv, ev = y.reshape(-1)[flat].item(), e.reshape(-1)[flat].item()
    max_abs = float(torch.nan_to_num(diff, nan=math.inf).max())
    rel = diff / e.abs().clamp_min(1e-12)
    max_rel = float(torch.nan_to_num(rel, nan=math.inf).max())
    where = _index(index, dims) if index else None
    table = [
        {
            "tensor": what,
            "shape": list(e.shape),
            "max_abs_err": max_abs,
            "max_rel_err": max_rel,
            "worst_index": list(index),
            "yours": yv,
            "expected": ev,
            "mismatched": int(bad.sum()),
            "total": int(e.numel()),
        }
    ]
    table[0].update(atol=atol, rtol=rtol)
    summary = what
    if e.numel() > 1:
        summary += f" ({int(bad.sum())} of {e.numel()} values differ, max abs err {max_abs:.3g})"
    raise CheckFailure(
        summary,
        yours=yv,
        expected=ev,
        where=where,
        hint=hint,
        diagnosis=_diagnose(diagnose, yours),
        table=table,
    )


def fan_in_scaled(weight, fan_in: int, what: str, hint: str) -> None:
    """Fail unless a freshly made weight's std is 1/sqrt(fan_in), up to tanh's gain
    of 5/3 (Kaiming's init, and the lectures' torch.randn(...) / fan_in**0.5); plain
    randn and a division by fan_in itself are named."""
    std, unit = weight.detach().double().std().item(), 1 / math.sqrt(fan_in)
    if 0.85 * unit <= std <= 1.15 * (5 / 3) * unit:
        return
    diagnosis = None
    if std > 0.7:
        diagnosis = "plain randn: activations grow with every layer and tanh saturates"
    elif abs(std - 1 / fan_in) < 0.3 / fan_in:
        diagnosis = "you divided by fan_in instead of sqrt(fan_in): activations shrink towards 0"
    fail(
        f"std of {what}",
        yours=round(std, 5),
        expected=f"between {0.85 * unit:.4f} and {1.15 * 5 / 3 * unit:.4f} "
        f"(1/sqrt({fan_in}) = {unit:.4f})",
        diagnosis=diagnosis,
        hint=hint,
    )


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of element `flat` of a row-major tensor of this shape.

    torch.unravel_index would do, but its first call imports sympy (over a second).
    """
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return tuple(reversed(index))


def fail(what: str, **kwargs) -> None:
    """Fail the calling check with a structured message."""
    raise CheckFailure(what, **kwargs)


def _diagnose(fn, yours):
    if fn is None:
        return None
    try:
        return fn(yours)
    except Exception:  # a diagnosis is a bonus; never let it hide the failure
        return None


def _plain(x):
    """Convert the learner's numbers (floats, lists, tensors, micrograd Values) to data."""
    if hasattr(x, "detach"):
        return x.detach().cpu()
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "data") and isinstance(x.data, (int, float)):
        return float(x.data)
    return x


def _shape(shape, names) -> str:
    dims = tuple(int(s) for s in shape)
    if names and len(names) == len(dims):
        return f"({', '.join(names)}) = {dims}"
    return str(dims)


def _index(index, dims) -> str:
    names = dims.split() if dims else None
    if names and len(names) == len(index):
        return "[" + ", ".join(f"{n}={i}" for n, i in zip(names, index)) + "]"
    return str(list(index))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    if hasattr(value, "tolist"):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


# --- artifacts (plots) -------------------------------------------------------------

_ARTIFACTS: dict[str, list[str]] = {}


def artifact_path(check: str, filename: str) -> Path:
    """Where a check saves a figure for this attempt; listed in the report."""
    import tempfile

    # Outside a labpath run (plain pytest on a lab's checks), plots go to a temp folder,
    # never into whatever folder pytest was started from.
    fallback = Path(tempfile.gettempdir()) / "labpath-artifacts"
    root = protocol.decode().artifacts or fallback
    root.mkdir(parents=True, exist_ok=True)
    path = root / filename
    _ARTIFACTS.setdefault(check, []).append(str(path))
    return path


def one_thread():
    """For a lab's session fixture (`yield from kit.one_thread()`): torch on one thread
    while the checks run, its old count after. Tiny tensors run faster on one thread
    than on several fighting for the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# The blocks that overran in this run, by key: what each ran and where it was stuck.
_OVERRAN: dict[str, tuple[str, str | None]] = {}


class _Overran(BaseException):
    """within()'s timer, raised in the running code: not an Exception, so an `except
    Exception` of the learner's lets it through to within(), which turns it into the
    check's CheckOverrun at the learner's line its traceback runs through."""


@contextlib.contextmanager
def within(seconds: float, what: str, hint: str | None = None, key: str | None = None):
    """Fail the check (CheckOverrun) if the block runs longer than seconds: a loop
    of the learner's that never ends (a sampler that misses its stop token) then
    fails its own check, with the line it was stuck on, and the run goes on to the
    next one, instead of the whole run waiting for the lab's time limit. Once a block
    with a key has overrun, later blocks with that key fail at once instead of
    waiting again.

    A one-shot real-time timer (SIGALRM); where there is none (Windows, a thread
    other than the main one) the block just runs.
    """
    import signal
    import threading

    if key in _OVERRAN:
        earlier, where = _OVERRAN[key]
        _overrun(
            f"{what} not run: {earlier}", seconds, where, hint, " in an earlier check"
        )
    if not hasattr(signal, "setitimer") or (
        threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def ring(signum, frame):
        raise _Overran

    before = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Overran as stop:
        from labpath.checks._harness import learner_location

        where = learner_location(stop)  # its traceback runs through the learner's loop
        if key is not None:
            _OVERRAN[key] = (what, where)
        _overrun(what, seconds, where, hint)
    finally:
        # the timer first: a ring between the two lines finds the handler still set
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if before is None else before)


def _overrun(what: str, seconds: float, where, hint, when: str = "") -> None:
    # both of within()'s failures: the overrun itself, and a later block of its key
    raise CheckOverrun(
        f"{what} did not return within {seconds:g}s{when}", where=where, hint=hint
    ) from None


def steps(n: int):
    """range(n) for a training loop on a scalar autograd engine, freeing each step's
    graph as the next one starts.

    Every node of such a graph sits in a reference cycle (its backward closure holds
    it), so only the cyclic collector frees it; left to its thresholds it runs many
    times a step and walks the live graph each time. Here it runs once per step, when
    the last step's graph is garbage: write the step as a function, so that nothing
    still refers to its graph (a collection over a graph still referenced walks it
    and frees nothing). The mlp lab's 120 Adam steps take 1.9 s instead of 3.4 s,
    with memory bounded by one step's graph. Automatic collection is back on when
    the loop ends, breaks or raises.
    """
    import gc

    was_on = gc.isenabled()
    gc.disable()
    try:
        for i in range(n):
            if i:
                gc.collect()
            yield i
    finally:
        if was_on:
            gc.enable()


# --- figures, budgets and notes: what a passing check measured --------------------

# What the running check recorded (kit.figure, kit.budget, kit.note); the plugin
# empties it when a check starts and sends it with the check's result.
_NOTES: list[dict] = []
_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def note(text: str) -> None:
    """Tell the learner something about a passing check (an accepted variant, say)."""
    _NOTES.append({"kind": "note", "text": str(text)})


def figure(name: str, value, op: str, bound, fmt: str | None = None) -> bool:
    """Record a measured figure against its threshold: "dev loss 2.03 (needs < 2.20)".

    Returns whether it holds; failing stays the check's own decision (and message).
    """
    if op not in _OPS:
        raise HarnessError(f"kit.figure: op must be one of {sorted(_OPS)}, not {op!r}")
    value, bound = float(value), float(bound)
    ok = bool(_OPS[op](value, bound))
    text = f"{name} {_num(value, fmt)} (needs {op} {_num(bound, fmt)})"
    _NOTES.append(
        {
            "kind": "figure",
            "name": name,
            "value": value,
            "op": op,
            "bound": bound,
            "ok": ok,
            "text": text,
        }
    )
    return ok


def _num(x: float, fmt: str | None = None) -> str:
    if fmt:
        return format(x, fmt)
    if x != 0 and abs(x) < 0.1:
        return f"{x:.3g}"
    return f"{x:.2f}" if abs(x) < 100 else f"{x:,.0f}"


def budget(
    name: str,
    learner,
    reference,
    *,
    max_ratio: float,
    required: bool = False,
    rounds: int = 3,
    work: float | None = None,
    unit: str = "items",
    memory=False,
    hint: str | None = None,
) -> dict:
    """Time learner() against reference() (the same work, no arguments) in this run.

    The calls are interleaved and the best of a few rounds is kept, on one torch
    thread, in CPU seconds of this process (time.process_time: what a call computes,
    not the time it waits for a core), so the ratio holds on a loaded machine. Over max_ratio the check still
    passes with "works, but N× slower than the reference", unless required=True, when
    it fails with that message. work= (tokens, say) reports rates in unit/s too.
    memory=True adds each call's peak Python allocation (tracemalloc: exact and
    resettable, where the process's peak RSS only ever grows and counts freed pages),
    in a separate untimed call, since tracing slows Python code up to 10x; memory=
    (learner, reference) traces these lighter calls on the same data instead. Tensors
    torch allocates are not traced: for torch code, time alone is measured.
    """
    import gc
    import time

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    best = {"learner": math.inf, "reference": math.inf}
    fns = {"learner": learner, "reference": reference}
    start, i = time.perf_counter(), 0
    try:
        while True:
            # Alternate who goes first, so a drift in the machine's load favours neither.
            order = ("learner", "reference") if i % 2 == 0 else ("reference", "learner")
            for who in order:
                gc.collect()
                t0 = time.process_time()
                fns[who]()
                best[who] = min(best[who], time.process_time() - t0)
            i += 1
            elapsed = time.perf_counter() - start
            # A slow call is measured once: its ratio is large, and precise enough;
            # quick ones get more rounds (up to 3x), as they are the noisy ones.
            if best["learner"] > 2.0 or elapsed > 10.0:
                break
            if i >= rounds and (elapsed > 0.5 or i >= 3 * rounds):
                break
        traced = dict(zip(fns, memory)) if isinstance(memory, tuple) else fns
        peaks = {who: _peak(traced[who]) for who in fns} if memory else None
    finally:
        if torch is not None:
            torch.set_num_threads(threads)
    mine, ref = best["learner"], max(best["reference"], 1e-9)
    ratio = mine / ref
    within = ratio <= max_ratio
    if work:
        shown = (
            f"learner {_rate(work / mine, unit)}, reference {_rate(work / ref, unit)}"
        )
    else:
        shown = f"learner {_secs(mine)}, reference {_secs(ref)}"
    if peaks:
        shown += (
            f"; peak memory learner {_bytes(peaks['learner'])}, "
            f"reference {_bytes(peaks['reference'])}"
        )
    if not within:
        text = f"works, but {_times(ratio)} slower than the reference ({shown})"
    elif ratio > 0.8:  # within timing noise of the reference, or slower
        text = f"{_times(ratio)} the reference's time ({shown}; budget {max_ratio:g}×)"
    else:
        text = f"{_times(1 / ratio)} faster than the reference ({shown})"
    record = {
        "kind": "budget",
        "name": name,
        "learner_seconds": mine,
        "reference_seconds": ref,
        "ratio": ratio,
        "max_ratio": float(max_ratio),
        "required": bool(required),
        "ok": within,
        "text": f"{name}: {text}",
    }
    if work:
        record.update(work=float(work), unit=unit)
    if peaks:
        record.update(
            learner_peak_bytes=peaks["learner"], reference_peak_bytes=peaks["reference"]
        )
    _NOTES.append(record)
    if required and not within:
        raise CheckFailure(
            f"{name}: {text}; this lab requires at most {max_ratio:g}×",
            hint=hint,
        )
    return record


def _peak(fn) -> int:
    """The peak of Python's own allocations during fn() (torch's tensors not included)."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _times(r: float) -> str:
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def _secs(s: float) -> str:
    if s >= 1:
        return f"{s:.1f} s"
    if s >= 0.01:
        return f"{s:.2g} s"
    return f"{s * 1e3:.2g} ms" if s >= 1e-3 else f"{s * 1e6:.2g} µs"


def _rate(r: float, unit: str) -> str:
    return f"{r:,.0f} {unit}/s" if r >= 100 else f"{r:.3g} {unit}/s"


def _bytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def reference_module(name: str):
    """The lab's own reference solution's module `name` (for kit.budget's reference).

    Loaded from the lab's folder (shipped or on $LABPATH_LABS) under a private name, so it never replaces
    the learner's module of the same name.
    """
    lab = _per_run().lab
    key = f"labpath_reference_{lab}_{name}".replace("-", "_")
    if key in sys.modules:
        return sys.modules[key]
    from labpath import labs

    folder = labs.where(lab)
    file = folder / "solution" / f"{name}.py" if folder else None
    if file is None or not file.is_file():
        raise HarnessError(f"the {lab} lab ships no solution/{name}.py")
    return _exec_as(key, file)
