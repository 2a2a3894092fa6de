"""Data sets for the labs: data code."""

from pathlib import Path
from typing import Annotated

import typer

from labpath.cli.options import JsonOpt, WorkspaceOpt

data_app = typer.Typer(help="Build data sets for the labs.", no_args_is_help=True)


@data_app.command("code")
def data_code(
    repos: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Git repositories to take code from (none: Python's standard library).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for train.bin, val.bin, meta.pkl."),
    ] = Path("data"),
    vocab_size: Annotated[
        int,
        typer.Option(
            "--vocab-size", help="BPE vocabulary, 257 to 65,535 (uint16 ids)."
        ),
    ] = 512,
    val_fraction: Annotated[
        float,
        typer.Option(
            "--val-fraction",
            help="Share of the repositories (of the files, for one) held out.",
        ),
    ] = 0.1,
    tokenizer: Annotated[
        Path | None,
        typer.Option(
            "--tokenizer",
            help="Folder with your bpe.py (default: the workspace's labs/bpe, "
            "else labpath's reference).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a corpus already in --out.")
    ] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
):
    """gpt-train's corpus from your git repositories: tracked source, deduplicated,
    split by repository, encoded with your BPE."""
    from labpath import ui
    from labpath.app import data

    result = data.code_corpus(
        list(repos or []), out, vocab_size, val_fraction, tokenizer, force, workspace
    )
    ui.show(result, json)
