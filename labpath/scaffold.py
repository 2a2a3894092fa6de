"""Copy a lab's starter files into the workspace without ever overwriting the learner's."""

from __future__ import annotations

import shutil
from pathlib import Path

from labpath.labs import Lab


def scaffold(lab: Lab, dest: Path) -> list[Path]:
    """Create the starter files missing from dest; return the paths created."""
    created = []
    sources = [p for p in sorted(lab.starter_dir.rglob("*")) if p.is_file()]
    sources = [p for p in sources if "__pycache__" not in p.parts]
    if lab.brief.is_file():
        sources.append(lab.brief)
    for src in sources:
        rel = (
            src.relative_to(lab.starter_dir) if src != lab.brief else Path("README.md")
        )
        target = dest / rel
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        created.append(target)
    return created
