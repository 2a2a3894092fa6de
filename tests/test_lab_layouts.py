"""A lab accepts a correct solution laid out as a package, whatever its __init__.py imports."""

import shutil
from pathlib import Path

import pytest

from labpath import labs
from labpath.checks.runner import run_checks


def minbpe_layout(root: Path) -> Path:
    """The bpe solution as minbpe's package; __init__.py also imports a module needing tiktoken."""
    lab = labs.load("bpe")
    pkg = root / "minbpe"
    pkg.mkdir(parents=True)
    shutil.copy(lab.solution_dir / "bpe.py", pkg / "base.py")
    (pkg / "basic.py").write_text(
        "from .base import BasicTokenizer\n", encoding="utf-8"
    )
    (pkg / "regex.py").write_text(
        "from .base import RegexTokenizer\n", encoding="utf-8"
    )
    (pkg / "gpt4.py").write_text(
        "import tiktoken  # never needed by the checks\n", encoding="utf-8"
    )
    (pkg / "__init__.py").write_text(
        "from .base import Tokenizer\nfrom .basic import BasicTokenizer\n"
        "from .regex import RegexTokenizer\nfrom .gpt4 import *\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.slow
@pytest.mark.parametrize("given", ["root", "package"])
def test_bpe_checks_a_minbpe_package_without_running_its_init(tmp_path, given):
    root = minbpe_layout(tmp_path / "repo")
    target = root if given == "root" else root / "minbpe"
    checks = [
        "test_get_stats_counts_consecutive_pairs",
        "test_merge_replaces_non_overlapping_pairs",
        "test_wikipedia_example",
        "test_regex_train_learns_most_frequent_chunk_pairs",
        "test_regex_save_and_load_keeps_pattern_and_special_tokens",
    ]
    report = run_checks(labs.load("bpe"), target, select=checks)
    outcomes = {r.name: (r.outcome, r.message) for r in report.results}
    assert report.ok, outcomes
    assert sorted(outcomes) == sorted(checks), outcomes
    assert all(o == "passed" for o, _ in outcomes.values()), outcomes
