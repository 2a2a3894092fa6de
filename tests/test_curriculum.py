"""Loading and validating curriculum files."""

import pytest

from labpath import curriculum
from labpath.errors import UsageError

from .conftest import DATA

CURRICULA = DATA / "curricula"


def test_builtin_curriculum_carries_all_three_phases_of_the_plan():
    cur = curriculum.load()
    assert [p.number for p in cur.phases] == [1, 2, 3]
    ids = [t.id for t in cur.tasks]
    assert len(ids) == len(set(ids))
    phase1_labs = [t.lab for t in cur.tasks if t.phase == 1 and t.kind == "lab"]
    assert phase1_labs == [
        "micrograd", "mlp", "bigram", "mlp-lm", "batchnorm", "backprop-ninja",
        "wavenet", "lstm", "transformer", "gpt2", "resnet", "bpe",
    ]  # fmt: skip
    labs_later = {t.lab for t in cur.tasks if t.phase > 1 and t.lab}
    assert {"lora", "retrieval", "router", "preference", "prompt-lab", "gpt-train",
            "serve", "log-anomaly", "tabular-embeddings", "fixit"} <= labs_later  # fmt: skip
    kinds = {t.kind for t in cur.tasks}
    assert kinds == {"lab", "project", "practice", "milestone"}
    for t in cur.tasks:
        assert t.goal and t.resources is not None and t.hours > 0
        assert t.steps or t.deliverables


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
