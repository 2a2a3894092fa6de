"""Entry point for `python -m labpath`."""

import os
import sys

# `python -m` puts the working folder first on sys.path (unless -P is given), so a
# json.py or random.py of the learner's there would load in place of the standard
# library's. labpath itself is already found by then, so the folder is dropped
# before the CLI imports anything.
if not sys.flags.safe_path and sys.path and sys.path[0] == os.getcwd():
    del sys.path[0]

from labpath.cli import main

main()
