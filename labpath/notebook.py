"""A Jupyter notebook as a lab's module(s): its code cells, cleaned, with a map to cells."""

from __future__ import annotations

import ast
import contextlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from labpath.errors import UsageError, did_you_mean

SUFFIX = ".ipynb"
# Cell magics whose body is Python that runs as written: the magic line goes, the body stays.
KEEP_BODY = ("time", "timeit", "prun")
# `# labpath: file=model.py` (this cell and the ones after it go to model.py) and
# `# labpath: skip` (leave this cell out).
MARKER = re.compile(r"^\s*#\s*labpath:\s*(?P<what>file\s*=\s*(?P<file>\S+)|skip)\s*$")
# A line IPython reads as shell or magic: `!pip install x`, `%matplotlib inline`,
# `files = !ls`, `x = %timeit -o f()`, `obj?`, `??obj`.
MAGIC_LINE = re.compile(
    r"^\s*([!%?]|[\w.,\s()\[\]]+=\s*[!%](?!=))|^\s*[\w.]+\s*\?{1,2}\s*$"
)


def is_notebook(path: Path) -> bool:
    return Path(path).suffix == SUFFIX


@dataclass(frozen=True)
class Origin:
    """Where a line of a generated module came from: (cell label, line in the cell)."""

    cell: str  # "cell 7" (a notebook) or "In [3]" (a kernel)
    line: int


@dataclass
class Module:
    """The generated source of one target file, and each line's origin."""

    lines: list[str] = field(default_factory=list)
    origins: list[Origin | None] = field(default_factory=list)

    def add(self, text: str, origin: Origin | None = None) -> None:
        self.lines.append(text)
        self.origins.append(origin)

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


@dataclass(frozen=True)
class Converted:
    """A notebook written as modules: {file name: Module}, and the cells left out."""

    modules: dict[str, Module]
    skipped: tuple[tuple[str, str], ...] = ()  # (cell label, why)


# --- reading the notebook ----------------------------------------------------------


