"""Ends the process with success, skipping every handler, as soon as it is imported."""

import os

os._exit(0)
