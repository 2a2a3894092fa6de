"""Apply a catalogued bug's edit by matching code tokens, so comments and layout don't matter."""

from __future__ import annotations

import ast
import functools
import io
import tokenize
from dataclasses import dataclass

# Layout and comments: what a formatter or a rewritten comment may change.
_IGNORED = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
}


@dataclass(frozen=True)
class _Tok:
    key: str
    start: int  # offset into the text
    end: int


def line_starts(text: str) -> list[int]:
    """The offset where each line of text starts (and one past the end)."""
    starts, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _key(tok: tokenize.TokenInfo) -> str:
    if tok.type == tokenize.STRING:
        try:
            return repr(ast.literal_eval(tok.string))  # 'a' and "a" are the same
        except (ValueError, SyntaxError):
            return tok.string
    if tok.type == tokenize.NEWLINE:
        return "\n"
    return tok.string


def code(text: str) -> list[str] | None:
    """The code of text as token keys: equal for texts differing only in comments."""
    found = tokens(text)
    return None if found is None else [t.key for t in found]


@functools.lru_cache(maxsize=64)
def tokens(text: str) -> tuple[_Tok, ...] | None:
    """The code tokens of text with their offsets, or None if it cannot be tokenized."""
    lines = line_starts(text)
    found: list[_Tok] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.ERRORTOKEN and tok.string.strip():
                return None  # a stray quote: the fragment starts inside a string
            if tok.type in _IGNORED or (
                tok.type == tokenize.NEWLINE and not tok.string
            ):
                continue
            start = lines[tok.start[0] - 1] + tok.start[1]
            end = lines[tok.end[0] - 1] + tok.end[1]
            found.append(_Tok(_key(tok), start, end))
    except tokenize.TokenError as exc:
        # A fragment may stop inside brackets: every token before the end is kept.
        # One that stops inside a string has lost text, so it is matched as text.
        if not found or "statement" not in str(exc.args[0]):
            return None
    except (IndentationError, SyntaxError):
        return None
    return tuple(found)


def _fragment(old: str) -> list[str] | None:
    """The token keys of an `old:` fragment, read whatever its indentation."""
    import textwrap

    for candidate in (
        textwrap.dedent(old),
        "\n".join(x.lstrip() for x in old.split("\n")),
    ):
        toks = tokens(candidate)
        if toks:
            return [t.key for t in toks]
    return None


def has_comment(old: str) -> bool:
    """Whether an `old:` fragment holds a comment (it should name code only)."""
    try:
        return any(
            t.type == tokenize.COMMENT
            for t in tokenize.generate_tokens(io.StringIO(old.strip()).readline)
        )
    except (tokenize.TokenError, SyntaxError):
        return False


def spans(text: str, old: str) -> list[tuple[int, int]]:
    """Every place in text whose code is old's code, as (start, end) offsets."""
    want = _fragment(old)
    have = tokens(text)
    found = []
    if want is not None and have is not None:
        keys = [t.key for t in have]
        n = len(want)
        for i in range(len(keys) - n + 1):
            if keys[i : i + n] == want:
                found.append(_widen(text, old, have[i].start, have[i + n - 1].end))
    if not found:
        # Not code, or part of a token: the exact text, as written.
        at = text.find(old)
        while at != -1:
            found.append((at, at + len(old)))
            at = text.find(old, at + 1)
    return found


def _widen(text: str, old: str, start: int, end: int) -> tuple[int, int]:
    """Take in the indentation and the line end when old itself starts or ends so."""
    if old[:1] in " \t":
        line = text.rfind("\n", 0, start) + 1
        if not text[line:start].strip():
            start = line
    if old.endswith("\n") and not text[end - 1 : end] == "\n":
        nl = text.find("\n", end)
        end = len(text) if nl == -1 else nl + 1
    return start, end


def apply(text: str, old: str, new: str) -> tuple[str, int]:
    """text with old's one occurrence replaced by new, and how many there were."""
    found = spans(text, old)
    if len(found) != 1:
        return text, len(found)
    start, end = found[0]
    return text[:start] + new + text[end:], 1
