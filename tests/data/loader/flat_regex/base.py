"""A flat copy of a tokenizer repository: base.py next to regex.py."""


class Tokenizer:
    def __init__(self):
        self.merges = {}
