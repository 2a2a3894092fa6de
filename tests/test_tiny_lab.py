"""The learner's loop end to end on a lab whose checks are plain Python: no torch needed.

The tiny lab (tests/data/labs/tiny) is found through LABPATH_LABS and followed with the
one-lab curriculum in tests/data/curricula/tiny. Every process these tests start, the
check children included, has `import torch` fail, so none of this needs torch.
"""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from labpath import labs

from .conftest import DATA, ROOT, commits, flat, git

LABS = DATA / "labs"
TINY = LABS / "tiny"
VARIANTS = TINY / "variants"
SOLUTION = TINY / "solution" / "moments.py"

# On PYTHONPATH, its sitecustomize.py makes every Python process the tests start fail
# to import torch.
NO_TORCH = DATA / "no_torch"


def _no_torch_finder():
    spec = importlib.util.spec_from_file_location(
        "labpath_tests_no_torch", NO_TORCH / "sitecustomize.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NoTorch()


@pytest.fixture()
def no_torch(isolated, monkeypatch):
    """LABPATH_LABS names the tiny lab's folder; torch cannot be imported anywhere."""
    path = [str(NO_TORCH), str(ROOT), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in path if p))
    monkeypatch.setenv("LABPATH_LABS", str(LABS))
    # This process too, unless an earlier test in the same run already loaded torch.
    monkeypatch.setattr(sys, "meta_path", [_no_torch_finder(), *sys.meta_path])


@pytest.fixture()
def tiny(cli, ws, no_torch):
    """A workspace following the tiny curriculum, after its first `labpath next`."""
    assert cli("init", ws).exit_code == 0
    settings = ws / "labpath.yaml"
    curriculum = DATA / "curricula" / "tiny"
    settings.write_text(settings.read_text() + f"curriculum: {curriculum}\n")
    result = cli("next")
    assert result.exit_code == 0, result.output
    return ws


def use(ws, variant: str) -> None:
    """Put one of the tiny lab's prepared learner files in the workspace."""
    shutil.copy(VARIANTS / variant / "moments.py", ws / "labs" / "tiny" / "moments.py")


