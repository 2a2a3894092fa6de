"""A lab that hides faults: a generated starter, a count that says how many remain, never
which, and a solution that lists what was planted once the count reaches zero.

The faults lab (tests/data/labs/faults) is plain Python: four-line functions, six
catalogued faults, each with a detector of its own, two planted by default.
"""

import json
import re
import shutil

import pytest

from labpath import bugedit, labs, planted

from .conftest import DATA, commits, git
from .test_tiny_lab import no_torch  # noqa: F401  (the fixture)

FAULTS = DATA / "labs" / "faults"
DETECTORS = (
    "test_mean",
    "test_largest",
    "test_clamp",
    "test_words",
    "test_reverse",
    "test_is_even",
)


@pytest.fixture()
def lab(no_torch):  # noqa: F811
    return labs.load("faults")


@pytest.fixture()
def faulty(cli, ws, no_torch):  # noqa: F811
    """A workspace following the faults curriculum, after its first `labpath next`."""
    assert cli("init", ws).exit_code == 0
    settings = ws / "labpath.yaml"
    curriculum = DATA / "curricula" / "faults"
    settings.write_text(settings.read_text() + f"curriculum: {curriculum}\n")
    result = cli("next")
    assert result.exit_code == 0, result.output
    return ws


def mine(ws):
    return ws / "labs" / "faults"


def fix(ws, keep=()) -> None:
    """Put the reference back, with the faults named in keep left in."""
    text = (FAULTS / "solution" / "stats.py").read_text()
    for bug in planted.library(labs.load("faults")):
        if bug.id in keep:
            for old, new in bug.replace:
                text, n = bugedit.apply(text, old, new)
                assert n == 1
    (mine(ws) / "stats.py").write_text(text)


def plant_of(ws):
    return planted.read_state(mine(ws))


def test_strip_comments_keeps_code_docstrings_and_blank_lines():
    text = (
        '#!/usr/bin/env python\n"""Doc # not a comment."""\n\n# gone\nx = "#"  # gone\n'
    )
    assert planted.strip_comments(text) == '"""Doc # not a comment."""\n\nx = "#"\n'


def test_a_seed_draws_the_same_faults_and_they_never_overlap(lab):
    first, texts = planted.draw(lab, planted.Plant(7, 3))
    again, _ = planted.draw(lab, planted.Plant(7, 3))
    assert [b.id for b in first] == [b.id for b in again] and len(first) == 3
    for bug in first:
        for _, new in bug.replace:
            assert new in texts["stats.py"]
    drawn = {
        tuple(b.id for b in planted.draw(lab, planted.Plant(s, 2))[0])
        for s in range(40)
    }
    assert len(drawn) > 5  # seeds spread over the library


def test_next_generates_the_starter_with_the_faults_and_keeps_only_the_seed(
    faulty, lab
):
    folder = mine(faulty)
    plant = plant_of(faulty)
    assert plant is not None and plant.faults == 2
    state = json.loads((folder / planted.STATE_FILE).read_text())
    assert set(state) == {"format_version", "seed", "faults", "note"}
    text = (folder / "stats.py").read_text()
    assert "#" not in text  # comments stripped: nothing to compare the code with
    chosen, _ = planted.draw(lab, plant)
    assert text == planted.strip_comments(planted.draw(lab, plant)[1]["stats.py"])
    assert len(chosen) == 2
    assert not (folder / "solution").exists()
    assert (folder / "notes.md").is_file() and (folder / "README.md").is_file()
    tracked = git(faulty, "ls-files", "labs/faults").split()
    assert {"labs/faults/stats.py", f"labs/faults/{planted.STATE_FILE}"} <= set(tracked)