def code_cells(path: Path) -> list[tuple[int, str]]:
    """(position from the top, counting every cell from 1; source) of each code cell."""
    try:
        import nbformat
    except ImportError:
        raise UsageError(
            "checking a notebook needs nbformat, which is not installed",
            hint='python -m pip install "labpath[notebook]"',
        ) from None
    try:
        nb = nbformat.read(str(path), as_version=4)
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read the notebook: {exc.strerror or exc}"
        ) from None
    except Exception as exc:  # nbformat raises JSON, validation and version errors
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise UsageError(
            f"{path}: not a notebook nbformat can read ({first})",
            hint="open and save it in Jupyter, or check it is an .ipynb file",
        ) from None
    cells = getattr(nb, "cells", None)
    if not isinstance(cells, list):
        raise UsageError(f"{path}: not a notebook nbformat can read (no cells)")
    found = []
    for i, cell in enumerate(cells, start=1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            found.append((i, "".join(source) if isinstance(source, list) else source))
    return found


# --- cleaning one cell -------------------------------------------------------------


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def clean_cell(source: str) -> tuple[list[str] | None, int, str]:
    """(lines to keep or None, line offset in the cell, why left out or changed).

    A `%%time` line goes and its body stays; another cell magic (%%bash, %%capture,
    %%writefile, ...) leaves the cell out. Shell and magic lines become blank (`pass`
    when indented, so a block stays a block).
    """
    lines = source.splitlines()
    offset = 0
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None, 0, "empty"
    head = lines[first].strip()
    if head.startswith("%%"):
        magic = head[2:].split(maxsplit=1)[0] if head[2:].strip() else ""
        if magic not in KEEP_BODY:
            return None, 0, f"%%{magic} cell"
        offset = first + 1
        lines = lines[first + 1 :]
    text = "\n".join(lines)
    why = ""
    if not _parses(text):  # only then can a line be a magic (valid Python has none)
        if any(MAGIC_LINE.match(line) for line in lines):
            why = "shell or magic lines only"
        lines = [_blank(line) if MAGIC_LINE.match(line) else line for line in lines]
    return lines, offset, why


def _blank(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return f"{indent}pass" if indent else ""


def _display_only(statements: list[ast.stmt]) -> bool:
    """Every statement shows something and defines nothing: x, print(x), plt.plot(...).

    A `for` loop whose body only shows (for w in words[:5]: print(w)) counts too.
    """
    for node in statements:
        if isinstance(node, ast.Expr):
            continue
        if isinstance(node, ast.For) and not node.orelse and _display_only(node.body):
            continue
        return False
    return True


def _marker(lines: list[str]) -> tuple[str | None, str | None]:
    """('file', name) or ('skip', None) from a marker on the cell's first line."""
    first = next((line for line in lines if line.strip()), "")
    m = MARKER.match(first)
    if not m:
        return None, None
    return ("skip", None) if m["what"] == "skip" else ("file", m["file"])


# --- the modules -------------------------------------------------------------------


def python_targets(lab) -> list[str]:
    """The lab's files a notebook can stand for: its .py files, in lab.yaml's order."""
    return [f for f in lab.files if f.endswith(".py")]


def convert(cells: list[tuple[str, str]], targets: list[str], where: str) -> Converted:
    """Write the cells as the target modules, top to bottom as a kernel would run them.

    cells: (label, source). Cells before the first `# labpath: file=NAME` marker go to
    every target (with no marker, every target holds the whole notebook); a marker
    sends its cell and the ones after it to NAME only.
    """
    modules = {name: Module() for name in targets}
    skipped = []
    futures: dict[str, list[str]] = {name: [] for name in targets}
    current = list(targets)
    for label, source in cells:
        lines, offset, why = clean_cell(source)
        if lines is None:
            if why != "empty":
                skipped.append((label, why))
            continue
        kind, name = _marker(lines)
        if kind == "skip":
            skipped.append((label, "# labpath: skip"))
            continue
        if kind == "file":
            if name not in targets:
                raise UsageError(
                    f"{where}, {label}: `# labpath: file={name}` names no file of "
                    "this lab",
                    hint=did_you_mean(name, targets)
                    or f"the lab's files: {', '.join(targets)}",
                )
            current = [name]
        text = "\n".join(lines)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = None  # kept: importing it names the cell and the line
        if tree is not None and not tree.body:
            if why:  # `!pip install ...`; a cell of comments is left out unsaid
                skipped.append((label, why))
            continue
        if tree is not None and _display_only(tree.body):
            skipped.append((label, "only shows output"))
            continue
        if tree is not None:
            # `from __future__` must open the file: it moves to the top.
            for node in tree.body:
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    for target in current:
                        futures[target].append(ast.unparse(node))
                    for n in range(node.lineno - 1, node.end_lineno):
                        lines[n] = ""
        for target in current:
            module = modules[target]
            for n, line in enumerate(lines, start=1 + offset):
                module.add(line, Origin(label, n))
            module.add("")  # a blank line between cells
    for target, imports in futures.items():
        if imports:
            m = modules[target]
            head = list(dict.fromkeys(imports))
            m.lines[:0] = head
            m.origins[:0] = [None] * len(head)
    return Converted(modules, tuple(skipped))


def read(path: Path, lab) -> Converted:
    """The notebook at path as the lab's module(s)."""
    if lab.planted:
        raise UsageError(
            f"lab '{lab.id}' plants faults in its own files: check it as a folder, "
            "not a notebook",
            hint=f"labpath check {lab.id} (on labs/{lab.id}/)",
        )
    targets = python_targets(lab)
    if not targets:
        raise UsageError(f"lab '{lab.id}' has no Python file a notebook can stand for")
    cells = [(f"cell {i}", source) for i, source in code_cells(path)]
    return convert(cells, targets, Path(path).name)


# --- locations in a report ---------------------------------------------------------


@dataclass(frozen=True)
class Relocator:
    """Rewrites locations in the generated modules as locations in the notebook."""

    folder: Path  # where the modules were written
    modules: dict[str, Module]
    name: str  # the notebook as the report names it ("work.ipynb")
    skipped: tuple[tuple[str, str], ...] = ()

    def advice(self, report) -> str | None:
        """For a run stopped at import or by the time limit: how to leave cells out."""
        failed_import = any(
            f"importing your {self.name} failed" in (r.message or "")
            for r in report.results
        )
        if report.status != "timeout" and not failed_import:
            return None
        return (
            "every cell that is not left out runs when the checks import your "
            "notebook, in a temporary folder: start a cell that trains, plots or "
            "reads a file with `# labpath: skip`"
        )

    def left_out(self) -> str | None:
        """'work.ipynb: left out cells 2, 5 (only shows output), 13 (%%bash cell)'."""
        if not self.skipped:
            return None
        why: dict[str, list[str]] = {}
        for label, reason in self.skipped:
            why.setdefault(reason, []).append(label.removeprefix("cell "))
        parts = [f"{', '.join(cells)} ({reason})" for reason, cells in why.items()]
        return f"{self.name}: left out cells " + "; ".join(parts)

    def origin(self, file: str, line: int) -> Origin | None:
        module = self.modules.get(file)
        if module is None or not 1 <= line <= len(module.origins):
            return None
        return module.origins[line - 1]

    def text(self, text: str | None) -> str | None:
        if not text:
            return text
        files = "|".join(re.escape(f) for f in self.modules)
        folder = re.escape(str(self.folder))
        pattern = re.compile(
            rf'File "(?:{folder}/)?(?P<tf>{files})", line (?P<tl>\d+)'
            rf"|(?:(?<=[\s(\[\"'])|^)(?:{folder}/)?(?P<file>{files}):(?P<line>\d+)"
            rf"(?P<mod> in <module>)?"
        )

        def swap(m: re.Match) -> str:
            if m["tf"]:
                o = self.origin(m["tf"], int(m["tl"]))
                if o is None:
                    return m[0]
                if not self.name:  # a kernel: File "In [3]", line 5
                    return f'File "{o.cell}", line {o.line}'
                return f'File "{self.name}", {o.cell}, line {o.line}'
            o = self.origin(m["file"], int(m["line"]))
            return self.at(o) if o else m[0]

        text = pattern.sub(swap, text)
        text = re.sub(rf"\byour (?:{files})\b", f"your {self.name or 'code'}", text)
        return text.replace(str(self.folder), self.name or "your code")

    def at(self, origin: Origin) -> str:
        """'work.ipynb, cell 7, line 3' (a notebook) or 'In [3], line 5' (a kernel)."""
        return ", ".join(filter(None, (self.name, origin.cell, f"line {origin.line}")))

    def report(self, report, target: Path):
        """The report with every location in the notebook, and the notebook as target."""
        results = tuple(
            replace(
                r,
                **{
                    k: self.text(getattr(r, k))
                    for k in (
                        "message",
                        "learner_location",
                        "where",
                        "what",
                        "hint",
                        "diagnosis",
                    )
                },
            )
            for r in report.results
        )
        return replace(
            report,
            target=str(target),
            results=results,
            message=self.text(report.message),
            output=self.text(report.output) or "",
        )


def write(converted: Converted, folder: Path) -> None:
    for name, module in converted.modules.items():
        file = folder / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(module.source(), encoding="utf-8")


@contextlib.contextmanager
def as_folder(path: Path, lab, name: str | None = None):
    """A temporary folder holding the notebook as the lab's files; yields a Relocator."""
    converted = read(path, lab)
    folder = Path(tempfile.mkdtemp(prefix="labpath-notebook-")).resolve()
    try:
        write(converted, folder)
        yield Relocator(
            folder, converted.modules, name or Path(path).name, converted.skipped
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
