"""Entry point for `python -m labpath`."""

from labpath.cli import main

main()