def test_check_says_how_many_remain_and_nothing_else(cli, faulty, lab):
    chosen, _ = planted.draw(lab, plant_of(faulty))
    result = cli("check")
    assert result.exit_code == 1, result.output
    assert "2 faults planted, 2 remain" in result.stdout
    for name in DETECTORS + tuple(b.id for b in chosen) + ("stats.py:",):
        assert name not in result.output
    data = json.loads(cli("check", "--json").stdout)
    assert data["status"] == "failed" and data["exit_code"] == 1
    assert data["planted"] == {
        "planted": 2,
        "remaining": 2,
        "raised": False,
        "rewritten_percent": 0,
    }
    assert [r["name"] for r in data["results"]] == ["planted faults"]
    assert data["passed"] == 0 and data["total"] == 1
    assert not any(name in json.dumps(data) for name in DETECTORS)
    events = (faulty / ".labpath" / "progress.jsonl").read_text()
    assert not any(name in events for name in DETECTORS)


def test_each_fix_lowers_the_count_and_zero_passes_and_commits(cli, faulty, lab):
    chosen, _ = planted.draw(lab, plant_of(faulty))
    fix(faulty, keep={chosen[0].id})
    result = cli("check")
    assert result.exit_code == 1 and "2 faults planted, 1 remain" in result.stdout
    fix(faulty)
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert "2 faults planted, 0 remain: PASSED" in result.stdout
    assert "labpath solution faults" in result.stdout
    assert commits(faulty)[0] == "check: faults passed 1/1"


def test_a_new_fault_of_the_learners_own_counts_too(cli, faulty, lab):
    chosen, _ = planted.draw(lab, plant_of(faulty))
    others = [b.id for b in planted.library(lab) if b not in chosen]
    fix(faulty, keep={others[0]})
    result = cli("check", "--json")
    assert json.loads(result.stdout)["planted"]["remaining"] == 1


def test_code_that_raises_is_reported_without_saying_where(cli, faulty):
    fix(faulty)
    path = mine(faulty) / "stats.py"
    path.write_text(
        path.read_text().replace(
            "return s[::-1]", "raise RuntimeError('boom in reverse')"
        )
    )
    result = cli("check")
    assert result.exit_code == 1
    assert "2 faults planted, 1 remain" in result.stdout
    assert planted.RAISED in result.stdout.replace("\n", " ")
    assert "boom" not in result.output and "reverse" not in result.output
    assert "Traceback" not in result.output


def test_a_folder_outside_the_workspace_is_counted_with_its_own_seed(
    cli, faulty, tmp_path
):
    elsewhere = tmp_path / "copy"
    shutil.copytree(mine(faulty), elsewhere)
    result = cli("check", "faults", "--path", elsewhere, "--json")
    assert json.loads(result.stdout)["planted"]["remaining"] == 2


def test_solution_lists_the_planted_faults_and_the_journal_entries(cli, faulty, lab):
    chosen, _ = planted.draw(lab, plant_of(faulty))
    assert cli("log", "mean divided by n - 1", "--tag", "faults").exit_code == 0
    fix(faulty)
    assert cli("check").exit_code == 0
    result = cli("solution", "faults")
    assert result.exit_code == 0, result.output
    assert "The 2 faults planted in your starter" in result.stderr
    for bug in chosen:
        assert bug.summary in result.stderr.replace("\n", " ")
    assert "mean divided by n - 1" in result.stderr
    assert "def largest" in result.stdout  # the solution itself, alone on stdout
    data = json.loads(cli("solution", "faults", "--json").stdout)
    assert data["planted"] == [b.summary for b in chosen]
    assert [title for _, title, _ in data["journal"]] == ["mean divided by n - 1"]


def test_start_and_reset_choose_how_many_faults(cli, ws, no_torch):  # noqa: F811
    assert cli("init", ws).exit_code == 0
    settings = ws / "labpath.yaml"
    settings.write_text(
        settings.read_text() + f"curriculum: {DATA / 'curricula' / 'faults'}\n"
    )
    result = cli("start", "faults", "--faults", "9")
    assert result.exit_code == 2
    assert "--faults 9: lab 'faults' can plant 1 to 6 faults" in result.stderr
    assert not mine(ws).exists()
    assert cli("start", "faults", "--faults", "3").exit_code == 0
    assert plant_of(ws).faults == 3
    before = (mine(ws) / "stats.py").read_text()
    # A second start with another count would change the draw: refused.
    result = cli("start", "faults", "--faults", "4")
    assert result.exit_code == 2 and "already holds 3 planted faults" in result.stderr
    (mine(ws) / "stats.py").write_text("# my attempt\n")
    assert cli("reset", "faults", "--yes").exit_code == 0
    assert (mine(ws) / "stats.py").read_text() == before  # the same faults back
    assert cli("reset", "faults", "--yes", "--faults", "1").exit_code == 0
    assert plant_of(ws).faults == 1
    data = json.loads(cli("check", "faults", "--json").stdout)
    assert data["planted"]["planted"] == 1 and data["planted"]["remaining"] == 1
    result = cli("reset", "faults", "--yes", "--faults", "0")
    assert result.exit_code == 2 and "can plant 1 to 6" in result.stderr


