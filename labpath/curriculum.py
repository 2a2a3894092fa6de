"""Load and validate curriculum YAML files into frozen dataclasses."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import UsageError, did_you_mean

FORMAT_VERSION = 1
KINDS = ("lab", "project", "practice", "milestone")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DECIMAL = re.compile(r"^[-+]?[0-9][0-9_]*$")  # not YAML 1.1's 0x1, 0b1 or 1:30
MAX_HOURS = 1000.0
LAB_STATUSES = ("planned",)  # a task's lab whose checks are not shipped yet


@dataclass(frozen=True)
class Resource:
    title: str
    url: str


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    kind: str
    goal: str
    hours: float
    phase: int
    week: int
    lab: str | None = None
    steps: tuple[str, ...] = ()
    deliverables: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    requires: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    source: str = ""  # "file:line" where the task is defined
    lab_planned: bool = (
        False  # `lab_status: planned`: its checks arrive in a later labpath
    )


@dataclass(frozen=True)
class Week:
    number: int
    title: str
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class Phase:
    id: str
    number: int
    title: str
    duration: str
    summary: str
    weeks: tuple[Week, ...]
    source: str


@dataclass(frozen=True)
class Curriculum:
    phases: tuple[Phase, ...]
    directory: str

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Every task in curriculum order."""
        return tuple(t for p in self.phases for w in p.weeks for t in w.tasks)

    def task(self, task_id: str) -> Task:
        """The task with this id, or a UsageError with a did-you-mean."""
        for t in self.tasks:
            if t.id == task_id:
                return t
        ids = [t.id for t in self.tasks]
        raise UsageError(
            f"no task '{task_id}' in the curriculum",
            hint=did_you_mean(task_id, ids) or "run `labpath status` to list tasks",
        )

    def phase_of(self, task: Task) -> Phase:
        return next(p for p in self.phases if p.number == task.phase)

    def task_for_lab(self, lab: str) -> Task | None:
        return next((t for t in self.tasks if t.lab == lab), None)


