"""Read and validate a lab's data files (lab.yaml, bugs.yaml, mutants.yaml) with file:line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from labpath import labs
from labpath import yamlcheck as yc
from labpath.errors import UsageError, did_you_mean
from labpath.structs import struct

LAB_VERSION = 1
BUGS_VERSION = 1
MUTANTS_VERSION = 1
BUG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
BUG_KEYS = ("id", "summary", "file", "replace", "fails", "diagnosis", "card")


@struct
class Bug:
    id: str
    summary: str
    file: str
    replace: tuple[tuple[str, str], ...]
    fails: str
    diagnosis: str | None = None  # text the report's diagnosis must contain
    source: str = ""  # "file:line" of the bug in bugs.yaml
    # the review card a diagnosed failure becomes: {q: the situation, answer: why}
    card: object = None  # curriculum.Question


def _root(file: Path, what: str):
    yc.regular(file, what, hint=f"make {file.name} a plain YAML file")
    root = yc.compose(file, what, f"see another lab's {file.name} for the format")
    if root is None:
        raise UsageError(f"{file}: the file is empty", hint="add format_version: 1")
    return root


def read_lab(path: Path) -> labs.Lab:
    """One lab.yaml, validated: keys, types, `id` equal to its folder's name."""
    ctx = yc.Ctx(path)
    root = _root(path, "a lab.yaml")
    top = yc.mapping(
        ctx,
        root,
        "(top level)",
        labs.LAB_KEYS,
        ("format_version", "id", "title", "files"),
    )
    yc.version(ctx, top["format_version"], LAB_VERSION)
    lab_id = yc.slug(ctx, top["id"], "id")
    if lab_id != path.parent.name:
        raise ctx.error(
            top["id"],
            "id",
            f"'{lab_id}' differs from the lab's folder name '{path.parent.name}'",
            hint=f"write id: {path.parent.name}, or rename the folder",
        )
    files = yc.seq(ctx, top["files"], "files")
    if not files:
        raise ctx.error(top["files"], "files", "must list the learner's files")
    time_limit = 60.0
    if "time_limit" in top:
        time_limit = yc.number(ctx, top["time_limit"], "time_limit")
        if time_limit <= 0:
            raise ctx.error(top["time_limit"], "time_limit", "must be positive seconds")
    forbidden = []
    for i, node in enumerate(yc.seq(ctx, top.get("forbidden"), "forbidden")):
        key = f"forbidden[{i}]"
        f = yc.mapping(ctx, node, key, ("name", "why"), ("name", "why"))
        forbidden.append(
            labs.Forbidden(
                yc.string(ctx, f["name"], f"{key}.name"),
                yc.string(ctx, f["why"], f"{key}.why"),
            )
        )
    if "data" in top:
        yc.string(ctx, top["data"], "data")
    uses = []
    for i, node in enumerate(yc.seq(ctx, top.get("uses"), "uses")):
        used = yc.slug(ctx, node, f"uses[{i}]")
        if not labs.exists(used):
            raise ctx.error(
                node,
                f"uses[{i}]",
                f"no lab '{used}'",
                hint=did_you_mean(used, labs.available()) or "name a shipped lab",
            )
        uses.append(used)
    planted = None
    if "planted" in top:
        spec = yc.mapping(ctx, top["planted"], "planted", ("faults",), ("faults",))
        planted = yc.integer(ctx, spec["faults"], "planted.faults")
        if planted < 1:
            raise ctx.error(spec["faults"], "planted.faults", "must be at least 1")
    return labs.Lab(
        id=lab_id,
        title=yc.string(ctx, top["title"], "title"),
        directory=path.parent,
        files=tuple(_relative(ctx, n, f"files[{i}]") for i, n in enumerate(files)),
        time_limit=time_limit,
        hints=yc.strings(ctx, top.get("hints"), "hints"),
        forbidden=tuple(forbidden),
        seed=yc.integer(ctx, top["seed"], "seed") if "seed" in top else 1337,
        uses=tuple(uses),
        planted=planted,
    )


def _relative(ctx: yc.Ctx, node, key: str) -> str:
    value = yc.string(ctx, node, key)
    if value.startswith(("/", "\\")) or ".." in Path(value).parts:
        raise ctx.error(node, key, f"'{value}' must be a path inside the lab folder")
    return value


