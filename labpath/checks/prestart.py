"""Starting the warm check server (labpath.checks.warm) before the first check.

`labpath next` and `labpath start` call start_soon(): the learner is about to work on
a lab, so its first check finds a server with torch and pytest already imported. This
module imports nothing heavy; the forked copy imports the rest.
"""

from __future__ import annotations

import contextlib
import os
import sys

OFF = "LABPATH_CHECK_SERVER"  # as in labpath.checks.warm


def start_soon() -> None:
    """Start this environment's server in the background, if none runs, from a forked
    copy of this process, so the command itself returns at once.

    The copy lets go of the terminal and of any pipe the command writes to before it
    does anything else, so a caller reading the command's output is not kept waiting.
    """
    if (
        os.environ.get(OFF, "1") == "0"
        or not hasattr(os, "fork")
        or sys.platform == "win32"
    ):
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        return
    try:  # the copy: nothing it does may reach the learner's screen or files
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.setsid()
        from labpath.checks import warm

        warm.ensure()
    finally:
        os._exit(0)
