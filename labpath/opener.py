"""Open files (plots) with the platform's viewer."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys


def opener() -> list[str] | None:
    """$LABPATH_OPEN, else open (macOS), else xdg-open; None when there is none."""
    custom = os.environ.get("LABPATH_OPEN")
    if custom:
        return shlex.split(custom)
    for name in ["open"] if sys.platform == "darwin" else ["xdg-open"]:
        if shutil.which(name):
            return [name]
    return None


def open_files(paths: list[str]) -> list[str]:
    """Open each file; returns the problems met (empty when all opened)."""
    if not paths:
        return []
    cmd = opener()
    if cmd is None:
        return [
            "no viewer found to open plots (set LABPATH_OPEN, e.g. LABPATH_OPEN=eog); "
            "they are at: " + ", ".join(paths)
        ]
    problems = []
    for path in paths:
        try:
            subprocess.Popen(
                [*cmd, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError as exc:
            problems.append(f"could not open {path}: {exc}")
    return problems