def check_names(lab: labs.Lab) -> set[str]:
    """Names of the test functions in the lab's checks (what `fails:` may name)."""
    names: set[str] = set()
    for file in sorted(lab.checks_dir.glob("test_*.py")):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
        except SyntaxError as exc:
            raise UsageError(
                f"{file}:{exc.lineno}: the check file does not parse: {exc.msg}"
            ) from None
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                # methods count as checks too
                names.update(f.name for f in node.body if isinstance(f, _FUNCTIONS))
            elif isinstance(node, _FUNCTIONS):
                names.add(node.name)
    return {n for n in names if n.startswith("test")}


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def read_bugs(lab: labs.Lab) -> list[Bug]:
    """The lab's bug catalogue, validated; `fails:` must name one of its checks."""
    path = lab.bugs_file
    if not path.is_file():
        return []
    ctx = yc.Ctx(path)
    root = _root(path, "a bugs.yaml")
    top = yc.mapping(
        ctx, root, "(top level)", ("format_version", "bugs"), ("format_version", "bugs")
    )
    yc.version(ctx, top["format_version"], BUGS_VERSION)
    checks = check_names(lab)
    bugs: list[Bug] = []
    for i, node in enumerate(yc.seq(ctx, top["bugs"], "bugs")):
        bugs.append(_bug(ctx, node, f"bugs[{i}]", lab, checks))
        if any(b.id == bugs[-1].id for b in bugs[:-1]):
            raise ctx.error(node, f"bugs[{i}].id", f"bug id '{bugs[-1].id}' is taken")
    return bugs


def _bug(ctx: yc.Ctx, node, key: str, lab: labs.Lab, checks: set[str]) -> Bug:
    b = yc.mapping(ctx, node, key, BUG_KEYS, BUG_KEYS[:5])
    file = _relative(ctx, b["file"], f"{key}.file")
    if not (lab.solution_dir / file).is_file():
        raise ctx.error(
            b["file"],
            f"{key}.file",
            f"no file solution/{file} in lab '{lab.id}'",
            hint=did_you_mean(file, lab.files) or f"the lab's files: {lab.files}",
        )
    fails = yc.string(ctx, b["fails"], f"{key}.fails")
    if fails not in checks:
        raise ctx.error(
            b["fails"],
            f"{key}.fails",
            f"no check '{fails}' in {lab.checks_dir}",
            hint=did_you_mean(fails, sorted(checks))
            or "name a test function of the lab's checks/test_*.py",
        )
    edits = yc.seq(ctx, b["replace"], f"{key}.replace")
    if not edits:
        raise ctx.error(b["replace"], f"{key}.replace", "must list one edit or more")
    replace = []
    for j, enode in enumerate(edits):
        ek = f"{key}.replace[{j}]"
        e = yc.mapping(ctx, enode, ek, ("old", "new"), ("old", "new"))
        replace.append(
            (
                yc.text(ctx, e["old"], f"{ek}.old"),
                yc.text(ctx, e["new"], f"{ek}.new", empty=True),
            )
        )
    diagnosis = None
    if "diagnosis" in b:
        diagnosis = yc.string(ctx, b["diagnosis"], f"{key}.diagnosis")
    card = None
    if "card" in b:
        card = _card(ctx, b["card"], f"{key}.card", diagnosis)
    return Bug(
        id=_bug_id(ctx, b["id"], f"{key}.id"),
        summary=yc.string(ctx, b["summary"], f"{key}.summary"),
        file=file,
        replace=tuple(replace),
        fails=fails,
        diagnosis=diagnosis,
        source=f"{ctx.file}:{node.start_mark.line + 1}",
        card=card,
    )


def _card(ctx: yc.Ctx, node, key: str, diagnosis: str | None):
    """A bug's review card: {q, answer}, shown only for a mistake a check can name."""
    from labpath import curriculum

    if diagnosis is None:
        raise ctx.error(
            node,
            key,
            "only a bug with a `diagnosis:` becomes a review card",
            hint="add the diagnosis its check prints, or remove card:",
        )
    m = yc.mapping(ctx, node, key, ("q", "answer"), ("q", "answer"))
    return curriculum.Question(
        yc.string(ctx, m["q"], f"{key}.q"), yc.string(ctx, m["answer"], f"{key}.answer")
    )


def _bug_id(ctx: yc.Ctx, node, key: str) -> str:
    value = yc.string(ctx, node, key)
    if not BUG_ID.match(value):
        raise ctx.error(node, key, f"'{value}' is not an id (letters, digits, '-')")
    return value


def check_mutants(lab: labs.Lab) -> int:
    """Validate mutants.yaml (the known equivalent mutants); the number of entries."""
    path = lab.directory / "mutants.yaml"
    if not path.is_file():
        return 0
    ctx = yc.Ctx(path)
    root = _root(path, "a mutants.yaml")
    top = yc.mapping(
        ctx,
        root,
        "(top level)",
        ("format_version", "equivalent", "outside"),
        ("format_version",),
    )
    yc.version(ctx, top["format_version"], MUTANTS_VERSION)
    count = 0
    for section, name in (("equivalent", "mutant"), ("outside", "scope")):
        for i, node in enumerate(yc.seq(ctx, top.get(section), section)):
            key = f"{section}[{i}]"
            m = yc.mapping(ctx, node, key, (name, "why"), (name, "why"))
            yc.string(ctx, m[name], f"{key}.{name}")
            yc.string(ctx, m["why"], f"{key}.why")
            count += 1
    return count
