"""Use case of the training runs: list them with their ids and plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labpath import runs
from labpath.app.context import open_workspace
from labpath.app.results import Notice


@dataclass(frozen=True)
class RunList:
    runs: tuple[runs.Run, ...]
    root: Path
    lab: str | None = None
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict:
        return {
            "runs": [
                {
                    "id": r.id,
                    "lab": r.lab,
                    "started": r.started.isoformat(),
                    "folder": str(r.folder),
                    "plots": [str(p.relative_to(r.folder)) for p in r.plots],
                }
                for r in self.runs
            ]
        }


def list_runs(ws_path: str | None, lab: str | None) -> RunList:
    """`labpath run --list [LAB]`: the workspace's runs, newest first."""
    ws = open_workspace(ws_path)
    return RunList(tuple(runs.list_runs(ws.state_dir, lab)), ws.root, lab)