def builtin_directory() -> Path:
    """The curriculum shipped with labpath (inside the wheel, or the source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "curriculum", here.parent / "curriculum"):
        if candidate.is_dir():
            return candidate
    raise UsageError("labpath's built-in curriculum is missing; reinstall labpath")


def load(directory: str | Path | None = None) -> Curriculum:
    """Load every `*.yaml` file of a curriculum directory, validated, in name order."""
    path = Path(directory) if directory else builtin_directory()
    if not path.is_dir():
        raise UsageError(
            f"curriculum directory {path} does not exist",
            hint="pass an existing folder with --curriculum DIR, or remove the "
            "`curriculum:` line from labpath.yaml to use the built-in plan",
        )
    files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
    for f in files:
        _regular(f)
    if not files:
        raise UsageError(
            f"curriculum directory {path} holds no .yaml files",
            hint="add phase files such as 01-fundamentals.yaml "
            "(see the built-in curriculum/ for the format)",
        )
    from labpath.cache import memo

    return memo("curriculum", path.resolve(), files, lambda: _build(files, path))


def _regular(file: Path) -> None:
    """A curriculum file must be a readable regular file: never wait on a pipe."""
    import stat

    try:
        mode = file.stat().st_mode
    except OSError:
        mode = None
    if mode is None or not stat.S_ISREG(mode):
        what = (
            "a broken link" if mode is None
            else "a folder" if stat.S_ISDIR(mode)
            else "not a regular file"
        )  # fmt: skip
        raise UsageError(
            f"{file}: is {what}, not a curriculum file",
            hint=f"remove or rename it, so that {file.parent} holds only phase files",
        )


def _build(files: list[Path], path: Path) -> Curriculum:
    phases = [_load_file(f) for f in files]
    _check_across(phases)
    return Curriculum(tuple(sorted(phases, key=lambda p: p.number)), str(path))


# --- validation over YAML nodes, so every error can name file:line ---------------


class _Ctx:
    def __init__(self, file: Path):
        self.file = file

    def error(self, node, keypath: str, message: str, hint: str | None = None):
        line = node.start_mark.line + 1 if node is not None else 1
        where = f"{self.file}:{line}"
        return UsageError(f"{where}: {keypath}: {message}", hint=hint)


def _load_file(file: Path) -> Phase:
    import yaml

    ctx = _Ctx(file)
    try:
        _regular(file)
        text = file.read_text(encoding="utf-8")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        root = yaml.compose(text, Loader=loader)
    except UnicodeDecodeError:
        raise UsageError(f"{file}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{file}: cannot be read ({exc.strerror})",
                         hint="check the file's permissions") from None  # fmt: skip
    except RecursionError:
        raise UsageError(f"{file}: nested too deeply to be a curriculum",
                         hint="phase files nest a few levels: see curriculum/") from None  # fmt: skip
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(
            f"{file}{line}: malformed YAML: {problem}",
            hint="fix the YAML syntax at that line (indentation, quotes, colons)",
        ) from None
    if root is None:
        raise UsageError(f"{file}: the file is empty", hint="add format_version: 1")
    top = _mapping(
        ctx,
        root,
        "(top level)",
        ("format_version", "phase", "weeks"),
        ("format_version", "phase", "weeks"),
    )
    version = _int(ctx, top["format_version"], "format_version")
    if version > FORMAT_VERSION:
        raise ctx.error(
            top["format_version"],
            "format_version",
            f"version {version} is newer than this labpath understands ({FORMAT_VERSION})",
            hint="upgrade labpath: pip install -U labpath",
        )
    if version < 1:
        raise ctx.error(top["format_version"], "format_version", "must be 1")
    ph = _mapping(
        ctx,
        top["phase"],
        "phase",
        ("id", "number", "title", "duration", "summary"),
        ("id", "number", "title"),
    )
    phase_id = _slug(ctx, ph["id"], "phase.id")
    number = _int(ctx, ph["number"], "phase.number")
    weeks_node = top["weeks"]
    if not _is_seq(weeks_node) or not weeks_node.value:
        raise ctx.error(weeks_node, "weeks", "must be a non-empty list of weeks")
    weeks: list[Week] = []
    for i, wnode in enumerate(weeks_node.value):
        key = f"weeks[{i}]"
        w = _mapping(
            ctx, wnode, key, ("number", "title", "tasks"), ("number", "title", "tasks")
        )
        wnum = _int(ctx, w["number"], f"{key}.number")
        if wnum < 1:
            raise ctx.error(w["number"], f"{key}.number", "must be 1 or more")
        if weeks and wnum <= weeks[-1].number:
            raise ctx.error(
                w["number"],
                f"{key}.number",
                f"week {wnum} comes after week {weeks[-1].number}; weeks must increase",
            )
        tasks_node = w["tasks"]
        if not _is_seq(tasks_node) or not tasks_node.value:
            raise ctx.error(
                tasks_node, f"{key}.tasks", "must be a non-empty list of tasks"
            )
        tasks = tuple(
            _task(ctx, tnode, f"{key}.tasks[{j}]", number, wnum)
            for j, tnode in enumerate(tasks_node.value)
        )
        weeks.append(Week(wnum, _str(ctx, w["title"], f"{key}.title"), tasks))
    return Phase(
        id=phase_id,
        number=number,
        title=_str(ctx, ph["title"], "phase.title"),
        duration=_str(ctx, ph["duration"], "phase.duration")
        if "duration" in ph
        else "",
        summary=_str(ctx, ph["summary"], "phase.summary") if "summary" in ph else "",
        weeks=tuple(weeks),
        source=f"{file}:{root.start_mark.line + 1}",
    )


TASK_KEYS = (
    "id", "title", "kind", "lab", "goal", "steps", "deliverables",
    "resources", "hours", "requires", "questions", "lab_status",
)  # fmt: skip


def _task(ctx: _Ctx, node, key: str, phase: int, week: int) -> Task:
    t = _mapping(
        ctx, node, key, TASK_KEYS, ("id", "title", "kind", "goal", "resources", "hours")
    )
    kind = _str(ctx, t["kind"], f"{key}.kind")
    if kind not in KINDS:
        raise ctx.error(
            t["kind"],
            f"{key}.kind",
            f"unknown kind '{kind}' (expected one of {', '.join(KINDS)})",
            hint=did_you_mean(kind, KINDS),
        )
    lab = _slug(ctx, t["lab"], f"{key}.lab") if "lab" in t else None
    if kind == "lab" and lab is None:
        raise ctx.error(node, key, "a task of kind 'lab' needs a `lab:` id")
    planned = _lab_status(ctx, t, key, lab)
    steps = _strings(ctx, t.get("steps"), f"{key}.steps")
    deliverables = _strings(ctx, t.get("deliverables"), f"{key}.deliverables")
    if not steps and not deliverables:
        raise ctx.error(node, key, "a task needs `steps` or `deliverables`")
    hours_node = t["hours"]
    try:
        hours = float(hours_node.value)
    except (ValueError, TypeError):
        hours = -1.0
    if (
        hours_node.tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        or not math.isfinite(hours)
        or not 0 < hours <= MAX_HOURS
    ):
        raise ctx.error(
            hours_node,
            f"{key}.hours",
            f"must be a positive number of hours up to {MAX_HOURS:g}, "
            f"got {_describe(hours_node)}",
            hint="write it like hours: 6 or hours: 1.5",
        )
    res_node = t["resources"]
    if not _is_seq(res_node):
        raise ctx.error(res_node, f"{key}.resources", "must be a list of {title, url}")
    resources = []
    for i, rnode in enumerate(res_node.value):
        rk = f"{key}.resources[{i}]"
        r = _mapping(ctx, rnode, rk, ("title", "url"), ("title", "url"))
        url = _str(ctx, r["url"], f"{rk}.url")
        if not url.startswith(("http://", "https://")):
            raise ctx.error(r["url"], f"{rk}.url", f"'{url}' is not an http(s) URL")
        resources.append(Resource(_str(ctx, r["title"], f"{rk}.title"), url))
    return Task(
        id=_slug(ctx, t["id"], f"{key}.id"),
        title=_str(ctx, t["title"], f"{key}.title"),
        kind=kind,
        goal=_str(ctx, t["goal"], f"{key}.goal"),
        hours=hours,
        phase=phase,
        week=week,
        lab=lab,
        steps=steps,
        deliverables=deliverables,
        resources=tuple(resources),
        requires=tuple(
            _slug(ctx, n, f"{key}.requires")
            for n in _seq(ctx, t.get("requires"), f"{key}.requires")
        ),
        questions=_strings(ctx, t.get("questions"), f"{key}.questions"),
        source=f"{ctx.file}:{node.start_mark.line + 1}",
        lab_planned=planned,
    )


def _lab_status(ctx: _Ctx, t: dict, key: str, lab: str | None) -> bool:
    """Whether the task's lab is declared planned; an unknown, undeclared lab is an error."""
    from labpath import labs

    if "lab_status" in t:
        status = _str(ctx, t["lab_status"], f"{key}.lab_status")
        if status not in LAB_STATUSES or lab is None:
            raise ctx.error(
                t["lab_status"],
                f"{key}.lab_status",
                f"{status[:40]!r} is not a lab status"
                if lab is not None
                else "only a task with a `lab:` can say its lab is planned",
                hint="write lab_status: planned for a lab whose checks are not "
                "shipped yet, or remove the line",
            )
        return True  # harmless once the lab ships; `labpath dev check` says it is stale
    if lab is not None and not labs.exists(lab):
        raise ctx.error(
            t["lab"],
            f"{key}.lab",
            f"no lab '{lab}' in this labpath",
            hint=did_you_mean(lab, labs.available())
            or "if its checks are still to come, add `lab_status: planned` to the task; "
            f"labs available: {', '.join(labs.available())}",
        )
    return False


