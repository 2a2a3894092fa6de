"""Use cases that build the data sets labs train on: `labpath data code`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labpath.app.results import Notice, info, plain, warnings


@dataclass(frozen=True)
class CorpusBuilt:
    corpus: object  # corpus.CodeCorpus
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return plain(self.corpus)


def _own_bpe(ws_path: str | None) -> Path | None:
    """The learner's bpe lab folder, when they are in a workspace that has one."""
    from labpath import workspace
    from labpath.errors import UsageError

    try:
        folder = workspace.open_workspace(ws_path).lab_dir("bpe")
    except UsageError:
        return None
    return folder if (folder / "bpe.py").is_file() else None


def code_corpus(
    repos: list[Path],
    out: Path,
    vocab_size: int,
    val_fraction: float,
    tokenizer: Path | None,
    force: bool,
    ws_path: str | None = None,
) -> CorpusBuilt:
    """gpt-train's corpus from git repositories, encoded with the learner's BPE if found."""
    from labpath import corpus

    mine = None if tokenizer else _own_bpe(ws_path)
    built = corpus.build_code_corpus(
        repos,
        out,
        vocab_size=vocab_size,
        val_fraction=val_fraction,
        tokenizer_dir=tokenizer or mine,
        force=force,
    )
    said = [
        f"{s.repo}/{s.path}:{s.line} looks like a secret: {s.text}"
        for s in built.secrets
    ]
    used = info(f"Tokenizer: your {mine / 'bpe.py'}") if mine else ()
    return CorpusBuilt(built, used + warnings(*said))
