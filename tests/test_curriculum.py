"""Loading and validating curriculum files."""

import json

import pytest

from labpath import curriculum, labs
from labpath.errors import UsageError

from .conftest import DATA

CURRICULA = DATA / "curricula"


def test_builtin_curriculum_carries_all_three_phases_of_the_plan():
    cur = curriculum.load()
    assert [p.number for p in cur.phases] == [1, 2, 3]
    ids = [t.id for t in cur.tasks]
    assert len(ids) == len(set(ids))
    phase1_labs = [t.lab for t in cur.tasks if t.phase == 1 and t.kind == "lab"]
    first_month = "micrograd mlp bigram mlp-lm batchnorm backprop-ninja wavenet lstm"
    assert phase1_labs == [*first_month.split(), "transformer", "gpt2", "resnet", "bpe"]
    labs_later = {t.lab for t in cur.tasks if t.phase > 1 and t.lab}
    later = "lora retrieval router preference prompt-lab gpt-train serve log-anomaly"
    assert {*later.split(), "tabular-embeddings", "fixit"} <= labs_later
    assert labs_later <= set(labs.available())  # every lab the plan names ships
    kinds = {t.kind for t in cur.tasks}
    assert kinds == {"lab", "project", "practice", "milestone"}
    for t in cur.tasks:
        assert t.goal and t.resources is not None and t.hours > 0
        assert t.steps or t.deliverables or (t.lab and not t.lab_planned)


def test_first_task_is_week_one_micrograd():
    cur = curriculum.load()
    first = cur.tasks[0]
    assert (first.id, first.week, first.phase, first.lab) == (
        "micrograd",
        1,
        1,
        "micrograd",
    )


def test_a_valid_custom_curriculum_loads():
    cur = curriculum.load(CURRICULA / "valid")
    assert [t.id for t in cur.tasks] == ["micrograd", "write-post"]
    assert cur.task("write-post").requires == ("micrograd",)


@pytest.mark.parametrize(
    "case, words",
    [
        ("malformed", ["01-basics.yaml:20", "malformed YAML"]),
        (
            "unknown_key",
            ["01-basics.yaml:14", "unknown key 'gaol'", "did you mean 'goal'?"],
        ),
        ("duplicate_id", ["duplicate task id 'micrograd'", "01-basics.yaml:10"]),
        ("bad_requires", ["no task 'micrograde'", "did you mean 'micrograd'?"]),
        ("wrong_type", ["01-basics.yaml:29", "hours", "positive number", "'two'"]),
        ("newer_version", ["version 7 is newer", "upgrade labpath"]),
        ("lab_without_id", ["needs a `lab:` id"]),
        ("empty", ["holds no .yaml files"]),
    ],
)
def test_broken_curricula_name_the_file_line_and_fix(case, words):
    with pytest.raises(UsageError) as err:
        curriculum.load(CURRICULA / case)
    text = f"{err.value.message} {err.value.hint or ''}"
    for w in words:
        assert w in text


def test_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        curriculum.load(tmp_path / "nope")


def test_unknown_task_id_suggests_the_closest():
    with pytest.raises(UsageError) as err:
        curriculum.load().task("micrograde")
    assert err.value.hint == "did you mean 'micrograd'?"


def test_parsed_curriculum_is_cached_until_a_file_changes(tmp_path):
    import shutil

    folder = tmp_path / "cur"
    shutil.copytree(CURRICULA / "valid", folder)
    assert curriculum.load(folder).tasks[0].title == "A scalar autograd engine"
    f = folder / "01-basics.yaml"
    f.write_text(f.read_text().replace("A scalar autograd engine", "Autograd, renamed"))
    assert curriculum.load(folder).tasks[0].title == "Autograd, renamed"
    f.write_text(f.read_text().replace("hours: 6", "hours: six"))
    with pytest.raises(UsageError, match="hours"):
        curriculum.load(folder)


def test_unreadable_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("LABPATH_CACHE", str(tmp_path / "cache"))
    curriculum.load(CURRICULA / "valid")
    for f in (tmp_path / "cache").iterdir():
        f.write_bytes(b"garbage")
    assert len(curriculum.load(CURRICULA / "valid").tasks) == 2


