"""A package folder without __init__.py: a namespace package."""


class Tokenizer:
    def __init__(self):
        self.merges = {}
