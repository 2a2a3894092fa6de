"""Lab authoring without torch: `dev check --static` and the `dev new` skeleton."""

from __future__ import annotations

import ast
from pathlib import Path

from labpath import labs, labspec
from labpath.devcheck import MIN_BUGS, Finding, LabVerdict, bugged
from labpath.errors import UsageError
from labpath.labs.brief import steps


def lab_at(name: str) -> labs.Lab:
    """A shipped lab by id, or any folder holding a lab.yaml (a lab being written)."""
    folder = Path(name)
    if (folder / "lab.yaml").is_file() and ("/" in name or not labs.exists(name)):
        return labspec.read_lab(folder.resolve() / "lab.yaml")
    return labs.load(name)


def check_static(names: list[str] | None) -> tuple[list[LabVerdict], list[Finding]]:
    """`dev check --static`: the named labs (default: all, and the curriculum's links)."""
    from labpath import curriculum, devcheck

    found = [lab_at(n) for n in names or labs.available()]
    extra = [] if names else devcheck.check_curriculum(curriculum.load())
    return [static_check(lab) for lab in found], extra


def new_lab(lab_id: str, parent: str | None = None) -> Path:
    """Write the skeleton lab `lab_id` into parent (default: labpath's labs)."""
    from labpath import skeleton
    from labpath.yamlcheck import SLUG

    if not SLUG.match(lab_id):
        raise UsageError(
            f"'{lab_id}' is not a lab id (lowercase letters, digits, '-')",
            hint="name it like `labpath dev new layernorm`",
        )
    root = Path(parent) if parent else labs.LABS_ROOT
    folder = root / lab_id
    if folder.exists() or (parent is None and labs.exists(lab_id)):
        raise UsageError(
            f"{folder} already exists; a new lab never overwrites one",
            hint="pick another id, or pass --dir DIR to write it elsewhere",
        )
    for rel, text in skeleton.files(lab_id).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def static_check(lab: labs.Lab) -> LabVerdict:
    """Every check of a lab that needs no torch and no check run."""
    found = [
        _brief(lab),
        Finding(
            lab.id,
            "hints",
            len(lab.hints) >= 3,
            f"{len(lab.hints)} hint tiers (need 3)",
        ),
    ]
    bugs = labspec.read_bugs(lab)
    generated = {b.file for b in bugs} if lab.planted else set()
    for file in lab.files:
        if file in generated:
            found.append(
                Finding(
                    lab.id,
                    f"interface:{file}",
                    (lab.solution_dir / file).is_file(),
                    f"generated from solution/{file} with planted faults",
                )
            )
        elif file.endswith(".py"):
            found.append(_interface(lab, file))
        else:
            found.append(
                Finding(
                    lab.id,
                    f"starter:{file}",
                    (lab.starter_dir / file).is_file(),
                    f"starter/{file} for the learner to fill",
                )
            )
    if lab.planted:
        found.append(_planted(lab, bugs))
    checks = labspec.check_names(lab)
    found.append(
        Finding(lab.id, "checks", bool(checks), f"{len(checks)} check functions")
    )
    found.append(
        Finding(
            lab.id,
            "bug catalogue",
            len(bugs) >= MIN_BUGS,
            f"{len(bugs)} bugs (need {MIN_BUGS})",
        )
    )
    found += [_bug(lab, bug) for bug in bugs]
    equivalents = labspec.check_mutants(lab)
    if equivalents:
        found.append(
            Finding(lab.id, "mutants.yaml", True, f"{equivalents} known equivalents")
        )
    return LabVerdict(lab.id, tuple(found))


def _planted(lab: labs.Lab, bugs) -> Finding:
    """A lab that hides faults: each has a detector of its own, and enough of them can
    be planted together."""
    from labpath import planted

    detectors: dict[str, list[str]] = {}
    for bug in bugs:
        detectors.setdefault(bug.fails, []).append(bug.id)
    shared = {d: ids for d, ids in detectors.items() if len(ids) > 1}
    if shared:
        d, ids = next(iter(shared.items()))
        return Finding(
            lab.id,
            "planted",
            False,
            f"faults {', '.join(ids)} share the detector {d}: each needs its own, "
            "or the count of faults that remain is not exact",
        )
    chosen, _ = planted.draw(lab, planted.Plant(lab.seed, lab.planted))
    return Finding(
        lab.id,
        "planted",
        len(chosen) == lab.planted,
        f"{len(bugs)} faults, one detector each; the lab's seed plants "
        f"{len(chosen)} of {lab.planted}",
    )


def _brief(lab: labs.Lab) -> Finding:
    if not lab.brief.is_file():
        return Finding(lab.id, "brief", False, f"no {lab.brief.name}: write the brief")
    listed = steps(lab)
    ok = lab.brief.stat().st_size > 200 and bool(listed)
    detail = f"README.md with {len(listed)} steps under '## Steps'"
    return Finding(lab.id, "brief", ok, detail)


