"""Stands in for the installed `regex` package: the real one is not a test dependency."""

import re as _re

INSTALLED = True


def compile(pattern, flags=0):
    return _re.compile(pattern, flags)