def _variant(tmp_path, *edits):
    """The valid curriculum with text edits applied: (old, new) pairs."""
    folder = tmp_path / "cur"
    folder.mkdir(exist_ok=True)
    text = (CURRICULA / "valid" / "01-basics.yaml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    (folder / "01-basics.yaml").write_text(text)
    return folder


def _error(folder) -> str:
    with pytest.raises(UsageError) as err:
        curriculum.load(folder)
    return f"{err.value.message} {err.value.hint or ''}"


def test_a_lab_id_not_in_the_registry_is_named_with_its_line(tmp_path):
    text = _error(_variant(tmp_path, ("lab: micrograd", "lab: micrgrad")))
    assert "01-basics.yaml:13" in text and "no lab 'micrgrad'" in text
    assert "did you mean 'micrograd'?" in text


def test_a_planned_lab_loads_and_stays_harmless_once_it_ships(tmp_path):
    planned = "lab: quantize\n        lab_status: planned"
    cur = curriculum.load(_variant(tmp_path, ("lab: micrograd", planned)))
    assert cur.tasks[0].lab == "quantize" and cur.tasks[0].lab_planned
    shipped = "lab: micrograd\n        lab_status: planned"
    cur = curriculum.load(_variant(tmp_path, ("lab: micrograd", shipped)))
    assert cur.tasks[0].lab == "micrograd"
    text = _error(
        _variant(tmp_path, ("lab: micrograd", "lab: lora\n        lab_status: soon"))
    )
    assert "01-basics.yaml:14" in text and "lab_status: planned" in text


def test_the_builtin_curriculum_marks_every_unshipped_lab_planned():
    from labpath import labs

    for t in curriculum.load().tasks:
        if t.lab:
            assert labs.exists(t.lab) or t.lab_planned, t.id


@pytest.mark.parametrize(
    "edits, words",
    [
        (
            [("hours: 6", "hours: 1.0e+400")],
            ["01-basics.yaml:19", "hours", "up to 1000"],
        ),
        ([("hours: 6", "hours: .inf")], ["01-basics.yaml:19", "hours"]),
        (
            [("format_version: 1", "format_version: 0x1")],
            ["01-basics.yaml:1", "integer"],
        ),
        (
            [("number: 1\n  title", "number: 1:30\n  title")],
            ["phase.number", "integer"],
        ),
        (
            [("hours: 6", "hours: 6\n        requires: [write-post]")],
            ["requires: a cycle", "micrograd -> write-post -> micrograd"],
        ),
        (
            [("requires: [micrograd]", "requires: [write-post]")],
            ["a cycle: write-post -> write-post"],
        ),
    ],
)
def test_values_that_cannot_be_meant_are_refused(tmp_path, edits, words):
    text = _error(_variant(tmp_path, *edits))
    for w in words:
        assert w in text, text


PLANNED_TASK = """
      - id: quantize
        title: Quantize a model
        kind: lab
        lab: quantize
        lab_status: planned
        goal: Quantize a model to int8.
        steps: ["Read about int8", "Quantize your GPT"]
        resources: []
        hours: 3
        requires: [micrograd]
"""


def test_status_doctor_and_dev_check_tell_which_tasks_have_no_checks(cli, ws):
    from labpath import devcheck

    assert cli("init", ws).exit_code == 0
    folder = _variant(
        ws.parent,
        (
            "        requires: [micrograd]\n",
            "        requires: [micrograd]\n" + PLANNED_TASK,
        ),
    )
    settings = ws / "labpath.yaml"
    settings.write_text(settings.read_text() + f"curriculum: {folder}\n")
    r = cli("status")
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if " quantize " in x)
    assert "checks not in this labpath yet" in line
    assert "checks not in this labpath" not in next(
        x for x in r.stdout.splitlines() if " micrograd " in x
    )
    data = json.loads(cli("status", "--json").stdout)
    tasks = {t["id"]: t for p in data["phases"] for w in p["weeks"] for t in w["tasks"]}
    assert tasks["micrograd"]["checkable"] and not tasks["quantize"]["checkable"]
    r = cli("doctor", "--json")
    found = {f["name"]: f for f in json.loads(r.stdout)["findings"]}
    assert "without checks in this labpath yet" in found["curriculum"]["detail"]
    assert "quantize" in found["curriculum"]["detail"]
    # A planned lab may keep its steps until it ships.
    found = devcheck.check_curriculum(curriculum.load(folder))
    assert not [f for f in found if f.lab == "quantize"]
    # The built-in plan names no lab that does not ship.
    assert all(not t.lab_planned for t in curriculum.load().tasks)
    planned = "lab: micrograd\n        lab_status: planned"
    stale = curriculum.load(_variant(ws.parent, ("lab: micrograd", planned)))
    (bad,) = [f for f in devcheck.check_curriculum(stale) if "planned" in f.detail]
    assert not bad.ok and "01-basics.yaml:10" in bad.detail