def _bug(lab: labs.Lab, bug: labspec.Bug) -> Finding:
    from labpath import bugedit

    item = f"bug:{bug.id}"
    if any(bugedit.has_comment(old) for old, _ in bug.replace):
        return Finding(
            lab.id,
            item,
            False,
            f"{bug.source}: an `old:` holds a comment; name code only, so that "
            "rewording a comment cannot break the bug",
        )
    try:
        changed = bugged(lab, bug)
    except UsageError as exc:
        return Finding(lab.id, item, False, exc.message)
    try:
        ast.parse(changed)
    except SyntaxError as exc:
        return Finding(
            lab.id,
            item,
            False,
            f"{bug.source}: the edited solution/{bug.file} does not parse "
            f"(line {exc.lineno}: {exc.msg})",
        )
    original = (lab.solution_dir / bug.file).read_text(encoding="utf-8")
    if bugedit.code(changed) == bugedit.code(original):
        return Finding(lab.id, item, False, f"{bug.source}: the edit changes no code")
    return Finding(lab.id, item, True, f"applies once; {bug.fails}")


def _interface(lab: labs.Lab, file: str) -> Finding:
    """The solution defines what the starter promises, callable the same way."""
    item = f"interface:{file}"
    trees = []
    for side in (lab.starter_dir, lab.solution_dir):
        path = side / file
        if not path.is_file():
            return Finding(lab.id, item, False, f"no {side.name}/{file}")
        try:
            trees.append(ast.parse(path.read_text(encoding="utf-8")))
        except SyntaxError as exc:
            return Finding(
                lab.id, item, False, f"{side.name}/{file}:{exc.lineno} does not parse"
            )
    starter, solution = (interface(t) for t in trees)
    promises = list(_promises(starter))
    for name, promised in promises:
        given = _find(solution, name)
        if given is None or not _accepts(given, promised):
            shown = "missing" if given is None else _show(given)
            return Finding(
                lab.id,
                item,
                False,
                f"{name}: the starter has {_show(promised)}, the solution {shown}",
            )
    return Finding(lab.id, item, True, f"the solution defines all {len(promises)}")


def interface(tree: ast.Module) -> dict:
    """Public top-level functions and classes; a class maps to (bases, methods)."""
    shape: dict = {}
    for node in tree.body:
        if isinstance(node, _FUNCTIONS) and not node.name.startswith("_"):
            shape[node.name] = node.args
        elif isinstance(node, ast.ClassDef):
            methods = {
                f.name: f.args
                for f in node.body
                if isinstance(f, _FUNCTIONS)
                and not (f.name.startswith("_") and not f.name.endswith("__"))
            }
            bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
            shape[node.name] = (bases, methods)
    return shape


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _promises(shape: dict):
    """(name, signature) of every function, class and method, `Class.method` style."""
    for name, entry in shape.items():
        yield name, entry
        if isinstance(entry, tuple):
            for method, args in entry[1].items():
                yield f"{name}.{method}", args


def _find(shape: dict, name: str):
    cls, _, method = name.partition(".")
    return _method(shape, cls, method) if method else shape.get(cls)


def _method(shape: dict, cls: str, name: str, seen=()):
    """A method of a class or of one of its bases defined in the same file."""
    entry = shape.get(cls)
    if not isinstance(entry, tuple) or cls in seen:
        return None
    bases, methods = entry
    if name in methods:
        return methods[name]
    for base in bases:
        found = _method(shape, base, name, (*seen, cls))
        if found is not None:
            return found
    return None


def _accepts(given, promised) -> bool:
    if isinstance(promised, tuple) or isinstance(given, tuple):
        return isinstance(promised, tuple) and isinstance(given, tuple)
    return _callable_as(given, promised)


def _callable_as(given: ast.arguments, promised: ast.arguments) -> bool:
    """Every call the starter's signature allows, the solution's allows too."""
    p_pos, g_pos = _positional(promised), _positional(given)
    if [n for n, _ in g_pos[: len(p_pos)]] != [n for n, _ in p_pos]:
        return False
    if any(p and not g for (_, p), (_, g) in zip(p_pos, g_pos)):
        return False
    if any(not has_default for _, has_default in g_pos[len(p_pos) :]):
        return False
    g_kw = dict(_keyword(given))
    for name, has_default in _keyword(promised):
        if name not in g_kw or (has_default and not g_kw[name]):
            return False
    promised_kw = {n for n, _ in _keyword(promised)}
    if any(not d for n, d in g_kw.items() if n not in promised_kw):
        return False
    return (not promised.vararg or given.vararg) and (not promised.kwarg or given.kwarg)


def _positional(a: ast.arguments) -> list[tuple[str, bool]]:
    names = [x.arg for x in a.posonlyargs + a.args]
    first_default = len(names) - len(a.defaults)
    return [(n, i >= first_default) for i, n in enumerate(names)]


def _keyword(a: ast.arguments) -> list[tuple[str, bool]]:
    return [(x.arg, d is not None) for x, d in zip(a.kwonlyargs, a.kw_defaults)]


def _show(entry) -> str:
    if isinstance(entry, tuple):
        return "a class"
    if not isinstance(entry, ast.arguments):
        return "something else"
    return f"({ast.unparse(entry)})"
