"""`labpath doctor`: what this machine and workspace have, and the fix for each problem."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass

from labpath.errors import LabpathError


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def diagnose(workspace_path: str | None = None) -> list[Finding]:
    """Every finding, healthy or not, in a stable order."""
    found = [_python()]
    found += _torch()
    found += _git()
    found += _workspace(workspace_path)
    return found


def _python() -> Finding:
    ok = sys.version_info >= (3, 10)
    return Finding(
        "python",
        ok,
        f"{platform.python_version()} ({sys.executable})",
        None if ok else "install Python 3.10 or newer",
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


def _git() -> list[Finding]:
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
    name = subprocess.run(
        [exe, "config", "user.name"], capture_output=True, text=True
    ).stdout.strip()
    email = subprocess.run(
        [exe, "config", "user.email"], capture_output=True, text=True
    ).stdout.strip()
    ident = Finding(
        "git identity",
        bool(name and email),
        f"{name} <{email}>" if name and email else "user.name or user.email is not set",
        None
        if name and email
        else 'git config --global user.name "Your Name" && '
        "git config --global user.email you@example.com",
    )
    return [Finding("git", True, version), ident]


def _workspace(workspace_path: str | None) -> list[Finding]:
    from labpath import actions, vcs

    try:
        ctx, _ = actions.load_context(workspace_path)
    except LabpathError as exc:
        return [Finding("workspace", False, exc.message, exc.hint)]
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
        ),  # fmt: skip
    ]
    try:
        vcs.open_repo(ws.root)
        found.append(Finding("workspace git", True, "history is saved"))
    except LabpathError as exc:
        found.append(Finding("workspace git", False, exc.message, exc.hint))
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


def _shipped() -> set[str]:
    from labpath import labs

    return set(labs.available())
