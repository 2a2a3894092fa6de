"""Seeded single-point mutants of a lab's solution, and the lab's known equivalent ones."""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

from labpath import labs
from labpath.bugedit import line_starts
from labpath.errors import UsageError

MUTANTS_FILE = "mutants.yaml"

_BINOPS = {
    ast.Add: ("+", ["-"]),
    ast.Sub: ("-", ["+"]),
    ast.Mult: ("*", ["/"]),
    ast.Div: ("/", ["*"]),
    ast.FloorDiv: ("//", ["/"]),
    ast.Mod: ("%", ["//"]),
    ast.Pow: ("**", ["*"]),
    ast.MatMult: ("@", ["*"]),
}
_CMPOPS = {
    ast.Lt: ("<", ["<=", ">"]),
    ast.LtE: ("<=", ["<"]),
    ast.Gt: (">", [">=", "<"]),
    ast.GtE: (">=", [">"]),
    ast.Eq: ("==", ["!="]),
    ast.NotEq: ("!=", ["=="]),
}
_AUGOPS = {
    ast.Add: ("+=", ["=", "-="]),
    ast.Sub: ("-=", ["=", "+="]),
    ast.Mult: ("*=", ["=", "/="]),
    ast.Div: ("/=", ["=", "*="]),
}
_AXIS_KEYWORDS = ("dim", "axis")
_DROPPED_CALLS = ("transpose", "t", "permute", "sqrt", "contiguous", "detach")
_DROPPED_ATTRS = ("T", "mT")
_TEXT_ONLY = ("__repr__", "__str__", "extra_repr")


@dataclass(frozen=True)
class Mutant:
    file: str  # relative to the solution folder
    scope: str  # enclosing function or class, "<module>" at top level
    op: str  # the mutation operator, e.g. "binop", "drop-stmt"
    old: str  # the source text replaced
    new: str  # its replacement
    occurrence: int  # which identical (file, scope, op, old, new) this is, from 1
    line: int
    start: int  # character offsets into the file's text
    end: int

    @property
    def key(self) -> str:
        """An identifier that survives edits elsewhere in the file (no line number)."""
        tail = f"#{self.occurrence}" if self.occurrence > 1 else ""
        return f"{self.file}::{self.scope}::{self.op}::{self.old} => {self.new}{tail}"

    def apply(self, text: str) -> str:
        return text[: self.start] + self.new + text[self.end :]


@dataclass(frozen=True)
class Equivalent:
    key: str  # a mutant's key, or "file::scope" for a whole function outside the contract
    why: str
    scope: bool = False

    def covers(self, mutant: Mutant) -> bool:
        if not self.scope:
            return mutant.key == self.key
        where = f"{mutant.file}::{mutant.scope}"
        return where == self.key or where.startswith(self.key + ".")


# --- generating mutants ------------------------------------------------------------


