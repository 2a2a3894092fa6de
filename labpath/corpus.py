"""A code corpus from the learner's git repositories, tokenized for the gpt-train lab."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import EnvironmentFailure, UsageError

MAX_UINT16_VOCAB = 65_535


@dataclass(frozen=True)
class SecretLine:
    repo: str
    path: str
    line: int
    text: str


@dataclass(frozen=True)
class CodeCorpus:
    out_dir: Path
    repos: tuple[str, ...]  # empty: the standard library
    train_files: int
    val_files: int
    duplicates: int
    skipped: int
    secrets: tuple[SecretLine, ...]
    train_tokens: int
    val_tokens: int
    vocab_size: int


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(f"labpath_corpus_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def _as_module(name: str, module):
    """Make `import name` give module while the lab's prepare runs."""
    saved = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved


def _masked(line: str) -> str:
    """A line that looks like a secret, with the secret itself cut: never echo a key."""
    line = re.sub(r"(['\"])([^'\"]{2})[^'\"]{4,}(['\"])", r"\1\2…\3", line)
    return re.sub(r"\b(AKIA|gh[pousr]_|github_pat_)[A-Za-z0-9_]{6,}", r"\1…", line)


def _check_repo(repo: Path) -> Path:
    if not repo.is_dir():
        raise UsageError(
            f"{repo}: no such folder", hint="labpath data code PATH_TO_A_GIT_REPOSITORY"
        )
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise UsageError(
            f"{repo} is not a git repository",
            hint=f"the corpus is what git tracks: git -C {repo} init && git -C {repo} add -A",
        )
    return repo.resolve()


def _tokenizer_file(folder: Path | None) -> Path:
    from labpath import labs

    if folder is None:
        return labs.load("bpe").solution_dir / "bpe.py"
    file = folder / "bpe.py"
    if not file.is_file():
        raise UsageError(
            f"no bpe.py in {folder}",
            hint="pass the folder of your bpe lab: --tokenizer labs/bpe",
        )
    return file


def build_code_corpus(
    repos: list[Path],
    out_dir: Path,
    *,
    vocab_size: int = 512,
    val_fraction: float = 0.1,
    seed: int = 1337,
    tokenizer_dir: Path | None = None,
    force: bool = False,
) -> CodeCorpus:
    """Run the gpt-train lab's prepare pipeline on repos (none: the standard library)."""
    if shutil.which("git") is None and repos:
        raise EnvironmentFailure("git is not installed", hint="install git, then rerun")
    if not 256 < vocab_size <= MAX_UINT16_VOCAB:
        raise UsageError(
            f"--vocab-size {vocab_size}: expected 257 to {MAX_UINT16_VOCAB:,}",
            hint="the ids are stored as uint16; 512 is a good start",
        )
    if not 0 < val_fraction < 1:
        raise UsageError(f"--val-fraction {val_fraction}: expected between 0 and 1")
    roots = [_check_repo(Path(r).expanduser()) for r in repos]
    names = [r.name for r in roots]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(
            f"two repositories are both named {twice[0]}",
            hint="give each repository once; the split goes by folder name",
        )
    out_dir = Path(out_dir).expanduser()
    if (out_dir / "train.bin").exists() and not force:
        raise UsageError(
            f"{out_dir} already holds a corpus (train.bin)",
            hint=f"choose another --out, or replace it with --force: labpath data code --out {out_dir} --force",
        )
    from labpath import labs

    bpe = _load("bpe", _tokenizer_file(tokenizer_dir))
    prepare = _load("prepare", labs.load("gpt-train").solution_dir / "prepare.py")
    try:
        with _as_module("bpe", bpe):
            result = prepare.prepare(
                [str(r) for r in roots],
                str(out_dir),
                vocab_size=vocab_size,
                val_fraction=val_fraction,
                seed=seed,
            )
    except ValueError as exc:
        raise UsageError(
            str(exc), hint="pass repositories that track source files (.py, .js, ...)"
        ) from None
    except OSError as exc:
        raise EnvironmentFailure(f"writing {out_dir} failed: {exc}") from None
    return CodeCorpus(
        out_dir=out_dir,
        repos=tuple(names),
        train_files=len(result["train"]),
        val_files=len(result["val"]),
        duplicates=result["duplicates"],
        skipped=len(result["skipped"]),
        secrets=tuple(
            SecretLine(r, p, n, _masked(s)) for r, p, n, s in result["secrets"]
        ),
        train_tokens=result["train_tokens"],
        val_tokens=result["val_tokens"],
        vocab_size=result["vocab_size"],
    )
