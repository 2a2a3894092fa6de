"""Checks from a running kernel: the lab's objects written back as source, checked outside."""

from __future__ import annotations

import ast
import builtins
import html
import linecache
import re
import shlex
import sys
import tempfile
import types
from dataclasses import dataclass, field, replace
from pathlib import Path

from labpath.errors import LabpathError, UsageError
from labpath.notebook import Module, Origin, Relocator

# Names IPython puts in every namespace; never part of a learner's module.
_SHELL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "display", "_", "__", "___"}
_CELL_NAME = re.compile(r"^<ipython-input-(\d+)-[0-9a-f]+>$")


class Unrecoverable(LabpathError):
    """An object's source cannot be found (a C extension, exec, history only)."""


# --- where the kernel's code is ----------------------------------------------------


def _cell_label(filename: str) -> str:
    """'In [3]' for a cell IPython compiled, else the file's name."""
    shell = _shell()
    number = None
    if shell is not None:
        number = getattr(shell.compile, "_filename_map", {}).get(filename)
    if number is None:
        m = _CELL_NAME.match(filename)
        number = int(m[1]) if m else None
    return f"In [{number}]" if number is not None else Path(filename).name


def _shell():
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None) if ipython else None
    return get() if get else None


def _cell_files() -> list[str]:
    """The code IPython keeps (linecache entries with no file time), oldest first."""
    return [
        name
        for name, entry in list(linecache.cache.items())
        if len(entry) == 4 and entry[1] is None
    ]


@dataclass(frozen=True)
class Piece:
    """One top-level statement of a cell or file: its text and where it came from."""

    text: str
    origins: tuple[Origin, ...]
    tree: ast.stmt


def _statements(filename: str) -> list[tuple[ast.stmt, list[str]]]:
    lines = linecache.getlines(filename)
    if not lines:
        return []
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return []
    return [(node, lines) for node in tree.body]


def _piece(filename: str, node: ast.stmt, lines: list[str]) -> Piece:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    text = "".join(lines[start - 1 : node.end_lineno]).rstrip("\n")
    label = _cell_label(filename)
    origins = tuple(Origin(label, n) for n in range(start, node.end_lineno + 1))
    return Piece(text, origins, node)


def _span(node: ast.stmt) -> range:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return range(start, node.end_lineno + 1)


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id == name for t in targets)
    return False


def _function_source(name: str, fn) -> Piece | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    own = getattr(fn, "__name__", name)
    for node, lines in _statements(code.co_filename):
        if code.co_firstlineno in _span(node) and (
            _defines(node, own) or _defines(node, name)
        ):
            return _piece(code.co_filename, node, lines)
    return None


def _generated(code: types.CodeType) -> bool:
    """A dunder written by a library through exec (a dataclass's __init__, __eq__)."""
    name = code.co_name
    return (
        name.startswith("__")
        and name.endswith("__")
        and not linecache.getlines(code.co_filename)
    )


def _method_codes(cls) -> list[types.CodeType]:
    codes = []
    for value in vars(cls).values():
        for fn in (
            value,
            getattr(value, "__func__", None),
            getattr(value, "fget", None),
            getattr(value, "__wrapped__", None),
        ):
            code = getattr(fn, "__code__", None)
            if code is not None and not _generated(code):
                codes.append(code)
    return codes


def _class_source(cls) -> Piece | None:
    """The class statement: found from a method's code, else by name in the cells.

    inspect.getsource misses a class defined in a cell before Python 3.13 (it looks
    for the source file of __main__, which a kernel has none of).
    """
    lost = False  # a method compiled from text nobody kept (exec)
    for code in _method_codes(cls):
        statements = _statements(code.co_filename)
        lost = lost or not statements
        for node, lines in statements:
            if (
                isinstance(node, ast.ClassDef)
                and node.name == cls.__name__
                and code.co_firstlineno in _span(node)
            ):
                return _piece(code.co_filename, node, lines)
    if lost:
        return None
    first = getattr(cls, "__firstlineno__", None)  # Python 3.13
    for filename in reversed(_cell_files()):
        for node, lines in _statements(filename):
            if (
                isinstance(node, ast.ClassDef)
                and node.name == cls.__name__
                and (first is None or first in _span(node))
            ):
                return _piece(filename, node, lines)
    return None


