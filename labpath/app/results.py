"""What every use case's result shares: notices with a level, and plain data for JSON."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

from labpath.structs import struct

INFO = "info"
WARNING = "warning"


@struct
class Notice:
    """A side message for stderr: info (dim) or a warning."""

    message: str
    level: str = INFO


def info(*messages: str | None) -> tuple[Notice, ...]:
    return tuple(Notice(m, INFO) for m in messages if m)


def warnings(*messages: str | None) -> tuple[Notice, ...]:
    return tuple(Notice(m, WARNING) for m in messages if m)


def plain(data):
    """Dataclasses, tuples and paths as JSON-ready dicts, lists and strings."""
    if is_dataclass(data) and not isinstance(data, type):
        return plain(asdict(data))
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [plain(v) for v in data]
    if isinstance(data, Path):
        return str(data)
    return data


def own_fields(result) -> dict:
    """A result's fields as plain data, without its notices."""
    return plain(
        {f.name: getattr(result, f.name) for f in fields(result) if f.name != "notices"}
    )
