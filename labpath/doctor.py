"""`labpath doctor`: what this machine and workspace have, and the fix for each problem."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import LabpathError


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def diagnose(workspace_path: str | None, loaded) -> list[Finding]:
    """Every finding, healthy or not, in a stable order.

    loaded is the workspace's context (workspace, curriculum, states) as the caller
    opened it, or the LabpathError that opening it raised.
    """
    found = [_python()]
    found += _torch()
    found.append(_check_server())
    found += _git(workspace_path)
    found += _workspace(loaded)
    return found


def _python() -> Finding:
    ok = sys.version_info >= (3, 10)
    return Finding(
        "python",
        ok,
        f"{platform.python_version()} ({sys.executable})",
        None if ok else "install Python 3.10 or newer",
    )


def _check_server() -> Finding:
    """Whether checks run warm: the server of this environment, if one answers."""
    from labpath.checks import warm

    if not warm.enabled():
        return Finding(
            "check server", True, "off (LABPATH_CHECK_SERVER=0): checks run cold"
        )
    path = warm.socket_path()
    answer = warm.ping(path) if path is not None else None
    if answer:
        state = "running a check" if answer.get("busy") else "idle"
        return Finding(
            "check server", True, f"warm (pid {answer.get('pid')}, {state}; {path})"
        )
    return Finding(
        "check server", True, "not running: the next check runs cold and starts one"
    )


def _torch() -> list[Finding]:
    try:
        import torch
    except Exception as exc:  # a broken install raises more than ImportError
        return [
            Finding(
                "torch", False, f"not importable: {exc}", "python -m pip install torch"
            )
        ]
    found = [Finding("torch", True, torch.__version__)]
    devices = ["cpu"]
    if torch.cuda.is_available():
        names = [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        ]
        devices.append(f"cuda ({', '.join(names)})")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    found.append(
        Finding(
            "devices",
            True,
            ", ".join(devices) + "; checks that train take --device auto|cpu|cuda|mps",
        )
    )
    return found


def _git(workspace_path: str | None = None) -> list[Finding]:
    exe = shutil.which("git")
    if exe is None:
        return [
            Finding(
                "git", False, "not found", "install git: https://git-scm.com/downloads"
            )
        ]
    version = subprocess.run(
        [exe, "--version"], capture_output=True, text=True
    ).stdout.strip()
    idents = [
        subprocess.run(
            [exe, "var", var], capture_output=True, text=True, cwd=_here(workspace_path)
        )
        for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT")
    ]
    ok = all(p.returncode == 0 for p in idents)
    # "Name <email> 1700000000 +0000": the identity is what precedes the time stamp.
    who = idents[0].stdout.strip().rsplit(" ", 2)[0] if ok else ""
    ident = Finding(
        "git identity",
        ok,
        who if ok else "user.name or user.email is not set",
        None
        if ok
        else 'git config --global user.name "Your Name" && '
        "git config --global user.email you@example.com",
    )
    return [Finding("git", True, version), ident]


def _here(workspace_path: str | None) -> str | None:
    """The workspace folder when it exists (its git config counts), else None."""
    from labpath import workspace

    try:
        root = workspace.find(workspace_path)
    except Exception:
        return None
    return str(root) if root and root.is_dir() else None


def _workspace(ctx) -> list[Finding]:
    from labpath import vcs

    if isinstance(ctx, LabpathError):
        return [Finding("workspace", False, ctx.message, ctx.hint)]
    ws = ctx.workspace
    later = [t.id for t in ctx.curriculum.tasks if t.lab and t.lab not in _shipped()]
    found = [
        Finding("workspace", True, str(ws.root)),
        Finding(
            "curriculum",
            True,
            f"{len(ctx.curriculum.tasks)} tasks from {ctx.curriculum.directory}"
            + (
                f"; {len(later)} without checks in this labpath yet "
                f"(labpath done TASK): {', '.join(later)}"
                if later
                else ""
            ),
        ),
    ]
    try:
        repo = vcs.open_repo(ws.root)
        found.append(Finding("workspace git", True, "history is saved"))
        found += _index_lock(Path(repo.git_dir))
    except LabpathError as exc:
        found.append(Finding("workspace git", False, exc.message, exc.hint))
    from labpath import journal

    problems: list[str] = []
    journal.entries(ws, problems)
    found.append(
        Finding(
            "journal",
            not problems,
            f"{journal.count(ws.journal_dir)} entries"
            if not problems
            else f"{len(problems)} entry file(s) cannot be read as they are: "
            + "; ".join(problems[:3])
            + ("; ..." if len(problems) > 3 else ""),
            None
            if not problems
            else "fix the front matter of each file named (or remove the file), "
            "then: labpath journal list",
        )
    )
    missing = [
        t.lab
        for t in ctx.curriculum.tasks
        if t.lab
        and ctx.state(t).status != "pending"
        and not ws.lab_dir(t.lab).is_dir()
        and t.lab in _shipped()
    ]
    found.append(
        Finding(
            "lab folders",
            not missing,
            "every started lab has its folder"
            if not missing
            else f"missing: {', '.join(missing)}",
            None
            if not missing
            else f"restore with `git -C {ws.root} checkout -- labs` or `labpath reset LAB`",
        )
    )
    return found


STALE_LOCK = 60.0  # seconds: no labpath or editor commit holds git's lock this long


def _index_lock(git_dir: Path, now: float | None = None) -> list[Finding]:
    """A git index.lock old enough that the process holding it has surely gone."""
    import time

    lock = git_dir / "index.lock"
    try:
        age = (now or time.time()) - lock.stat().st_mtime
    except OSError:
        return []
    if age < STALE_LOCK:
        return []
    return [
        Finding(
            "git lock",
            False,
            f"{lock} is {_age(age)} old: a git program was stopped while it "
            "held it, and every commit fails until it is gone",
            f"if no git program is running: rm {lock}",
        )
    ]


def _age(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _shipped() -> set[str]:
    from labpath import labs

    return set(labs.available())