def source_of(name: str, obj) -> Piece:
    """The statement that defines obj (a class or function of the kernel's own)."""
    if isinstance(obj, type):
        found = _class_source(obj)
    else:
        found = _function_source(name, obj)
    if found is not None:
        return found
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    file = str(getattr(module, "__file__", None) or "")
    if (
        isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType))
        or file.endswith((".so", ".pyd"))
        or getattr(module, "__name__", "") == "builtins"
    ):
        raise Unrecoverable(
            f"cannot recover the source of `{name}`: it is defined in a C extension "
            f"({getattr(obj, '__module__', '?')}); labpath checks Python source",
            hint=f"define {name} in a cell (or a .py file) and run it",
        )
    raise Unrecoverable(
        f"cannot recover the source of `{name}`: no cell or file holds it (made "
        "through exec, or typed where no source is kept)",
        hint=f"define {name} in a notebook cell and run that cell, then check again",
    )


# --- the lab's module from the namespace -------------------------------------------


def contract(lab) -> dict[str, list[str]]:
    """{file: the classes and functions its starter (else solution) defines}."""
    from labpath.notebook import python_targets

    names = {}
    for file in python_targets(lab):
        path = lab.starter_dir / file
        if not path.is_file():
            path = lab.solution_dir / file
        found = []
        if path.is_file():
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found = [
                n.name
                for n in tree.body
                if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            ]
        names[file] = found
    return names


def _loaded_names(node: ast.AST) -> list[str]:
    """Free names a statement reads (names it binds itself are left out)."""
    loads, stores = [], set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (loads.append if isinstance(n.ctx, ast.Load) else stores.add)(n.id)
        elif isinstance(n, ast.arg):
            stores.add(n.arg)
    own = getattr(node, "name", None)
    return [x for x in dict.fromkeys(loads) if x not in stores and x != own]


def _literal(value) -> str | None:
    if (
        not isinstance(
            value, (int, float, complex, str, bytes, bool, tuple, list, dict, set)
        )
        and value is not None
    ):
        return None
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return text if same and len(text) < 10_000 else None


def _importable(obj) -> str | None:
    """'from m import name' when obj is reachable by name from an imported module."""
    module, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or module == "__main__" or "." in qual or "<" in qual:
        return None
    found = sys.modules.get(module)
    if found is not None and getattr(found, qual, None) is obj:
        return f"from {module} import {qual}"
    return None


@dataclass
class _Build:
    namespace: dict
    own: str  # the namespace's module name (__main__ in a kernel)
    imports: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seen: set = field(default_factory=set)

    def _patched(self, name: str, cls, piece: Piece) -> None:
        for attr, fn in _patches(cls, piece):
            found = _patch_source(fn)
            if found is None:
                raise Unrecoverable(
                    f"cannot recover the source of `{name}.{attr}`: no cell or file "
                    "holds it (made through exec, or typed where no source is kept)",
                    hint=f"define {name}.{attr} in a notebook cell and run that cell",
                )
            for dep in _loaded_names(found.tree):
                if dep != name:
                    self.add(dep)
            self.pieces.append(found)
            if isinstance(found.tree, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.pieces.append(
                    Piece(f"{name}.{attr} = {found.tree.name}", (), found.tree)
                )

    def add(self, name: str, checked: bool = False) -> None:
        """Write what name is bound to; checked: one of the lab's names (always source)."""
        if name in self.seen:
            return
        self.seen.add(name)
        if name not in self.namespace:
            return  # a builtin, or a name the code never defined: Python says so
        value = self.namespace[name]
        if name in _SHELL_NAMES or getattr(builtins, name, object()) is value:
            return
        if isinstance(value, types.ModuleType):
            real = value.__name__
            self.imports.append(
                f"import {real}" if real == name else f"import {real} as {name}"
            )
            return
        code = isinstance(value, (type, types.FunctionType))
        if callable(value) and not checked:
            if getattr(value, "__module__", None) != self.own:
                line = _importable(value)
                if line is not None:
                    alias = getattr(value, "__qualname__", name) != name
                    self.imports.append(line + (f" as {name}" if alias else ""))
                    return
        if code or (checked and callable(value)):
            piece = source_of(name, value)
            for dep in _loaded_names(piece.tree):
                self.add(dep)  # what it needs comes first in the module
            self.pieces.append(piece)
            if _defined_name(piece.tree) not in (None, name):
                self.aliases.append(f"{name} = {_defined_name(piece.tree)}")
            if isinstance(value, type):
                self._patched(name, value, piece)
            return
        text = _literal(value)
        if text is not None:
            self.constants.append(f"{name} = {text}")
            return
        self.notes.append(
            f"`{name}` ({type(value).__name__}) is a value of the kernel, not code: "
            "it is left out (the checks see a NameError if your code reads it)"
        )


def _patches(cls, piece: Piece) -> list[tuple[str, types.FunctionType]]:
    """Methods set on the class after its statement (`Value.tanh = tanh` in a later cell)."""
    inside = {(o.cell, o.line) for o in piece.origins}
    cells = set(_cell_files())
    found = []
    for attr, value in vars(cls).items():
        code = getattr(value, "__code__", None)
        # only functions typed in a cell: not a library's wrapper (a dataclass's repr)
        if (
            code is None
            or code.co_filename not in cells
            or hasattr(value, "__wrapped__")
        ):
            continue
        if (_cell_label(code.co_filename), code.co_firstlineno) not in inside:
            found.append((attr, value))
    return found


def _patch_source(fn) -> Piece | None:
    """The top-level statement a patched method came from: its def, or `X.a = ...`."""
    code = fn.__code__
    for node, lines in _statements(code.co_filename):
        if code.co_firstlineno in _span(node) and isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Assign)
        ):
            return _piece(code.co_filename, node, lines)
    return None