def events(ws) -> list[dict]:
    lines = (ws / ".labpath" / "progress.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


def test_torch_cannot_be_imported_by_what_these_tests_start(no_torch):
    proc = subprocess.run(
        [sys.executable, "-c", "import torch"], capture_output=True, text=True
    )
    assert proc.returncode == 1 and "blocked by the tests" in proc.stderr


def test_labs_outside_labpath_are_found_through_labpath_labs(
    isolated, monkeypatch, cli
):
    assert not labs.exists("tiny")
    result = cli("check", "tiny", "--path", VARIANTS / "passing")
    assert result.exit_code == 2 and "no lab 'tiny'" in result.stderr
    # Two folders; a lab in both is the first's, and a shipped lab always wins.
    first, second = isolated / "first", isolated / "second"
    for root, lab_id in ((first, "micrograd"), (first, "tiny"), (second, "tiny")):
        shutil.copytree(TINY, root / lab_id)
    (second / "extra").mkdir()
    (second / "extra" / "lab.yaml").write_text(
        (TINY / "lab.yaml").read_text().replace("id: tiny", "id: extra")
    )
    monkeypatch.setenv("LABPATH_LABS", os.pathsep.join([str(first), "", str(second)]))
    assert labs.where("tiny") == first / "tiny"
    assert labs.load("micrograd").directory == labs.LABS_ROOT / "micrograd"
    assert labs.load("extra").directory == second / "extra"
    assert {"tiny", "extra", "micrograd"} <= set(labs.available())
    assert labs.available().count("tiny") == 1
    assert not labs.exists("../first/tiny") and not labs.exists("")
    result = cli("check", "tinny", "--path", VARIANTS / "passing")
    assert result.exit_code == 2 and "did you mean 'tiny'?" in result.stderr


def test_next_scaffolds_the_tiny_lab_and_commits_it(cli, tiny):
    assert (tiny / "labs" / "tiny" / "moments.py").read_text() == (
        TINY / "starter" / "moments.py"
    ).read_text()
    assert (tiny / "labs" / "tiny" / "README.md").is_file()
    assert commits(tiny)[0] == "next: scaffold tiny moments"
    card = json.loads(cli("next", "--json").stdout)
    assert card["id"] == "moments" and card["checkable"] is True
    assert card["command"] == "labpath check tiny"


def test_check_passing_code_exits_0_commits_it_and_moves_on(cli, tiny):
    use(tiny, "passing")
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert "PASSED 2/2 passed" in result.stdout
    assert commits(tiny)[0].startswith("check: tiny passed ")
    assert "labs/tiny/moments.py" in git(
        tiny, "show", "--name-only", "--format=", "HEAD"
    )
    status = json.loads(cli("status", "--json").stdout)
    assert status["current"] == "write-up" and status["done"] == 1


STARTER_GAP = (
    "not started: `mean` still raises NotImplementedError (moments.py:7 in mean)"
)
IMPORT_ERROR = (
    "importing your moments.py failed at moments.py:3 in <module>: KeyError: 'units'"
)
SEGFAULT = (
    "the check process ended early while running test_mean_matches_statistics "
    "(killed by SIGSEGV)"
)
# (learner file, exit code, lines of the report), None for the starter itself.
REPORTS = {
    "starter": (None, 1, ["NOT STARTED 0/2 passed, 2 not started", STARTER_GAP]),
    "not started": (
        "not_started",
        1,
        ["NOT STARTED 1/2 passed, 1 not started", "✓ test_mean_matches_statistics"],
    ),
    "failing": (
        "failing",
        1,
        [
            "FAILED 1/2 passed, 1 failed",
            "compared variance([1.0, 2.0, 4.0])",
            "yours 2.333333333 expected 1.555555556",
            "diagnosis divide by len(xs), not len(xs) - 1",
            "Stuck? labpath hint tiny reveals the next hint.",
        ],
    ),
    "raises at import": (
        "raises_at_import",
        1,
        [
            "FAILED 0/2 passed",
            IMPORT_ERROR,
            "skipped: fix test_mean_matches_statistics first",
        ],
    ),
    "forbidden module": (
        "uses_statistics",
        1,
        ["your code uses statistics, which this lab forbids"],
    ),
    "segfault": ("segfault", 3, ["CRASHED", SEGFAULT]),
}


@pytest.mark.parametrize(
    "variant, code, lines", list(REPORTS.values()), ids=list(REPORTS)
)
def test_check_reports_each_kind_of_result_with_its_exit_code(
    cli, tiny, variant, code, lines
):
    if variant:
        use(tiny, variant)
    result = cli("check")
    assert result.exit_code == code, result.output
    for line in lines:
        assert line in flat(result.stdout), line
    last = events(tiny)[-1]
    assert last["event"] == "check" and last["lab"] == "tiny"
    assert json.loads(cli("status", "--json").stdout)["current"] == "moments"


def test_check_json_of_the_starter_says_not_started(cli, tiny):
    result = cli("check", "tiny", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "not_started" and data["failed"] == 0
    assert data["exit_code"] == 1
    assert json.loads(cli("status", "--json").stdout)["current"] == "moments"


def test_check_any_folder_outside_a_workspace(cli, isolated, monkeypatch, no_torch):
    monkeypatch.delenv("LABPATH_HOME")
    result = cli("check", "tiny", "--path", VARIANTS / "passing")
    assert result.exit_code == 0, result.output
    assert "PASSED 2/2 passed" in result.stdout
    assert not (isolated / "home" / "labpath").exists()


def test_check_that_hangs_is_stopped_at_the_time_limit_and_exits_3(cli, tiny):
    use(tiny, "hangs")
    started = time.monotonic()
    result = cli("check", "--timeout", "3")
    assert result.exit_code == 3, result.output
    assert "TIMED OUT" in result.stdout
    assert "did not finish within 3s" in flat(result.stdout)
    assert time.monotonic() - started < 60


def test_hints_come_in_three_tiers_and_are_recorded(cli, tiny):
    shown = []
    for _ in range(4):
        result = cli("hint", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["lab"] == "tiny"
        shown.append(data["name"])
    assert shown == ["nudge", "concept", "near-solution", "near-solution"]
    assert [e["level"] for e in events(tiny) if e["event"] == "hint"] == [1, 2, 3]
    text = cli("hint").stdout
    assert "Hint 3/3 (near-solution) for tiny" in text and "m = mean(xs)" in text
    use(tiny, "failing")
    assert cli("check").exit_code == 1
    assert events(tiny)[-1]["hints"] == 3


def test_reset_saves_the_attempt_then_restores_the_starter(cli, tiny):
    mine = tiny / "labs" / "tiny" / "moments.py"
    use(tiny, "failing")
    result = cli("reset", "--yes")
    assert result.exit_code == 0, result.output
    assert mine.read_text() == (TINY / "starter" / "moments.py").read_text()
    assert commits(tiny)[:2] == [
        "reset: tiny back to the starter",
        "reset: save tiny before restoring the starter",
    ]
    saved = git(tiny, "show", "HEAD~1:labs/tiny/moments.py")
    assert saved == (VARIANTS / "failing" / "moments.py").read_text()


def test_solution_unlocks_only_after_a_pass(cli, tiny):
    result = cli("solution")
    assert result.exit_code == 2 and "unlocks once your checks pass" in result.stderr
    use(tiny, "passing")
    assert cli("check").exit_code == 0
    result = cli("solution", "tiny")
    assert result.exit_code == 0, result.output
    assert "return sum(xs) / len(xs)" in result.stdout
    assert events(tiny)[-1]["event"] == "solution"


def test_check_all_rechecks_what_passed_and_names_a_regression(cli, tiny):
    use(tiny, "passing")
    assert cli("check").exit_code == 0
    result = cli("check", "--all")
    assert result.exit_code == 0, result.output
    assert "still passing" in result.stdout
    use(tiny, "failing")
    result = cli("check", "--all", "--json")
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)["labs"]
    assert row["lab"] == "tiny" and row["regressed"] is True


def test_dev_check_proves_the_tiny_lab_sound(cli, no_torch, monkeypatch):
    from labpath import curriculum

    # dev check reads the built-in plan; here it is the one that names the tiny lab.
    plan = DATA / "curricula" / "tiny"
    monkeypatch.setattr(curriculum, "builtin_directory", lambda: plan)
    result = cli("dev", "check", "tiny", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (verdict,) = data["labs"]
    found = {f["item"]: f for f in verdict["findings"]}
    assert data["ok"] and all(f["ok"] for f in found.values()), found
    assert found["curriculum"]["detail"] == "task 'moments'"
    assert found["starter"]["detail"] == "not_started: 0/2 passed"
    assert found["solution"]["detail"] == "passed: 2/2 passed"
    bugs = [i for i in found if i.startswith("bug:")]
    assert len(bugs) == 6 and "bug:sample-variance" in bugs


def _wait_for(log, text: str, proc, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = log.read_text(errors="replace")
        if text in out:
            return out
        assert proc.poll() is None, out
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} within {seconds}s:\n{log.read_text()}")


def test_watch_rechecks_after_a_save_in_a_real_process(tiny, isolated):
    log = isolated / "watch.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labpath", "watch", "--poll"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for(log, "save a file to re-check", proc)
        assert "NOT STARTED 0/2 passed" in log.read_text()
        use(tiny, "passing")
        text = _wait_for(log, "PASSED 2/2 passed", proc)
        assert "changed: moments.py" in text
        time.sleep(0.3)  # back to waiting for the next save
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Stopped watching after 2 run(s)." in text
    assert "torch" not in text
    assert commits(tiny)[0].startswith("check: tiny passed ")


def _data_limit(size: int):
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_DATA, (size, size))


def test_a_loop_that_keeps_appending_fails_its_check_at_the_memory_cap(
    isolated, no_torch
):
    # Started under a 1 GiB limit, which labpath keeps (it only ever lowers one), so
    # that the test does not have to fill half the machine.
    env = {**os.environ, "LABPATH_CHECK_SERVER": "0"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "labpath", "check", "tiny", "--json"]
        + ["--path", str(VARIANTS / "hoards")],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_data_limit(1 << 30),
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == "failed"
    first, second = report["results"]
    assert first["outcome"] == "failed"
    assert first["message"] == "your code ran out of memory"
    assert first["learner_location"] == "moments.py:7 in mean"
    assert "may use 1.0 GiB of memory here" in first["hint"]
    assert second["outcome"] == "skipped"
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    "device, preset, expected",
    [
        ("cpu", None, "cap"),  # half the machine's memory, 4 GiB at least
        (None, None, "cap"),  # the default device is the CPU
        ("cuda", None, "none"),  # a GPU driver maps memory of its own
        ("cpu", 1 << 30, "preset"),  # a lower limit already set stays
    ],
)
def test_a_check_process_caps_its_data_memory_on_the_cpu(device, preset, expected):
    import resource

    script = (
        "import resource, sys\n"
        "from labpath.checks import _harness\n"
        "_harness.cap_memory(sys.argv[1] or None)\n"
        "print(resource.getrlimit(resource.RLIMIT_DATA)[0], _harness.MEMORY_CAP)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, device or ""],
        capture_output=True,
        text=True,
        preexec_fn=None if preset is None else _data_limit(preset),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    limit, cap = proc.stdout.split()
    half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    want = {
        "cap": (str(max(half, 4 << 30)),) * 2,
        "none": (str(resource.RLIM_INFINITY), "None"),
        "preset": (str(preset),) * 2,
    }[expected]
    assert (limit, cap) == want


def test_a_gpu_run_after_a_cpu_one_in_the_same_process_has_no_cap():
    import resource

    script = (
        "import resource\n"
        "from labpath.checks import _harness\n"
        "_harness.cap_memory('cpu')\n"
        "_harness.cap_memory('cuda')\n"
        "print(resource.getrlimit(resource.RLIMIT_DATA)[0], _harness.MEMORY_CAP)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(resource.RLIM_INFINITY), "None"]
