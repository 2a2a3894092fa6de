"""
Lab - a byte-level BPE tokenizer with minbpe's interface.

Train merges on UTF-8 bytes, encode new text by replaying them (earliest learned
first), decode ids back to text. RegexTokenizer and save/load are optional: delete what
you skip (a method that still raises NotImplementedError counts as not started).
Read README.md in this folder first; check your work with `labpath check bpe`.
"""

import re  # noqa: F401  (the stdlib re; the `regex` package (if you install it) knows \p{L} and \p{N})


def get_stats(ids, counts=None):
    """Count consecutive pairs: [1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}.

    With counts given, add into that dict (in place) and return it.
    """
    # TODO
    raise NotImplementedError("get_stats")


def merge(ids, pair, idx):
    """Replace each occurrence of pair in ids by idx, left to right, without overlaps.

    merge([1, 2, 3, 1, 2], (1, 2), 4) -> [4, 3, 4]
    """
    # TODO
    raise NotImplementedError("merge")


class BasicTokenizer:
    """Byte-level BPE on the whole text."""

    def __init__(self):
        self.merges = {}  # (int, int) -> int, in the order they were learned
        self.vocab = {idx: bytes([idx]) for idx in range(256)}  # int -> bytes

    def train(self, text, vocab_size, verbose=False):
        """Learn vocab_size - 256 merges from text; fill self.merges and self.vocab."""
        # TODO: start from the UTF-8 bytes of text; each step merges the most frequent
        # pair into the next new id (256, 257, ...).
        raise NotImplementedError("BasicTokenizer.train")

    def encode(self, text):
        """str -> list of ids."""
        # TODO: start from the bytes again and apply the learned merges, lowest id first,
        # until no pair of the current ids is in self.merges.
        raise NotImplementedError("BasicTokenizer.encode")

    def decode(self, ids):
        """list of ids -> str (invalid UTF-8 becomes U+FFFD, never an exception)."""
        # TODO
        raise NotImplementedError("BasicTokenizer.decode")

    # Optional: save(file_prefix) writes file_prefix.model, load(model_file) reads it
    # back (see README.md for minbpe's format). Delete these two to skip their check.
    def save(self, file_prefix):
        raise NotImplementedError("BasicTokenizer.save")

    def load(self, model_file):
        raise NotImplementedError("BasicTokenizer.load")


# GPT-4's split pattern needs the `regex` package (\p{L} = letter, \p{N} = number):
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)


class RegexTokenizer(BasicTokenizer):
    """Optional: split the text with a regex first, so merges never cross chunks.

    Delete this class to skip its checks.
    """

    def __init__(self, pattern=None):
        super().__init__()
        # TODO: choose the pattern (GPT-4's with `regex`, or your own stdlib version:
        # stdlib re has no \p{L}; [^\W\d_] matches a letter and \d a digit) and compile it.
        raise NotImplementedError("RegexTokenizer.__init__")

    def train(self, text, vocab_size, verbose=False):
        # TODO: split text into chunks, count pairs inside every chunk (summed), merge
        # inside every chunk.
        raise NotImplementedError("RegexTokenizer.train")

    def encode(self, text, allowed_special="none_raise"):
        # TODO: encode each chunk on its own and concatenate. Optional special tokens:
        # with allowed_special="all", split around them first and emit their ids.
        raise NotImplementedError("RegexTokenizer.encode")

    def register_special_tokens(self, special_tokens):
        """Optional: special_tokens is {str: int}, e.g. {"<|endoftext|>": 100257}."""
        raise NotImplementedError("RegexTokenizer.register_special_tokens")
