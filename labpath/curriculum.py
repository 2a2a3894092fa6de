"""Load and validate curriculum YAML files into frozen dataclasses."""

from __future__ import annotations

import math
import os
from pathlib import Path

from labpath import yamlcheck as yc
from labpath.errors import UsageError, did_you_mean
from labpath.structs import struct

FORMAT_VERSION = 1
KINDS = ("lab", "project", "practice", "milestone")
MAX_HOURS = 1000.0
LAB_STATUSES = ("planned",)  # a task's lab whose checks are not shipped yet


@struct
class Resource:
    title: str
    url: str


@struct
class Question:
    """A self-test question: its text, the written answer, and for multiple choice the
    choices and which one is right (1-based)."""

    text: str
    answer: str = (
        ""  # the model answer (for multiple choice: why the right one is right)
    )
    choices: tuple[str, ...] = ()
    correct: int | None = None  # 1-based index into choices

    def __str__(self) -> str:
        return self.text

    @property
    def multiple_choice(self) -> bool:
        return bool(self.choices)

    @property
    def back(self) -> str:
        """What a review card shows on its back: the right choice, then the answer."""
        parts = []
        if self.choices and self.correct:
            parts.append(
                f"{_LETTERS[self.correct - 1]}) {self.choices[self.correct - 1]}"
            )
        if self.answer:
            parts.append(self.answer)
        return "\n".join(parts)


_LETTERS = "abcdefghij"
QUESTION_KEYS = ("q", "answer", "choices", "correct")
MAX_CHOICES = len(_LETTERS)


@struct
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
    questions: tuple[Question, ...] = ()
    source: str = ""  # "file:line" where the task is defined
    # `lab_status: planned`: its checks arrive in a later labpath
    lab_planned: bool = False


@struct
class Week:
    number: int
    title: str
    tasks: tuple[Task, ...]


@struct
class Phase:
    id: str
    number: int
    title: str
    duration: str
    summary: str
    weeks: tuple[Week, ...]
    source: str


@struct
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

    # the kind names the shape of what is cached: questions became Question records;
    # a task's lab is checked against the labs found, $LABPATH_LABS's included
    # (labpath.labs.LABS_PATH_VAR, not imported here: a cached plan needs no labs)
    return memo(
        "curriculum-q",
        path.resolve(),
        files,
        lambda: _build(files, path),
        depends=(os.environ.get("LABPATH_LABS", ""),),
    )


def _regular(file: Path) -> None:
    """A curriculum file must be a readable regular file: never wait on a pipe."""
    yc.regular(
        file,
        "a curriculum file",
        hint=f"remove or rename it, so that {file.parent} holds only phase files",
    )


def _build(files: list[Path], path: Path) -> Curriculum:
    phases = [_load_file(f) for f in files]
    _check_across(phases)
    return Curriculum(tuple(sorted(phases, key=lambda p: p.number)), str(path))


# --- validation over YAML nodes, so every error can name file:line ---------------


def _load_file(file: Path) -> Phase:
    ctx = yc.Ctx(file)
    _regular(file)
    root = yc.compose(
        file, "a curriculum", "phase files nest a few levels: see curriculum/"
    )
    if root is None:
        raise UsageError(f"{file}: the file is empty", hint="add format_version: 1")
    top = yc.mapping(
        ctx,
        root,
        "(top level)",
        ("format_version", "phase", "weeks"),
        ("format_version", "phase", "weeks"),
    )
    yc.version(ctx, top["format_version"], FORMAT_VERSION)
    ph = yc.mapping(
        ctx,
        top["phase"],
        "phase",
        ("id", "number", "title", "duration", "summary"),
        ("id", "number", "title"),
    )
    phase_id = yc.slug(ctx, ph["id"], "phase.id")
    number = yc.integer(ctx, ph["number"], "phase.number")
    weeks_node = top["weeks"]
    if not yc.is_seq(weeks_node) or not weeks_node.value:
        raise ctx.error(weeks_node, "weeks", "must be a non-empty list of weeks")
    weeks: list[Week] = []
    for i, wnode in enumerate(weeks_node.value):
        key = f"weeks[{i}]"
        w = yc.mapping(
            ctx, wnode, key, ("number", "title", "tasks"), ("number", "title", "tasks")
        )
        wnum = yc.integer(ctx, w["number"], f"{key}.number")
        if wnum < 1:
            raise ctx.error(w["number"], f"{key}.number", "must be 1 or more")
        if weeks and wnum <= weeks[-1].number:
            raise ctx.error(
                w["number"],
                f"{key}.number",
                f"week {wnum} comes after week {weeks[-1].number}; weeks must increase",
            )
        tasks_node = w["tasks"]
        if not yc.is_seq(tasks_node) or not tasks_node.value:
            raise ctx.error(
                tasks_node, f"{key}.tasks", "must be a non-empty list of tasks"
            )
        tasks = tuple(
            _task(ctx, tnode, f"{key}.tasks[{j}]", number, wnum)
            for j, tnode in enumerate(tasks_node.value)
        )
        weeks.append(Week(wnum, yc.string(ctx, w["title"], f"{key}.title"), tasks))
    return Phase(
        id=phase_id,
        number=number,
        title=yc.string(ctx, ph["title"], "phase.title"),
        duration=yc.string(ctx, ph["duration"], "phase.duration")
        if "duration" in ph
        else "",
        summary=yc.string(ctx, ph["summary"], "phase.summary")
        if "summary" in ph
        else "",
        weeks=tuple(weeks),
        source=f"{file}:{root.start_mark.line + 1}",
    )


