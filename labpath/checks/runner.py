"""Run a lab's pytest checks in a subprocess and turn the results into a CheckReport."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from labpath.checks import protocol
from labpath.checks.procs import (
    Worker,
    child_env,
    ensure_standard_fds,
    run_cold,
    signals_end_the_run,
    stop_everything,
    sweep_orphans,
)
from labpath.checks.protocol import CheckSpec, Rule
from labpath.checks.result import (
    COLLECTED,
    HARNESS,
    RESULT,
    CheckReport,
    CheckResult,  # noqa: F401 (read from here by callers)
    read_records,
)
from labpath.checks.verdict import build_report
from labpath.errors import EnvironmentFailure


def pytest_command(checks_dir) -> list[str]:
    """The pytest command line a check run uses (shared with the benchmarks)."""
    checks = str(getattr(checks_dir, "checks_dir", checks_dir))
    return [
        sys.executable,
        "-m",
        "pytest",
        checks,
        "-p",
        "labpath.checks.plugin",
        "-p",
        "no:cacheprovider",
        # Both wrap every phase of every check, and labpath reports neither: the
        # logging plugin attached a handler to each of torch's non-propagating loggers
        # three times a check. A learner's log lines and warnings still reach the run's
        # captured stderr, and the plugin ignores DeprecationWarning, as before.
        "-p",
        "no:logging",
        "-p",
        "no:warnings",
        "-c",
        str(Path(__file__).with_name("pytest.ini")),
        "--rootdir",
        checks,
        "-q",
        "--no-header",
        "-rN",
        # Tracebacks as Python prints them: labpath reports a failure from its signed
        # records, and pytest's long form (source and locals of every frame) made a
        # failing run markedly slower than a passing one.
        "--tb=native",
    ]


def spec_for(
    lab,
    target: Path,
    uses: Mapping[str, Path] | None = None,
    timeout: float | None = None,
    select: list[str] | None = None,
    seed: int | None = None,
    artifacts_dir: Path | None = None,
    data: Path | None = None,
    device: str | None = None,
) -> CheckSpec:
    """The spec of a run of a Lab's checks; each lab it builds on must be in uses."""
    uses = dict(uses or {})
    missing = [name for name in lab.uses if name not in uses]
    if missing:
        raise ValueError(
            f"lab {lab.id} builds on {', '.join(missing)}: the caller resolves each "
            "to the learner's folder or the reference solution"
        )
    return CheckSpec(
        lab=lab.id,
        target=Path(target),
        checks_dir=Path(lab.checks_dir),
        time_limit=timeout or lab.time_limit,
        seed=lab.seed if seed is None else seed,
        uses=uses,
        forbidden=tuple(Rule(f.name, f.why) for f in lab.forbidden),
        select=tuple(select or ()),
        data=Path(data).resolve() if data is not None else None,
        device=device or None,
        artifacts=artifacts_dir,
    )


def run_checks(
    lab,
    target: Path,
    timeout: float | None = None,
    select: list[str] | None = None,
    seed: int | None = None,
    artifacts_dir: Path | None = None,
    data: Path | None = None,
    device: str | None = None,
    uses: Mapping[str, Path] | None = None,
    worker: Worker | None = None,
    progress=None,
) -> CheckReport:
    """Run the lab's checks against the learner's folder: `run(spec_for(...))`."""
    spec = spec_for(
        lab, target, uses, timeout, select, seed, artifacts_dir, data, device
    )
    return run(spec, worker=worker, progress=progress)