class _Collector(ast.NodeVisitor):
    def __init__(self, file: str, text: str):
        self.file, self.text = file, text
        self.lines = line_starts(text)
        self.scope: list[str] = []
        self.found: list[tuple[str, str, int, int, str, int]] = []

    def pos(self, line: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets; the lab files are ASCII in code positions.
        start = self.lines[line - 1]
        raw = self.text[start:].encode("utf-8")[:col].decode("utf-8", "ignore")
        return start + len(raw)

    def span(self, node) -> tuple[int, int]:
        return (
            self.pos(node.lineno, node.col_offset),
            self.pos(node.end_lineno, node.end_col_offset),
        )

    def add(self, op: str, start: int, end: int, new: str, line: int) -> None:
        old = self.text[start:end]
        if old != new:
            where = ".".join(self.scope) or "<module>"
            self.found.append((where, op, start, end, new, line))

    def token_between(self, op, left, right, token, news, line) -> None:
        """Replace the operator token that sits between two nodes."""
        a, b = self.span(left)[1], self.span(right)[0]
        gap = self.text[a:b]
        at = gap.find(token)
        if at < 0 or gap.count(token) != 1 or "#" in gap:
            return
        for new in news:
            self.add(op, a + at, a + at + len(token), new, line)

    def visit_scoped(self, node):
        if node.name in _TEXT_ONLY:
            return  # how an object prints: no computation depends on it
        self.scope.append(node.name)
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            body = body[1:]  # the docstring
        if not isinstance(node, ast.ClassDef):
            for d in node.args.defaults + [
                d for d in node.args.kw_defaults if d is not None
            ]:
                self.visit(d)
        for stmt in body:
            self.visit(stmt)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_scoped

    def visit_If(self, node):
        test = node.test
        if (
            isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and test.left.id == "__name__"
        ):
            return  # the script's demo block is not part of the lab's contract
        self.generic_visit(node)

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a bare string: documentation
        if _is_print(node.value):
            return  # output for a person reading along, not a result
        self.drop(node)
        self.generic_visit(node)

    def drop(self, node) -> None:
        if not self.scope:
            return  # module level: imports and constants, not behaviour
        start, end = self.span(node)
        self.add("drop-stmt", start, end, "pass", node.lineno)

    def visit_Assign(self, node):
        bound = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        targets = [t for t in node.targets]
        if any(isinstance(t, (ast.Attribute, ast.Subscript)) for t in targets) or any(
            isinstance(t, ast.Name) and t.id in bound for t in targets
        ):
            self.drop(node)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        spec = _AUGOPS.get(type(node.op))
        if spec:
            token, news = spec
            self.token_between(
                "augassign", node.target, node.value, token, news, node.lineno
            )
        self.drop(node)
        self.generic_visit(node)

    def visit_BinOp(self, node):
        spec = _BINOPS.get(type(node.op))
        if spec:
            token, news = spec
            self.token_between("binop", node.left, node.right, token, news, node.lineno)
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant):
            start, end = self.span(node)
            inner = self.span(node.operand)
            self.add(
                "drop-neg", start, end, self.text[inner[0] : inner[1]], node.lineno
            )
        self.generic_visit(node)

    def visit_Compare(self, node):
        if len(node.ops) == 1:
            spec = _CMPOPS.get(type(node.ops[0]))
            if spec:
                token, news = spec
                self.token_between(
                    "compare", node.left, node.comparators[0], token, news, node.lineno
                )
        self.generic_visit(node)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return
        start, end = self.span(node)
        news = []
        for n in (v + 1, v - 1, v * 2):
            if n != v:
                news.append(repr(n) if isinstance(v, float) else str(n))
        for new in dict.fromkeys(news):
            self.add("constant", start, end, new, node.lineno)

    def visit_Call(self, node):
        if _is_print(node):
            return
        for kw in node.keywords:
            if kw.arg in _AXIS_KEYWORDS and isinstance(
                kw.value, (ast.Constant, ast.UnaryOp)
            ):
                self.axis(kw.value)
            elif kw.arg in _AXIS_KEYWORDS:
                self.visit(kw.value)
            elif isinstance(kw.value, ast.Constant) and isinstance(
                kw.value.value, bool
            ):
                start, end = self.span(kw.value)
                self.add(
                    "flip-bool", start, end, str(not kw.value.value), kw.value.lineno
                )
            else:
                self.visit(kw.value)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _DROPPED_CALLS:
            start, end = self.span(node)
            if func.attr == "sqrt" and not node.args:
                keep = self.span(func.value)  # x.sqrt() -> x
            elif func.attr == "sqrt" and len(node.args) == 1:
                keep = self.span(node.args[0])  # torch.sqrt(x) -> x
            elif func.attr != "sqrt":
                keep = self.span(func.value)  # x.transpose(1, 2) -> x
            else:
                keep = None
            if keep:
                self.add(
                    f"drop-{func.attr}",
                    start,
                    end,
                    self.text[keep[0] : keep[1]],
                    node.lineno,
                )
        args = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(args) == len(node.args):
            for i in range(len(args) - 1):
                a, b = self.span(args[i]), self.span(args[i + 1])
                ta, tb = self.text[a[0] : a[1]], self.text[b[0] : b[1]]
                if ta != tb:
                    gap = self.text[a[1] : b[0]]
                    self.add("swap-args", a[0], b[1], tb + gap + ta, node.lineno)
        self.visit(func)
        for a in node.args:
            self.visit(a)

    def axis(self, value) -> None:
        try:
            v = ast.literal_eval(value)
        except ValueError:
            return
        if not isinstance(v, int) or isinstance(v, bool):
            return
        start, end = self.span(value)
        for new in dict.fromkeys((v + 1, v - 1)):
            self.add("axis", start, end, str(new), value.lineno)

    def visit_Attribute(self, node):
        if node.attr in _DROPPED_ATTRS:
            start, end = self.span(node)
            keep = self.span(node.value)
            self.add(
                f"drop-.{node.attr}",
                start,
                end,
                self.text[keep[0] : keep[1]],
                node.lineno,
            )
        self.generic_visit(node)


def _is_print(node) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    )


def generate(lab: labs.Lab) -> list[Mutant]:
    """Every single-point mutant of the lab's solution files, in file order."""
    mutants: list[Mutant] = []
    for name in lab.files:
        path = lab.solution_dir / name
        if path.suffix != ".py" or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        collector = _Collector(name, text)
        collector.visit(ast.parse(text))
        seen: dict[tuple, int] = {}
        for scope, op, start, end, new, line in sorted(
            collector.found, key=lambda f: (f[2], f[3], f[1], f[4])
        ):
            old = text[start:end]
            ident = (scope, op, old, new)
            seen[ident] = seen.get(ident, 0) + 1
            mutants.append(
                Mutant(name, scope, op, old, new, seen[ident], line, start, end)
            )
    return mutants


def choose(mutants: list[Mutant], sample: int | None, seed: int) -> list[Mutant]:
    """A seeded sample, kept in file order so reports read top to bottom."""
    if not sample or sample >= len(mutants):
        return list(mutants)
    picked = set(random.Random(seed).sample(range(len(mutants)), sample))
    return [m for i, m in enumerate(mutants) if i in picked]


def load_equivalents(lab: labs.Lab) -> list[Equivalent]:
    """The lab's known equivalent mutants (mutants.yaml), each with its reason."""
    import yaml

    path = lab.directory / MUTANTS_FILE
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if data.get("format_version", 1) > 1:
        raise UsageError(
            f"{path}: format_version {data['format_version']} is newer than this labpath",
            hint="upgrade labpath",
        )
    found = []
    for i, raw in enumerate(data.get("equivalent") or ()):
        if not isinstance(raw, dict) or not raw.get("mutant") or not raw.get("why"):
            raise UsageError(
                f"{path}: equivalent[{i}] needs 'mutant' (its key) and 'why' (one line)",
                hint=f"labpath dev mutate {lab.id} --json lists each mutant's key",
            )
        found.append(Equivalent(str(raw["mutant"]), str(raw["why"]).strip()))
    for i, raw in enumerate(data.get("outside") or ()):
        if not isinstance(raw, dict) or not raw.get("scope") or not raw.get("why"):
            raise UsageError(
                f"{path}: outside[{i}] needs 'scope' (file::function) and 'why' (one line)",
                hint=f"labpath dev mutate {lab.id} --json lists each mutant's key",
            )
        found.append(Equivalent(str(raw["scope"]), str(raw["why"]).strip(), scope=True))
    return found