def _check_across(phases: list[Phase]) -> None:
    seen_phase: dict[int, Phase] = {}
    seen_pid: dict[str, Phase] = {}
    for p in phases:
        if p.number in seen_phase:
            raise UsageError(
                f"{p.source}: phase.number: phase {p.number} is also defined at "
                f"{seen_phase[p.number].source}",
                hint="give each phase file its own number",
            )
        if p.id in seen_pid:
            raise UsageError(
                f"{p.source}: phase.id: '{p.id}' is also used at {seen_pid[p.id].source}"
            )
        seen_phase[p.number] = p
        seen_pid[p.id] = p
    tasks: dict[str, Task] = {}
    for p in phases:
        for w in p.weeks:
            for t in w.tasks:
                if t.id in tasks:
                    raise UsageError(
                        f"{t.source}: duplicate task id '{t.id}' (first defined at "
                        f"{tasks[t.id].source})",
                        hint="task ids must be unique across all curriculum files",
                    )
                tasks[t.id] = t
    for t in tasks.values():
        for ref in t.requires:
            if ref not in tasks:
                raise UsageError(
                    f"{t.source}: requires: no task '{ref}'",
                    hint=did_you_mean(ref, tasks) or "list ids of existing tasks",
                )
    _check_acyclic(tasks)