TASK_KEYS = (
    *("id", "title", "kind", "lab", "goal", "steps", "deliverables"),
    *("resources", "hours", "requires", "questions", "lab_status"),
)


def _task(ctx: yc.Ctx, node, key: str, phase: int, week: int) -> Task:
    t = yc.mapping(
        ctx, node, key, TASK_KEYS, ("id", "title", "kind", "goal", "resources", "hours")
    )
    kind = yc.string(ctx, t["kind"], f"{key}.kind")
    if kind not in KINDS:
        raise ctx.error(
            t["kind"],
            f"{key}.kind",
            f"unknown kind '{kind}' (expected one of {', '.join(KINDS)})",
            hint=did_you_mean(kind, KINDS),
        )
    lab = yc.slug(ctx, t["lab"], f"{key}.lab") if "lab" in t else None
    if kind == "lab" and lab is None:
        raise ctx.error(node, key, "a task of kind 'lab' needs a `lab:` id")
    planned = _lab_status(ctx, t, key, lab)
    steps = yc.strings(ctx, t.get("steps"), f"{key}.steps")
    deliverables = yc.strings(ctx, t.get("deliverables"), f"{key}.deliverables")
    # a shipped lab's steps live in its brief (README.md, "## Steps")
    if not steps and not deliverables and (lab is None or planned):
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
            f"got {yc.describe(hours_node)}",
            hint="write it like hours: 6 or hours: 1.5",
        )
    res_node = t["resources"]
    if not yc.is_seq(res_node):
        raise ctx.error(res_node, f"{key}.resources", "must be a list of {title, url}")
    resources = []
    for i, rnode in enumerate(res_node.value):
        rk = f"{key}.resources[{i}]"
        r = yc.mapping(ctx, rnode, rk, ("title", "url"), ("title", "url"))
        url = yc.string(ctx, r["url"], f"{rk}.url")
        if not url.startswith(("http://", "https://")):
            raise ctx.error(r["url"], f"{rk}.url", f"'{url}' is not an http(s) URL")
        resources.append(Resource(yc.string(ctx, r["title"], f"{rk}.title"), url))
    return Task(
        id=yc.slug(ctx, t["id"], f"{key}.id"),
        title=yc.string(ctx, t["title"], f"{key}.title"),
        kind=kind,
        goal=yc.string(ctx, t["goal"], f"{key}.goal"),
        hours=hours,
        phase=phase,
        week=week,
        lab=lab,
        steps=steps,
        deliverables=deliverables,
        resources=tuple(resources),
        requires=tuple(
            yc.slug(ctx, n, f"{key}.requires")
            for n in yc.seq(ctx, t.get("requires"), f"{key}.requires")
        ),
        questions=_questions(ctx, t.get("questions"), f"{key}.questions"),
        source=f"{ctx.file}:{node.start_mark.line + 1}",
        lab_planned=planned,
    )


def _questions(ctx: yc.Ctx, node, key: str) -> tuple[Question, ...]:
    """`questions:`: each a plain string, or {q, answer} / {q, choices, correct, answer}."""
    out = []
    for i, qnode in enumerate(yc.seq(ctx, node, key)):
        out.append(question(ctx, qnode, f"{key}[{i}]"))
    seen: dict[str, int] = {}
    for i, (q, qnode) in enumerate(zip(out, yc.seq(ctx, node, key))):
        if q.text in seen:
            raise ctx.error(
                qnode,
                f"{key}[{i}]",
                f"the same question as {key}[{seen[q.text]}]",
                hint="ask each question once per task",
            )
        seen[q.text] = i
    return tuple(out)


def question(ctx: yc.Ctx, node, key: str) -> Question:
    """One question: a string, or a mapping with `q` and an `answer` or `choices`."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return Question(yc.string(ctx, node, key))
    m = yc.mapping(ctx, node, key, QUESTION_KEYS, ("q",))
    text = yc.string(ctx, m["q"], f"{key}.q")
    answer = yc.string(ctx, m["answer"], f"{key}.answer") if "answer" in m else ""
    choices = yc.strings(ctx, m.get("choices"), f"{key}.choices")
    if "choices" in m and not 2 <= len(choices) <= MAX_CHOICES:
        raise ctx.error(
            m["choices"],
            f"{key}.choices",
            f"must list 2 to {MAX_CHOICES} choices, got {len(choices)}",
        )
    if len(set(choices)) != len(choices):
        raise ctx.error(m["choices"], f"{key}.choices", "lists the same choice twice")
    correct = None
    if "correct" in m:
        if not choices:
            raise ctx.error(
                m["correct"],
                f"{key}.correct",
                "only a question with `choices:` has a correct one",
                hint="add choices: [...], or remove correct:",
            )
        correct = yc.integer(ctx, m["correct"], f"{key}.correct")
        if not 1 <= correct <= len(choices):
            raise ctx.error(
                m["correct"],
                f"{key}.correct",
                f"must be the number of a choice, 1 to {len(choices)}, got {correct}",
                hint="count the choices from 1",
            )
    elif choices:
        raise ctx.error(
            node,
            key,
            "a question with `choices:` needs `correct:` (the right one's number, from 1)",
        )
    if not answer and not choices:
        raise ctx.error(
            node,
            key,
            "a question written as a mapping needs an `answer:` (or `choices:`)",
            hint="add answer: ..., or write the question as a plain string",
        )
    return Question(text, answer, choices, correct)


def _lab_status(ctx: yc.Ctx, t: dict, key: str, lab: str | None) -> bool:
    """Whether the task's lab is declared planned; an unknown, undeclared lab is an error."""
    from labpath import labs

    if "lab_status" in t:
        status = yc.string(ctx, t["lab_status"], f"{key}.lab_status")
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
