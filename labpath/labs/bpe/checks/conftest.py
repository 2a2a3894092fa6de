"""Shared fixtures for the bpe checks: the learner's helpers and tokenizer classes.

Two layouts work: a single bpe.py (this lab's starter), or minbpe's package layout
(minbpe/base.py with get_stats and merge, minbpe/basic.py, minbpe/regex.py), given as
the repository root or as the package folder itself.
"""

import re
import sys
import types

import pytest

from labpath.checks import kit

try:  # import the third-party `regex` now, before a learner folder holding a file
    import regex as _regex_package  # named regex.py is put on sys.path and shadows it
except ImportError:
    _regex_package = None


def _layout():
    root = kit.target()
    if (root / "bpe.py").is_file():
        return "single"
    if (root / "basic.py").is_file() or (root / "minbpe" / "basic.py").is_file():
        return "minbpe"
    return "single"  # let learner_module report what it looked for


def _module(name):
    if _layout() == "single":
        return kit.learner_module("bpe")
    _register_package_without_init()
    return kit.learner_module(name, package="minbpe")


def _register_package_without_init():
    """Load minbpe's modules without running its __init__.py.

    The checks import base, basic and regex by name; __init__.py only re-exports them,
    and minbpe's also imports gpt4.py, which needs tiktoken (not installed, and not what
    the checks test). An empty package object whose __path__ is the folder lets
    `minbpe.basic` and its `from .base import ...` load while __init__.py never runs.
    """
    root = kit.target()
    pkg = root / "minbpe" if (root / "minbpe" / "basic.py").is_file() else root
    if (
        (pkg / "__init__.py").is_file()
        and pkg.name.isidentifier()
        and pkg.name not in sys.modules
    ):
        module = types.ModuleType(pkg.name)
        module.__path__ = [str(pkg)]
        module.__file__ = str(pkg / "__init__.py")
        sys.modules[pkg.name] = module


@pytest.fixture(scope="session")
def helpers():
    """(get_stats, merge) from bpe.py or minbpe/base.py."""
    module = _module("base")
    for name in ("get_stats", "merge"):
        if not hasattr(module, name):
            kit.fail(f"your code defines no function {name}")
    return module.get_stats, module.merge


@pytest.fixture(scope="session")
def BasicTokenizer():
    module = _module("basic")
    if not hasattr(module, "BasicTokenizer"):
        kit.fail("your code defines no class BasicTokenizer")
    return module.BasicTokenizer


def _imports_regex(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    return re.search(r"^\s*(import regex\b|from regex import)", text, re.M) is not None


@pytest.fixture(scope="session")
def RegexTokenizer():
    """The learner's RegexTokenizer (optional: skipped when absent or when it needs `regex`)."""
    root = kit.target()
    if _layout() == "minbpe":
        files = [
            p for p in (root / "regex.py", root / "minbpe" / "regex.py") if p.is_file()
        ]
        if not files:
            pytest.skip(
                "your code has no regex.py / RegexTokenizer; skipped (optional in this lab)"
            )
        if _regex_package is None and _imports_regex(files[0]):
            pytest.skip(
                "your regex.py imports the `regex` package, which is not installed here; skipped "
                "(install it, or fall back to the stdlib re as the reference solution does)"
            )
    module = _module("regex")
    kit.skip_unless(module, "RegexTokenizer", "RegexTokenizer")
    return module.RegexTokenizer
