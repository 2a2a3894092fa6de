"""Imports its sibling relatively, as a package's modules do."""

from .base import Tokenizer


class BasicTokenizer(Tokenizer):
    pass
