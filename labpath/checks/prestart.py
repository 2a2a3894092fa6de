"""Starting the warm check server (labpath.checks.warm) before the first check.

`labpath next` and `labpath start` call start_soon(): the learner is about to work on
a lab, so its first check finds a server with torch and pytest already imported. The
command only launches a small detached Python (`main` below) and returns; that one
works out which server this environment needs and starts it if none answers.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

OFF = "LABPATH_CHECK_SERVER"  # as in labpath.checks.warm
# The launcher finds this labpath without a changed PYTHONPATH: the environment picks
# the server (warm's fingerprint), and it must be the one the learner's checks see.
_LAUNCH = "import sys; sys.path.insert(0, {!r}); from labpath.checks import prestart; prestart.main()"


def start_soon() -> None:
    """Launch the detached starter, unless servers are off; never fails the command.

    A launched process, not a fork of this one: a forked copy of the command made
    each page the command then touched on its way out a copy (a tenth more CPU).
    """
    if os.environ.get(OFF, "1") == "0" or sys.platform == "win32":
        return
    import subprocess

    package_parent = str(Path(__file__).resolve().parents[2])
    with contextlib.suppress(OSError, ValueError):
        subprocess.Popen(
            [sys.executable, "-c", _LAUNCH.format(package_parent)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            # `-c` puts its working folder first on sys.path: not the learner's, whose
            # socket.py or json.py would be imported instead of the standard library's
            cwd=package_parent,
        )


def main() -> None:
    """The detached starter: this environment's server, started unless one answers."""
    from labpath.checks import warm

    warm.ensure()
