"""A lab's brief (README.md): the one home of its Steps."""

from __future__ import annotations

import re
from pathlib import Path

_ITEM = re.compile(r"^(?:\d+[.)]|[-*])\s+(.*)$")


def with_steps(task):
    """The task, with its lab's Steps when it names a shipped lab and lists none itself."""
    from dataclasses import replace

    from labpath import labs

    if task.steps or not task.lab or not labs.exists(task.lab):
        return task
    return replace(task, steps=steps(labs.load(task.lab)))


def steps(lab) -> tuple[str, ...]:
    """The items of the brief's `## Steps` section, in order; () when it has none."""
    return read_steps(lab.brief)


def read_steps(readme: Path) -> tuple[str, ...]:
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ()
    found: list[str] = []
    inside = fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced:
            continue
        if line.startswith("#"):
            inside = line.lstrip("#").strip().lower() == "steps"
            continue
        if not inside or not line.strip():
            continue
        item = _ITEM.match(line)
        if item:
            found.append(item.group(1).strip())
        elif found and line[:1].isspace():
            found[-1] += " " + line.strip()  # a wrapped line of the same step
    return tuple(found)
