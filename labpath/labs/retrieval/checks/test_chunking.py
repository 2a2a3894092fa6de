"""Checks for chunk_script: exact overlapping windows for text, whole definitions for Python."""

import ast
import dataclasses

from retrieval_ref import chunk, need

from labpath.checks import kit

PY = '''"""A small module to cut into chunks."""
import os
import sys

LIMIT = 3


def short(a, b):
    """Add two numbers."""
    return a + b
ALIAS = short
def twice(x):
    return 2 * x


@staticmethod
def decorated(x):
    y = x * 2
    z = y + 1
    if z > LIMIT:
        z -= LIMIT
    return z


def long_function(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += i
        else:
            total -= i
        if total > 100:
            total = 0
        elif total < -100:
            total = 0
    while n > 0:
        n -= 1
        total += n
    print(total)
    print(n)
    return total


class Small:
    """Fits in one chunk."""

    def __init__(self):
        self.x = 1

    def get(self):
        return self.x


class Exact:
    """Exactly max_lines = 12 lines: it fits, so it stays whole."""

    size = 3
    def a(self):
        return 1

    def b(self):
        return 2

    def c(self):
        return 3


class Big:
    """Too long for one chunk: its methods are chunked one by one."""

    size = 10

    def first(self):
        a = 1
        b = 2
        return a + b

    def second(self, v):
        if v:
            return v * 2
        return 0

    def third(self):
        out = []
        for i in range(3):
            out.append(i)
        return out
BIG = Big()


if __name__ == "__main__":
    print(short(1, 2))
'''
PY_MAX, PY_OVERLAP = 12, 3


def _lines(text):
    return text.splitlines()


def _chunks(rt, path, text, **kw):
    (chunk_script,) = need(rt, "chunk_script")
    chunks = chunk(chunk_script, path, text, **kw)
    if not isinstance(chunks, list):
        kit.fail(
            "chunk_script must return a list of Chunk", yours=type(chunks).__name__
        )
    for c in chunks:
        for field in ("path", "start_line", "end_line", "text"):
            if not hasattr(c, field):
                kit.fail(f"a chunk has no attribute {field}",
                         hint="Chunk is a dataclass with path, start_line, end_line, text")
    return chunks


def _check_texts(chunks, path, text, max_lines):
    """Every chunk: its path, a valid 1-based inclusive range, the exact lines, <= max_lines."""
    lines = _lines(text)
    for c in chunks:
        if c.path != path:
            kit.fail("chunk.path", yours=c.path, expected=path)
        if not (1 <= c.start_line <= c.end_line <= len(lines)):
            kit.fail(f"chunk lines {c.start_line}..{c.end_line} of a {len(lines)}-line file",
                     hint="lines are numbered from 1 and end_line is inclusive")
        expected = "\n".join(lines[c.start_line - 1 : c.end_line])
        if c.text != expected:
            diagnosis = None
            if c.text == "\n".join(lines[c.start_line - 1 : c.end_line - 1]):
                diagnosis = "your text stops one line early: end_line is inclusive"
            elif c.text == "\n".join(lines[c.start_line : c.end_line + 1]):
                diagnosis = "your text is shifted by one line: start_line is 1-based"
            kit.fail(f"text of the chunk at lines {c.start_line}..{c.end_line}",
                     yours=c.text[:80], expected=expected[:80], diagnosis=diagnosis,
                     hint='text == "\\n".join(lines[start_line - 1 : end_line])')
        size = c.end_line - c.start_line + 1
        if size > max_lines:
            kit.fail(f"a chunk of {size} lines (lines {c.start_line}..{c.end_line})",
                     expected=f"at most max_lines = {max_lines}")


def _windows(n, max_lines, overlap):
    step, out, s = max_lines - overlap, [], 1
    while True:
        e = min(s + max_lines - 1, n)
        out.append((s, e))
        if e == n:
            return out
        s += step


def _script(n):
    return (
        "\n".join(
            f"echo step {i} && run_task --id {i * 7 % 11}" for i in range(1, n + 1)
        )
        + "\n"
    )


def test_text_files_are_cut_into_overlapping_windows(rt):
    """A non-Python file is cut into windows of max_lines lines, consecutive ones sharing overlap lines."""
    cases = [(23, 7, 2), (22, 7, 2), (5, 7, 2), (1, 7, 2), (30, 9, 4), (17, 6, 0)]
    for n, max_lines, overlap in cases:
        text = _script(n)
        chunks = _chunks(rt, "deploy.sh", text, max_lines=max_lines, overlap=overlap)
        _check_texts(chunks, "deploy.sh", text, max_lines)
        yours = sorted((c.start_line, c.end_line) for c in chunks)
        expected = _windows(n, max_lines, overlap)
        if yours != expected:
            diagnosis = None
            starts = [s for s, _ in yours]
            gaps = {b - a for a, b in zip(starts, starts[1:])}
            if gaps == {max_lines} and overlap:
                diagnosis = "your windows do not overlap: step by max_lines - overlap"
            elif gaps == {overlap} and overlap:
                diagnosis = "you step by overlap; the step is max_lines - overlap"
            elif yours and yours[-1][1] < n:
                diagnosis = f"the last lines are missing: your last window ends at {yours[-1][1]} of {n}"
            kit.fail(f"windows of a {n}-line shell script, max_lines={max_lines}, overlap={overlap}",
                     yours=yours, expected=expected, diagnosis=diagnosis,
                     hint="start at line 1, step by max_lines - overlap, stop at the window "
                     "that reaches the last line")