def run(spec: CheckSpec, worker: Worker | None = None, progress=None) -> CheckReport:
    """Run the checks a finished spec names and read the results back."""
    target, timeout, seed = Path(spec.target), spec.time_limit, spec.seed
    changed = changed_check_files(spec.checks_dir)
    ensure_standard_fds()
    if changed:
        return CheckReport(
            lab=spec.lab,
            target=str(target),
            status=HARNESS,
            seed=seed,
            message=f"labpath's installed check file {changed[0]} differs from the "
            "one installed with labpath (not your code); reinstall labpath: "
            "python -m pip install --force-reinstall labpath",
        )
    try:
        tmp_ctx = tempfile.TemporaryDirectory(prefix="labpath-check-")
        tmp = tmp_ctx.name
    except OSError as exc:
        raise _environment(exc) from None
    try:
        key = secrets.token_bytes(32)
        sweep_orphans()
        token = f"{os.getpid()}-{secrets.token_hex(12)}"
        report_file = Path(tmp) / "report.jsonl"
        told = replace(
            spec,
            target=target.resolve(),
            artifacts=spec.artifacts or Path(tmp) / "artifacts",
            report=report_file,
            run=token,
        )
        env = child_env(**protocol.encode(told))
        env.update(
            PYTHONDONTWRITEBYTECODE="1",
            # Only labpath's plugin: plugins installed for other projects cost start-up
            # time (each is re-compiled when bytecode is not written) and could interfere.
            PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
            PYTHONHASHSEED="0",
            MPLBACKEND="Agg",
            # The checks' tmp_path folders go inside this run's folder, removed with
            # it: a run ends once its results are written, before pytest's exit-time
            # cleanup of its own temporary folders would run.
            PYTEST_DEBUG_TEMPROOT=tmp,
        )
        cmd = pytest_command(spec.checks_dir)
        start = time.perf_counter()
        if worker is not None:
            job = lambda: worker.run(cmd[3:], env, tmp, timeout, key)
        else:
            job = lambda: run_cold(cmd, env, tmp, timeout, key)
        with signals_end_the_run():
            try:
                if progress is None:
                    returncode, timed_out, output = job()
                else:
                    returncode, timed_out, output = _with_progress(
                        job, report_file, key, progress
                    )
            except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: labpath is ending
                stop_everything()
                raise
            finally:
                stop_everything(token, groups=False)
        elapsed = time.perf_counter() - start
        records, forged = read_records(report_file, key)
    finally:
        with contextlib.suppress(OSError):
            tmp_ctx.cleanup()
    return build_report(
        spec.lab,
        target,
        records,
        returncode,
        timed_out,
        timeout,
        elapsed,
        seed,
        output,
        forged,
    )


def _environment(exc: OSError) -> EnvironmentFailure:
    where = os.environ.get("TMPDIR") or "/tmp"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return EnvironmentFailure(
            f"no space left in the temporary folder {where}: the checks cannot run "
            "(not your code)",
            hint="free some disk space, or point TMPDIR at a folder with room: "
            "TMPDIR=/path/with/space labpath check",
        )
    return EnvironmentFailure(
        f"cannot create a temporary folder in {where}: {exc.strerror or exc} "
        "(not your code)",
        hint="point TMPDIR at a writable folder: TMPDIR=/path labpath check",
    )


def _with_progress(job, report_file: Path, key: bytes, progress):
    """Run job in a thread and report (done, total) from the results file as it grows."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=job()), daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.05)
        records, _ = read_records(report_file, key)
        total = next(
            (len(r["names"]) for r in records if r.get("type") == COLLECTED), 0
        )
        done = sum(1 for r in records if r.get("type") == RESULT)
        progress(done, total)
    return box["result"]


# --- the installed checks are the ones that run ------------------------------------


def installed_manifest() -> dict[str, str]:
    """sha256 of each installed labpath file, from the installation's own RECORD.

    The RECORD is read from the dist-info folder beside the package, where every
    installer puts it (importlib.metadata, which finds the same file, costs each check
    run 12 ms to import). Empty for an editable (development) install, whose files are
    the source tree, with no dist-info beside them.
    """
    import csv

    from labpath import __version__

    package = Path(__file__).resolve().parents[1]
    site = package.parent
    infos = sorted(site.glob("labpath-*.dist-info"))
    preferred = [d for d in infos if d.name == f"labpath-{__version__}.dist-info"]
    manifest: dict[str, str] = {}
    for info in preferred or infos:
        try:
            text = (info / "RECORD").read_text(encoding="utf-8")
        except OSError:
            continue
        for row in csv.reader(text.splitlines()):
            if len(row) >= 2 and row[1].startswith("sha256="):
                path = os.path.normpath(os.path.join(site, row[0]))
                manifest[path] = row[1].removeprefix("sha256=")
        if any(Path(k).is_relative_to(package) for k in manifest):
            return manifest
        manifest = {}
    return manifest


def changed_check_files(
    checks_dir, manifest: dict[str, str] | None = None
) -> list[str]:
    """The check files (of a lab, or in a folder) whose content is not what was installed."""
    checks_dir = Path(getattr(checks_dir, "checks_dir", checks_dir))
    import base64

    package = Path(__file__).resolve().parents[1]
    checks = checks_dir.resolve()
    if not checks.is_relative_to(package):
        return []  # a lab from elsewhere: nothing was installed to compare with
    manifest = installed_manifest() if manifest is None else manifest
    if not any(Path(k).is_relative_to(package) for k in manifest):
        return []
    changed = []
    for path in sorted(checks_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        want = manifest.get(str(path.resolve()))
        if want is None:
            if path.suffix == ".py":
                changed.append(str(path))  # a check file nobody installed
            continue
        digest = hashlib.sha256(path.read_bytes()).digest()
        got = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if got != want:
            changed.append(str(path))
    return changed
