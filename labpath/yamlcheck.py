"""Validation over YAML nodes, so every error in a data file can name file:line."""

from __future__ import annotations

import re
from pathlib import Path

from labpath.errors import UsageError, did_you_mean

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DECIMAL = re.compile(r"^[-+]?[0-9][0-9_]*$")  # not YAML 1.1's 0x1, 0b1 or 1:30


class Ctx:
    """The file being validated; turns a node and a key path into a UsageError."""

    def __init__(self, file: Path):
        self.file = file

    def error(self, node, keypath: str, message: str, hint: str | None = None):
        line = node.start_mark.line + 1 if node is not None else 1
        where = f"{self.file}:{line}"
        return UsageError(f"{where}: {keypath}: {message}", hint=hint)


def regular(file: Path, what: str, hint: str) -> None:
    """A data file must be a readable regular file: never wait on a pipe."""
    import stat

    try:
        mode = file.stat().st_mode
    except OSError:
        mode = None
    if mode is None or not stat.S_ISREG(mode):
        if mode is None:
            kind = "a broken link"
        elif stat.S_ISDIR(mode):
            kind = "a folder"
        else:
            kind = "not a regular file"
        raise UsageError(f"{file}: is {kind}, not {what}", hint=hint)


def compose(file: Path, what: str, nesting_hint: str):
    """The file's root YAML node, or one clear error for unreadable or malformed YAML."""
    import yaml

    try:
        text = file.read_text(encoding="utf-8")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.compose(text, Loader=loader)
    except UnicodeDecodeError:
        raise UsageError(f"{file}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(
            f"{file}: cannot be read ({exc.strerror})",
            hint="check the file's permissions",
        ) from None
    except RecursionError:
        raise UsageError(
            f"{file}: nested too deeply to be {what}", hint=nesting_hint
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(
            f"{file}{line}: malformed YAML: {problem}",
            hint="fix the YAML syntax at that line (indentation, quotes, colons)",
        ) from None


def version(ctx: Ctx, node, supported: int) -> int:
    """`format_version`, refused when newer than this labpath reads."""
    found = integer(ctx, node, "format_version")
    if found > supported:
        raise ctx.error(
            node,
            "format_version",
            f"version {found} is newer than this labpath understands ({supported})",
            hint="upgrade labpath: pip install -U labpath",
        )
    if found < 1:
        raise ctx.error(node, "format_version", "must be 1")
    return found


def mapping(ctx: Ctx, node, key: str, allowed, required) -> dict:
    """A mapping's value nodes by key; unknown keys get a did-you-mean."""
    import yaml

    if not isinstance(node, yaml.MappingNode) or node.tag != "tag:yaml.org,2002:map":
        raise ctx.error(node, key, "must be a mapping (key: value)")
    out = {}
    for knode, vnode in node.value:
        if (
            not isinstance(knode, yaml.ScalarNode)
            or knode.tag != "tag:yaml.org,2002:str"
        ):
            raise ctx.error(knode, key, f"a key must be a name, got {describe(knode)}")
        name = knode.value
        if name not in allowed:
            raise ctx.error(
                knode,
                key,
                f"unknown key '{name}'",
                hint=did_you_mean(name, allowed)
                or f"allowed keys: {', '.join(allowed)}",
            )
        if name in out:
            raise ctx.error(knode, key, f"key '{name}' appears twice")
        out[name] = vnode
    for name in required:
        if name not in out:
            raise ctx.error(node, key, f"missing required key '{name}'")
    return out


def is_seq(node) -> bool:
    import yaml

    return isinstance(node, yaml.SequenceNode) and node.tag == "tag:yaml.org,2002:seq"


def string(ctx: Ctx, node, key: str) -> str:
    """A non-empty string scalar, stripped."""
    return text(ctx, node, key).strip()


def text(ctx: Ctx, node, key: str, empty: bool = False) -> str:
    """A string scalar exactly as written (code keeps its indentation)."""
    import yaml

    if (
        not isinstance(node, yaml.ScalarNode)
        or node.tag != "tag:yaml.org,2002:str"
        or not (empty or node.value.strip())
    ):
        raise ctx.error(node, key, f"must be a non-empty string, got {describe(node)}")
    if any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in node.value):
        raise ctx.error(
            node,
            key,
            "holds a control character (a NUL or escape?)",
            hint="remove it; write plain text",
        )
    return node.value


def integer(ctx: Ctx, node, key: str) -> int:
    if node.tag != "tag:yaml.org,2002:int" or not DECIMAL.match(str(node.value)):
        raise ctx.error(
            node,
            key,
            f"must be an integer, got {describe(node)}",
            hint="write a plain decimal number such as 1",
        )
    return int(str(node.value).replace("_", ""))


def number(ctx: Ctx, node, key: str) -> float:
    """An int or float scalar (YAML tags, not strings that look like numbers)."""
    import math

    try:
        value = float(node.value)
    except (ValueError, TypeError, AttributeError):
        value = math.nan
    if node.tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") or (
        not math.isfinite(value)
    ):
        raise ctx.error(node, key, f"must be a number, got {describe(node)}")
    return value


def slug(ctx: Ctx, node, key: str) -> str:
    value = string(ctx, node, key)
    if not SLUG.match(value):
        raise ctx.error(
            node, key, f"'{value}' is not an id (lowercase letters, digits, '-')"
        )
    return value


def seq(ctx: Ctx, node, key: str) -> list:
    if node is None:
        return []
    if not is_seq(node):
        raise ctx.error(node, key, f"must be a list, got {describe(node)}")
    return list(node.value)


def strings(ctx: Ctx, node, key: str) -> tuple[str, ...]:
    return tuple(
        string(ctx, n, f"{key}[{i}]") for i, n in enumerate(seq(ctx, node, key))
    )


def describe(node) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = str(node.tag).rsplit(":", 1)[-1][:20]
    value = str(node.value)
    return f"{kind} {value[:40]!r}" + ("..." if len(value) > 40 else "")