def _check_acyclic(tasks: dict[str, Task]) -> None:
    """`requires:` must never lead back to the task itself."""
    done: set[str] = set()
    for first in tasks:
        if first in done:
            continue
        path: list[str] = []
        stack = [(first, iter(tasks[first].requires))]
        on_path = {first}
        path.append(first)
        while stack:
            tid, refs = stack[-1]
            ref = next(refs, None)
            if ref is None:
                stack.pop()
                on_path.discard(path.pop())
                done.add(tid)
            elif ref in on_path:
                cycle = path[path.index(ref) :] + [ref]
                raise UsageError(
                    f"{tasks[tid].source}: requires: a cycle: {' -> '.join(cycle)}",
                    hint=f"remove one of these requires: so that '{ref}' does not "
                    "depend on itself",
                )
            elif ref not in done:
                stack.append((ref, iter(tasks[ref].requires)))
                on_path.add(ref)
                path.append(ref)


# --- node helpers ---------------------------------------------------------------


def _mapping(ctx, node, key, allowed, required) -> dict:
    import yaml

    if not isinstance(node, yaml.MappingNode) or node.tag != "tag:yaml.org,2002:map":
        raise ctx.error(node, key, "must be a mapping (key: value)")
    out = {}
    for knode, vnode in node.value:
        if (
            not isinstance(knode, yaml.ScalarNode)
            or knode.tag != "tag:yaml.org,2002:str"
        ):
            raise ctx.error(knode, key, f"a key must be a name, got {_describe(knode)}")
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


def _is_seq(node) -> bool:
    import yaml

    return isinstance(node, yaml.SequenceNode) and node.tag == "tag:yaml.org,2002:seq"


def _str(ctx, node, key) -> str:
    import yaml

    if (
        not isinstance(node, yaml.ScalarNode)
        or node.tag != "tag:yaml.org,2002:str"
        or not node.value.strip()
    ):
        raise ctx.error(node, key, f"must be a non-empty string, got {_describe(node)}")
    if any(ord(c) < 32 and c not in "\t\n\r" or c == "\x7f" for c in node.value):
        raise ctx.error(node, key, "holds a control character (a NUL or escape?)",
                        hint="remove it; write plain text")  # fmt: skip
    return node.value.strip()


def _int(ctx, node, key) -> int:
    if node.tag != "tag:yaml.org,2002:int" or not DECIMAL.match(str(node.value)):
        raise ctx.error(node, key, f"must be an integer, got {_describe(node)}",
                        hint="write a plain decimal number such as 1")  # fmt: skip
    return int(str(node.value).replace("_", ""))


def _slug(ctx, node, key) -> str:
    value = _str(ctx, node, key)
    if not SLUG.match(value):
        raise ctx.error(
            node, key, f"'{value}' is not an id (lowercase letters, digits, '-')"
        )
    return value


def _seq(ctx, node, key) -> list:
    if node is None:
        return []
    if not _is_seq(node):
        raise ctx.error(node, key, f"must be a list, got {_describe(node)}")
    return list(node.value)


def _strings(ctx, node, key) -> tuple[str, ...]:
    return tuple(
        _str(ctx, n, f"{key}[{i}]") for i, n in enumerate(_seq(ctx, node, key))
    )


def _describe(node) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = str(node.tag).rsplit(":", 1)[-1][:20]
    value = str(node.value)
    return f"{kind} {value[:40]!r}" + ("..." if len(value) > 40 else "")