def _defined_name(node: ast.stmt) -> str | None:
    return getattr(node, "name", None)


def build(lab, namespace: dict) -> tuple[dict[str, Module], list[str]]:
    """The lab's files rebuilt from the objects in namespace, and notes on what was left."""
    wanted = contract(lab)
    everything = [n for names in wanted.values() for n in names]
    present = [n for n in everything if n in namespace]
    if not present:
        shown = ", ".join(everything) or "its classes and functions"
        raise UsageError(
            f"none of {shown} (what lab '{lab.id}' checks) is defined here",
            hint="run the cells that define them, then check again "
            "(from a function, pass the namespace: labpath.check(LAB, globals()))",
        )
    own = namespace.get("__name__", "__main__")
    modules, notes = {}, []
    for file, names in wanted.items():
        b = _Build(namespace, own)
        for name in names:
            if name in namespace:
                b.add(name, checked=True)
        module = Module()
        for line in dict.fromkeys(b.imports):
            module.add(line)
        for line in b.constants:
            module.add(line)
        for piece in b.pieces:
            module.add("")
            origins = list(piece.origins)
            for i, text in enumerate(piece.text.splitlines()):
                module.add(text, origins[i] if i < len(origins) else None)
        for line in b.aliases:
            module.add(line)
        modules[file] = module
        notes += [n for n in b.notes if n not in notes]
    return modules, notes


# --- running and showing -----------------------------------------------------------


def check(lab_id: str, namespace: dict, timeout=None, seed=None):
    """Check the lab's objects in namespace out of process; a report that shows itself."""
    try:
        from labpath import labs
        from labpath.app.check import check_folder

        lab = labs.load(lab_id)
        modules, notes = build(lab, namespace)
        with tempfile.TemporaryDirectory(prefix="labpath-kernel-") as tmp:
            folder = Path(tmp).resolve()
            for name, module in modules.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(module.source(), encoding="utf-8")
            outcome = check_folder(lab.id, str(folder), timeout=timeout, seed=seed)
            relocator = Relocator(folder, modules, "")
            report = relocator.report(outcome.report, Path("<kernel>"))
        return Report(replace(outcome, report=report), tuple(notes))
    except LabpathError as exc:
        return Problem(exc.message, exc.hint)


MARKS = {"passed": "✓", "failed": "✗", "not_started": "…", "skipped": "-", "error": "!"}
COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "not_started": "#9a6700"}
SUMMARY = {
    "passed": "PASSED",
    "failed": "FAILED",
    "not_started": "NOT STARTED",
    "timeout": "TIMED OUT",
    "crashed": "CRASHED",
    "harness_error": "LABPATH ERROR",
}


def _rows(res) -> list[tuple[str, str]]:
    rows = []
    if res.what:
        rows.append(("compared", res.what))
    if res.yours is not None or res.expected is not None:
        rows.append(("yours", f"{res.yours}    expected {res.expected}"))
    for key, value in (
        ("where", res.where),
        ("error", res.message),
        ("in", res.learner_location),
        ("diagnosis", res.diagnosis),
        ("hint", res.hint),
    ):
        if value:
            rows.append((key, value))
    return rows


