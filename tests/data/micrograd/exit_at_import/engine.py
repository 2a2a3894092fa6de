"""Ends the process with success as soon as it is imported."""

import sys

sys.exit(0)