def test_faults_for_a_lab_that_plants_none_is_refused(cli, workspace):
    for args in (("start", "micrograd"), ("next",)):
        result = cli(*args, "--faults", "2")
        assert result.exit_code == 2
        assert "--faults: lab 'micrograd' plants no faults" in result.stderr
        assert not (workspace / "labs" / "micrograd").exists()


def test_dev_check_proves_each_fault_trips_only_its_own_detector(lab):
    from labpath import devcheck

    verdict = devcheck.check_lab(lab, warm=False)
    items = {f.item: f for f in verdict.findings}
    assert items["starter"].ok, items["starter"].detail
    assert re.match(r"2 planted \(of 2 asked\), 2 failing", items["starter"].detail)
    assert items["accepted:loops"].ok
    assert all(items[f"bug:{b.id}"].ok for b in planted.library(lab))


def test_dev_check_names_a_fault_that_trips_another_detector(tmp_path, monkeypatch):
    from labpath import devcheck

    copy = tmp_path / "labs" / "faults"
    shutil.copytree(FAULTS, copy)
    # A detector that is not isolating: test_largest also probes mean.
    checks = copy / "checks" / "test_stats.py"
    checks.write_text(
        checks.read_text().replace(
            "def test_largest(stats):\n",
            "def test_largest(stats):\n    assert stats.mean([1.0, 3.0]) == 2.0\n",
        )
    )
    monkeypatch.setenv("LABPATH_LABS", str(tmp_path / "labs"))
    verdict = devcheck.check_lab(labs.load("faults"), warm=False)
    items = {f.item: f for f in verdict.findings}
    bad = items["bug:mean-off-by-one"]
    assert not bad.ok and "also tripped: test_largest" in bad.detail


def test_static_check_refuses_two_faults_sharing_a_detector(tmp_path, monkeypatch):
    from labpath import authoring

    copy = tmp_path / "labs" / "faults"
    shutil.copytree(FAULTS, copy)
    bugs = copy / "bugs.yaml"
    bugs.write_text(bugs.read_text().replace("fails: test_words", "fails: test_mean"))
    monkeypatch.setenv("LABPATH_LABS", str(tmp_path / "labs"))
    verdict = authoring.static_check(labs.load("faults"))
    items = {f.item: f for f in verdict.findings}
    assert not items["planted"].ok
    assert "share the detector test_mean" in items["planted"].detail


def test_the_lab_post_lists_the_faults_only_after_a_pass(cli, faulty, lab):
    chosen, _ = planted.draw(lab, plant_of(faulty))
    assert cli("check").exit_code == 1
    result = cli("report", "--lab", "faults")
    assert result.exit_code == 0, result.output
    post = next((faulty / "reports").glob("faults-post*/post.md")).read_text()
    assert "faults I found" not in post
    fix(faulty)
    assert cli("check").exit_code == 0
    # The current task is now the write-up, which has no lab: the tag ties it.
    assert cli("log", "rows that did not sum to one", "--tag", "faults").exit_code == 0
    assert cli("report", "--lab", "faults").exit_code == 0
    post = sorted((faulty / "reports").glob("faults-post*/post.md"))[-1].read_text()
    assert "## The 2 faults I found" in post
    for bug in chosen:
        assert bug.summary in post
    assert "rows that did not sum to one" in post