def test_defaults_are_40_lines_with_10_overlap(rt):
    """chunk_script(path, text) without options uses max_lines=40 and overlap=10."""
    text = _script(95)
    chunks = _chunks(rt, "build.sh", text)
    yours = sorted((c.start_line, c.end_line) for c in chunks)
    expected = _windows(95, 40, 10)
    if yours != expected:
        kit.fail("windows of a 95-line script with the defaults", yours=yours, expected=expected,
                 hint="def chunk_script(path, text, max_lines=40, overlap=10)")


def test_python_that_does_not_parse_falls_back_to_windows(rt):
    """A .py file with a syntax error (Python 2 print) is windowed like any text, not an exception."""
    text = "\n".join(f"print 'line {i}'" for i in range(1, 15)) + "\n"
    try:
        chunks = _chunks(rt, "old.py", text, max_lines=6, overlap=1)
    except SyntaxError:
        kit.fail("chunk_script raised SyntaxError on a .py file that does not parse",
                 hint="catch SyntaxError from ast.parse and cut the file into windows")
    yours = sorted((c.start_line, c.end_line) for c in chunks)
    expected = _windows(14, 6, 1)
    if yours != expected:
        kit.fail("windows of an unparsable 14-line .py file, max_lines=6, overlap=1",
                 yours=yours, expected=expected)


def _definitions(tree, max_lines):
    """Functions and classes that must stay whole: top-level ones, and the members of
    classes too long to be one chunk, each fitting in max_lines (def line to last line)."""
    out = []

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                span = (node.lineno, node.end_lineno, node.name)
                if node.end_lineno - node.lineno + 1 <= max_lines:
                    out.append(span)
                elif isinstance(node, ast.ClassDef):
                    visit(node.body)

    visit(tree.body)
    return out


def test_python_is_cut_by_function_and_class(rt):
    """Python: every function, method or class that fits in max_lines lies whole in one chunk and no chunk cuts through it."""
    path = "tools/report.py"
    chunks = _chunks(rt, path, PY, max_lines=PY_MAX, overlap=PY_OVERLAP)
    _check_texts(chunks, path, PY, PY_MAX)
    lines = _lines(PY)
    covered = set()
    for c in chunks:
        covered.update(range(c.start_line, c.end_line + 1))
    missing = [
        i for i, line in enumerate(lines, start=1) if line.strip() and i not in covered
    ]
    if missing:
        kit.fail(f"{len(missing)} non-blank lines are in no chunk", yours=missing[:10],
                 hint="the lines between definitions (imports, constants, module code) need "
                 "chunks too: window them")
    spans = [(c.start_line, c.end_line) for c in chunks]
    for lo, hi, name in _definitions(ast.parse(PY), PY_MAX):
        whole = [s for s in spans if s[0] <= lo and hi <= s[1]]
        cut = [
            s
            for s in spans
            if s[0] <= hi and lo <= s[1] and not (s[0] <= lo and hi <= s[1])
        ]
        if not whole or cut:
            kit.fail(f"`{name}` (lines {lo}..{hi}, {hi - lo + 1} lines <= max_lines {PY_MAX}) "
                     + ("is in no single chunk" if not whole else f"is cut by chunk {cut[0]}"),
                     yours=sorted(spans),
                     diagnosis="these look like plain windows: parse Python with ast and give "
                     "every definition its own chunk" if len(set(b - a for (a, _), (b, _) in
                     zip(sorted(spans), sorted(spans)[1:]))) == 1 else None,
                     hint="ast.parse(text); for each def/class use node.lineno and "
                     "node.end_lineno; open up a class too long to fit")


def test_chunk_is_a_dataclass(rt):
    """Chunk is a dataclass with path, start_line, end_line and text."""
    (Chunk,) = need(rt, "Chunk")
    if not dataclasses.is_dataclass(Chunk):
        kit.fail("Chunk is not a dataclass", hint="decorate it with @dataclass")
    c = Chunk(path="a.sh", start_line=2, end_line=3, text="x\ny")
    if (c.path, c.start_line, c.end_line, c.text) != ("a.sh", 2, 3, "x\ny"):
        kit.fail("Chunk(path=..., start_line=..., end_line=..., text=...) fields",
                 yours=dataclasses.astuple(c))
