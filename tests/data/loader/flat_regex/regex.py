"""RegexTokenizer in a file named like the package it imports, as in minbpe."""

import regex as re

from base import Tokenizer


class RegexTokenizer(Tokenizer):
    def __init__(self, pattern=r"\w+|\s+"):
        super().__init__()
        self.compiled = re.compile(pattern)
        self.uses_installed_regex = getattr(re, "INSTALLED", False)