def test_a_misspelt_lab_in_the_workspace_curriculum_exits_2(cli, ws, tmp_path):
    folder = _variant(tmp_path, ("lab: micrograd", "lab: micrgrad"))
    assert cli("init", ws).exit_code == 0
    r = cli("status", "--curriculum", folder)
    assert r.exit_code == 2, r.output
    assert "Error:" in r.stderr and "did you mean 'micrograd'?" in r.stderr


def test_a_shipped_labs_steps_live_only_in_its_brief():
    from labpath import labs
    from labpath.labs import brief

    cur = curriculum.load()
    for t in cur.tasks:
        if t.lab and labs.exists(t.lab):
            assert not t.steps, f"{t.source}: steps belong in the lab's README"
            assert brief.with_steps(t).steps == brief.steps(labs.load(t.lab))
        elif t.lab:
            assert t.steps or t.deliverables, t.id  # a planned lab keeps its own
    for lab_id in labs.available():
        assert len(brief.steps(labs.load(lab_id))) >= 3, lab_id


def test_dev_check_names_steps_a_curriculum_repeats_from_a_brief():
    from labpath import devcheck

    cur = curriculum.load(CURRICULA / "valid")
    (dup,) = [f for f in devcheck.check_curriculum(cur) if "repeats steps" in f.detail]
    assert not dup.ok and dup.lab == "micrograd"
    assert "01-basics.yaml:10: task 'micrograd'" in dup.detail
    assert "labpath/labs/micrograd/README.md (## Steps)" in dup.detail
    # the learner's own steps still win on the card
    from labpath.labs import brief

    task = cur.task("micrograd")
    assert brief.with_steps(task).steps == (
        "Write engine.py",
        "Run labpath check micrograd",
    )


def test_a_lab_task_without_steps_loads_and_a_plain_task_still_needs_them(tmp_path):
    lab_task = _variant(
        tmp_path,
        ('        steps: ["Write engine.py", "Run labpath check micrograd"]\n', ""),
    )
    assert curriculum.load(lab_task).task("micrograd").steps == ()
    (tmp_path / "p").mkdir()
    planned = _variant(
        tmp_path / "p",
        ('        steps: ["Write engine.py", "Run labpath check micrograd"]\n', ""),
        ("lab: micrograd", "lab: micrograd\n        lab_status: planned"),
    )
    assert "a task needs `steps` or `deliverables`" in _error(planned)


def test_next_shows_the_lab_briefs_steps(cli, ws):
    from labpath import labs
    from labpath.labs import brief

    r = cli("next", "--json")
    assert r.exit_code == 0, r.output
    card = json.loads(r.stdout)
    assert card["lab"] == "micrograd"
    assert card["steps"] == list(brief.steps(labs.load("micrograd")))
    assert card["steps"][0].startswith("Watch Zero to Hero lecture 1")
    r = cli("next")
    assert "Sanity-check by hand: `b = a + a`" in r.stdout


def test_a_cached_plan_is_read_again_when_the_labs_it_may_name_change(
    isolated, monkeypatch
):
    # The tiny curriculum's lab exists only on $LABPATH_LABS: a plan parsed with it
    # set must not be served from the cache once it is gone.
    from .conftest import DATA

    tiny = DATA / "curricula" / "tiny"
    monkeypatch.setenv("LABPATH_LABS", str(DATA / "labs"))
    assert curriculum.load(tiny).task_for_lab("tiny") is not None
    monkeypatch.delenv("LABPATH_LABS")
    with pytest.raises(UsageError, match="no lab 'tiny'"):
        curriculum.load(tiny)
    monkeypatch.setenv("LABPATH_LABS", str(DATA / "labs"))
    assert curriculum.load(tiny).task_for_lab("tiny") is not None