@dataclass(frozen=True)
class Report:
    """A check run from a kernel: HTML in a notebook, text in a terminal."""

    outcome: object  # app.check.CheckOutcome
    notes: tuple[str, ...] = ()

    @property
    def report(self):
        return self.outcome.report

    @property
    def ok(self) -> bool:
        return self.report.ok

    def _counts(self) -> str:
        r = self.report
        parts = [f"{r.passed}/{r.total} passed"]
        for outcome, word in (
            ("failed", "failed"),
            ("not_started", "not started"),
            ("skipped", "skipped"),
        ):
            if r.count(outcome):
                parts.append(f"{r.count(outcome)} {word}")
        return ", ".join(parts)

    def __str__(self) -> str:
        r = self.report
        out = [f"{r.lab} · seed {r.seed} · {r.duration:.1f}s"]
        out += [f"note: {n}" for n in self.notes]
        for res in r.results:
            out.append(f" {MARKS.get(res.outcome, '?')} {res.name}")
            if res.outcome in ("failed", "error"):
                out += [f"     {k:<9} {v}" for k, v in _rows(res)]
            elif res.outcome == "not_started":
                out.append(f"     not started: {res.message or ''}")
        out.append(f"\n{SUMMARY.get(r.status, r.status)} {self._counts()}")
        if r.message:
            out.append(r.message)
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        r, e = self.report, html.escape
        colour = COLOURS.get(r.status, "#cf222e")
        parts = [
            f"<div><b>{e(r.lab)}</b> <span style='color:#666'>· seed {r.seed} · "
            f"{r.duration:.1f}s</span>"
        ]
        parts += [f"<div style='color:#9a6700'>note: {e(n)}</div>" for n in self.notes]
        parts.append("<ul style='list-style:none;padding-left:0.5em'>")
        for res in r.results:
            c = COLOURS.get(res.outcome, "#666")
            parts.append(
                f"<li><span style='color:{c}'>{e(MARKS.get(res.outcome, '?'))}</span> "
                f"<code>{e(res.name)}</code>"
            )
            rows = _rows(res) if res.outcome in ("failed", "error") else []
            if res.outcome == "not_started":
                rows = [("not started", res.message or "")]
            if rows:
                parts.append("<table style='margin-left:1.5em'>")
                parts += [
                    f"<tr><td style='color:#666'>{e(k)}</td><td>{e(str(v))}</td></tr>"
                    for k, v in rows
                ]
                parts.append("</table>")
            parts.append("</li>")
        parts.append("</ul>")
        parts.append(
            f"<b style='color:{colour}'>{SUMMARY.get(r.status, r.status)}</b> "
            f"{e(self._counts())}"
        )
        if r.message:
            parts.append(f"<div>{e(r.message)}</div>")
        parts.append("</div>")
        return "".join(parts)


@dataclass(frozen=True)
class Problem:
    """Why the check could not run: one line (and a hint), never a traceback."""

    message: str
    hint: str | None = None
    ok = False

    def __str__(self) -> str:
        return f"Error: {self.message}" + (f"\nHint: {self.hint}" if self.hint else "")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        hint = f"<br><i>Hint: {html.escape(self.hint)}</i>" if self.hint else ""
        return (
            f"<div style='color:#cf222e'>Error: {html.escape(self.message)}{hint}</div>"
        )


USAGE = "usage: %labpath check LAB [--seed N] [--timeout SECONDS]"


def magic(shell, line: str):
    """`%labpath check LAB [--seed N] [--timeout S]` on the kernel's own namespace."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        return Problem(f"{exc}", USAGE)
    if len(words) < 2 or words[0] != "check":
        return Problem(f"cannot read `%labpath {line}`", USAGE)
    options: dict = {}
    rest = words[2:]
    while rest:
        key = rest.pop(0)
        if key not in ("--seed", "--timeout") or not rest:
            return Problem(f"unknown option `{key}`", USAGE)
        value = rest.pop(0)
        try:
            options[key[2:]] = int(value) if key == "--seed" else float(value)
        except ValueError:
            return Problem(f"{key} {value}: expected a number", USAGE)
    return check(words[1], shell.user_ns, **options)


def load(shell) -> None:
    """Register `%labpath` in the shell (what `%load_ext labpath` runs)."""
    shell.register_magic_function(
        lambda line: magic(shell, line), magic_kind="line", magic_name="labpath"
    )
