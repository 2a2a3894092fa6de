"""The check harness against learner code that fights it: no false pass, nothing left running."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from labpath import labs
from labpath.app.check import attempt_dir
from labpath.checks import runner
from labpath.checks.result import sign
from labpath.checks.runner import run_checks

from .conftest import DATA, ROOT

LAB = labs.load("micrograd")
SAMPLES = DATA / "micrograd"
# A check before tanh, tanh, and one after it: enough to see a run cut short.
AROUND_TANH = [
    "test_add_matches_torch",
    "test_tanh_matches_torch",
    "test_exp_matches_torch",
]


def by_name(report):
    return {r.name: r for r in report.results}


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie waiting for its (new) parent to reap it has stopped running
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _wait_dead(pids, seconds=15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if not _dead(p)]
        time.sleep(0.05)
    for p in alive:  # never leave them behind, even when the test fails
        os.kill(p, signal.SIGKILL)
    return alive


@pytest.mark.torch
@pytest.mark.parametrize(
    "sample, what",
    [
        ("stop_keyboard_interrupt", "KeyboardInterrupt"),
        ("stop_sigint", "KeyboardInterrupt"),
        ("stop_pytest_exit", "pytest.exit('all good', returncode=0)"),
    ],
)
def test_learner_code_that_stops_the_run_is_never_a_pass(sample, what):
    report = run_checks(LAB, SAMPLES / sample, select=AROUND_TANH)
    assert report.status == "failed", (report.status, report.message)
    got = by_name(report)
    assert got["test_add_matches_torch"].outcome == "passed"
    stopped = got["test_tanh_matches_torch"]
    assert stopped.outcome == "failed"
    assert f"your code stopped the check run: {what}" in stopped.message
    assert stopped.learner_location.startswith("engine.py:")
    assert "1 check(s) did not run" in report.message


@pytest.mark.torch
@pytest.mark.parametrize("sample", ["skip_pytest", "skip_unittest"])
def test_a_skip_raised_by_learner_code_is_a_named_failure(sample):
    report = run_checks(LAB, SAMPLES / sample, select=AROUND_TANH)
    assert report.status == "failed", report.message
    tanh = by_name(report)["test_tanh_matches_torch"]
    assert tanh.outcome == "failed"
    assert "your code skipped this check" in tanh.message
    assert "tanh comes later" in tanh.message
    assert tanh.learner_location.startswith("engine.py:")


@pytest.mark.torch
def test_labpaths_own_skip_for_a_missing_optional_feature_still_skips():
    report = run_checks(LAB, SAMPLES / "repo_shape", select=["test_tanh_matches_torch"])
    assert report.status == "passed"
    assert by_name(report)["test_tanh_matches_torch"].outcome == "skipped"


@pytest.mark.torch
def test_correct_code_that_forks_passes_and_its_children_report_nothing():
    report = run_checks(
        LAB,
        SAMPLES / "forks",
        select=["test_mul_matches_torch", "test_add_matches_torch"],
    )
    assert report.status == "passed", (report.message, report.output[-3000:])
    assert sorted(r.name for r in report.results) == [
        "test_add_matches_torch",
        "test_mul_matches_torch",
    ]


@pytest.mark.torch
def test_processes_the_learner_code_started_are_stopped_after_the_run(
    tmp_path, monkeypatch
):
    pidfile = tmp_path / "pids"
    monkeypatch.setenv("LABPATH_TEST_PIDFILE", str(pidfile))
    report = run_checks(
        LAB, SAMPLES / "grandchildren", select=["test_add_matches_torch"]
    )
    assert report.status == "passed", report.message
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2
    assert _wait_dead(pids, 5) == [], "a process started by the learner's code survived"


@pytest.mark.torch
def test_a_non_daemon_thread_left_by_correct_code_does_not_turn_a_pass_into_a_timeout():
    report = run_checks(
        LAB, SAMPLES / "leaves_thread", select=["test_add_matches_torch"], timeout=45
    )
    assert report.status == "passed", report.message
    assert report.duration < 40


@pytest.mark.torch
def test_forged_result_records_are_rejected():
    report = run_checks(LAB, SAMPLES / "forges_results", select=AROUND_TANH)
    assert report.status == "crashed"
    assert "not written by labpath" in report.message
    assert report.passed < len(AROUND_TANH)


@pytest.mark.torch
def test_code_that_switches_the_checks_off_fails():
    report = run_checks(LAB, SAMPLES / "patches_checks", select=AROUND_TANH)
    assert report.status == "failed"
    first = report.results[0]
    assert first.outcome == "failed"
    assert "your code replaced" in first.message
    assert any(
        name in first.message
        for name in ("labpath.checks.kit.close", "kit.fail", "torch.Tensor.any")
    )


def test_a_changed_installed_check_file_stops_the_run(monkeypatch):
    import base64
    import hashlib

    manifest = {}
    for path in LAB.checks_dir.rglob("*.py"):
        digest = hashlib.sha256(path.read_bytes()).digest()
        manifest[str(path.resolve())] = (
            base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        )
    assert runner.changed_check_files(LAB, manifest) == []
    check = str((LAB.checks_dir / "test_engine.py").resolve())
    tampered = {**manifest, check: "A" * 43}
    assert runner.changed_check_files(LAB, tampered) == [check]
    monkeypatch.setattr(runner, "installed_manifest", lambda: tampered)
    report = run_checks(LAB, LAB.solution_dir)
    assert report.status == "harness_error"
    assert "test_engine.py differs from the one installed" in report.message
    assert "pip install --force-reinstall labpath" in report.message


def test_records_are_signed_in_sequence(tmp_path):
    key = b"k" * 32
    good = sign(key, '{"type": "start", "seq": 0}')
    path = tmp_path / "r.jsonl"
    path.write_text(
        f'{{"body": "{{\\"type\\": \\"start\\", \\"seq\\": 0}}", "mac": "{good}"}}\n'
        f'{{"body": "{{\\"type\\": \\"start\\", \\"seq\\": 0}}", "mac": "{good}"}}\n'
        '{"type": "finished"}\n'
    )
    records, forged = runner.read_records(path, key)
    assert records == [{"type": "start", "seq": 0}]
    assert forged == 2  # the replayed line and the unsigned one


def test_attempt_folders_are_unique_within_one_second(tmp_path):
    now = dt.datetime(2026, 3, 4, 5, 6, 7)
    made = [attempt_dir(tmp_path / "artifacts", now) for _ in range(3)]
    assert [p.name for p in made] == [
        "20260304T050607",
        "20260304T050607-2",
        "20260304T050607-3",
    ]
    assert all(p.is_dir() for p in made)


@pytest.mark.torch
def test_two_checks_at_once_save_their_plots_in_separate_folders(cli, ws):
    assert cli("init", ws).exit_code == 0
    lab = labs.load("micrograd")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LABPATH_HOME": str(ws)}
    check = ["check", "micrograd", "--path", str(lab.solution_dir), "--json"]
    cmd = [sys.executable, "-m", "labpath", *check, "--no-prompt"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    import json

    plots = [
        tuple(a for r in json.loads(o)["results"] for a in r["artifacts"]) for o in outs
    ]
    assert all(plots), plots
    assert set(plots[0]).isdisjoint(plots[1])
    folders = {os.path.dirname(p[0]) for p in plots}
    assert len(folders) == 2


@pytest.mark.torch
@pytest.mark.parametrize("how", ["check", "watch"])
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_stopping_labpath_stops_the_learner_code(how, sig, cli, ws, tmp_path):
    assert cli("init", ws).exit_code == 0
    pidfile = tmp_path / "pids"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LABPATH_HOME": str(ws)}
    env["LABPATH_TEST_PIDFILE"] = str(pidfile)
    args = [
        how,
        "micrograd",
        "--path",
        str(SAMPLES / "hang_with_child"),
        "--timeout",
        "300",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "labpath", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a terminal's Ctrl-C reaches labpath alone, as here
    )
    try:
        deadline = time.monotonic() + 180
        while not pidfile.exists():
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the learner's code never started"
            time.sleep(0.05)
        learner, child = (int(p) for p in pidfile.read_text().split())
        proc.send_signal(getattr(signal, sig))
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # After SIGKILL labpath runs no code: the kernel ends the check process, which
    # it was told to at start; the learner's own child is swept by the next run.
    expect_dead = [learner] if sig == "SIGKILL" else [learner, child]
    assert _wait_dead(expect_dead) == [], f"learner code survived {sig} during {how}"
    if sig == "SIGKILL":
        runner.sweep_orphans()  # what every run does first
        assert _wait_dead([child], 5) == []


@pytest.mark.torch
def test_an_lstm_that_zeroes_the_given_state_in_place_fails():
    lstm = labs.load("lstm")
    check = ["test_layer_matches_torch_lstm"]
    report = run_checks(lstm, DATA / "lstm" / "zeroes_state", select=check)
    assert report.status == "failed", report.message
    assert "changed the (h_0, c_0) it was given" in report.results[0].what
    assert run_checks(lstm, lstm.solution_dir, select=check).status == "passed"


@pytest.mark.torch
def test_torch_reached_through_importlib_is_forbidden_use():
    report = run_checks(LAB, SAMPLES / "torch_via_importlib", select=AROUND_TANH)
    assert report.status == "failed"
    first = report.results[0]
    assert "your code uses torch, which this lab forbids" in first.message


@pytest.mark.torch
def test_torchs_lstm_kernel_by_its_aten_name_is_forbidden_use():
    lstm = labs.load("lstm")
    check = ["test_layer_matches_torch_lstm"]
    report = run_checks(lstm, DATA / "lstm" / "private_kernel", select=check)
    assert report.status == "failed", report.message
    assert "torch.ops.aten.lstm" in report.results[0].message


def test_no_writable_temporary_folder_is_an_environment_error_not_the_code(tmp_path):
    # A file-size limit of 0 makes every temporary folder unusable, as a full disk does.
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))\n"
        "from labpath.cli import main\n"
        "sys.argv = ['labpath', 'check', 'micrograd', '--path', sys.argv[1]]\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-c", code, str(LAB.solution_dir)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 3, done.stderr
    assert "Error: cannot create a temporary folder in" in done.stderr
    assert "(not your code)" in done.stderr and "Hint: point TMPDIR" in done.stderr
    assert "Traceback" not in done.stderr and "bug in labpath" not in done.stderr


# --- whose mistake, reported once, and what to fix first -----------------------------


def _learner_file(tmp_path, text):
    (tmp_path / "learner.py").write_text(text)
    spec = __import__("importlib.util").util.spec_from_file_location(
        "learner_for_classify", tmp_path / "learner.py"
    )
    module = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.torch
def test_not_implemented_inside_torch_is_a_mistake_not_a_gap(tmp_path, monkeypatch):
    from labpath.checks import _harness, kit

    monkeypatch.setattr(kit, "_TARGET", None)
    kit.use_target(tmp_path)
    module = _learner_file(
        tmp_path,
        "import torch\n\n"
        "def todo():\n    raise NotImplementedError\n\n"
        "def wrong():\n    return torch.nn.Module()(torch.zeros(2))\n",
    )
    for fn, outcome in ((module.todo, "not_started"), (module.wrong, "failed")):
        try:
            fn()
        except NotImplementedError as exc:
            result = _harness.classify(exc, "call")
        assert result["outcome"] == outcome, result
    assert "learner.py:7 in wrong" in result["learner_location"]
    assert "NotImplementedError" in result["message"]


@pytest.mark.torch
def test_one_import_error_is_reported_once_with_file_and_line():
    report = run_checks(LAB, SAMPLES / "syntax_error")
    assert report.status == "failed"
    assert report.count("failed") == 1
    assert "engine.py:2: SyntaxError" in report.results[0].message
    first = report.results[0].name
    rest = report.results[1:]
    assert rest and all(r.outcome == "skipped" for r in rest)
    assert all(f"fix {first} first" in r.message for r in rest)


def test_a_check_that_builds_on_a_failed_one_is_skipped_without_running(tmp_path):
    import shutil

    lab_dir = tmp_path / "lab"
    shutil.copytree(LAB.directory, lab_dir)
    ran = tmp_path / "ran"
    (lab_dir / "checks" / "test_engine.py").write_text(
        "from labpath.checks import kit\n\n"
        "def test_value_exists(Value):\n"
        "    kit.fail('Value(1) has no .data')\n\n"
        "@kit.after('test_value_exists')\n"
        "def test_slow_training(Value):\n"
        f"    open({str(ran)!r}, 'w').close()\n\n"
        "@kit.after('test_value_exists')\n"
        "def test_not_selected(Value):\n"
        "    pass\n"
    )
    lab = labs.Lab(**{**LAB.__dict__, "directory": lab_dir})
    report = run_checks(lab, LAB.solution_dir)
    assert report.status == "failed"
    slow = by_name(report)["test_slow_training"]
    assert slow.outcome == "skipped"
    assert (
        slow.message == "skipped: fix test_value_exists first (this check builds on it)"
    )
    assert not ran.exists()
    # run alone (as `dev check` runs a bug's named check) it runs
    alone = run_checks(lab, LAB.solution_dir, select=["test_slow_training"])
    assert alone.status == "passed" and ran.exists()


def test_the_summary_leads_with_the_first_failure_that_names_a_mistake():
    from labpath.checks.result import CheckReport, CheckResult

    plain = CheckResult("test_a", "failed", message="TypeError")
    named = CheckResult("test_b", "failed", diagnosis="`=` instead of `+=`")
    report = CheckReport("micrograd", ".", "failed", (plain, named))
    assert report.lead is named
    assert CheckReport("micrograd", ".", "failed", (plain,)).lead is plain


# --- loading the learner's modules -------------------------------------------------


def _load(target, code, *paths):
    path = os.pathsep.join([str(ROOT), *map(str, paths)])
    env = {**os.environ, "LABPATH_TARGET": str(target), "PYTHONPATH": path}
    cmd = [sys.executable, "-c", code]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_a_flat_regex_py_is_checked_and_the_installed_regex_stays_itself():
    loader = DATA / "loader"
    code = (
        "import regex\n"  # the installed package is imported first, as a library would
        "from labpath.checks import kit\n"
        "m = kit.learner_module('regex', package='minbpe')\n"
        "t = m.RegexTokenizer()\n"
        "import sys\n"
        "assert t.uses_installed_regex, 'regex.py imported itself'\n"
        "assert sys.modules['regex'].INSTALLED\n"
        "print('ok', type(t).__mro__[1].__name__)\n"
    )
    done = _load(loader / "flat_regex", code, loader / "site")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok Tokenizer"


def test_a_namespace_package_repository_imports_itself():
    loader = DATA / "loader"
    code = (
        "from labpath.checks import kit\n"
        "m = kit.learner_module('basic', package='minbpe')\n"
        "print(m.BasicTokenizer.__mro__[1].__module__)\n"
    )
    for target in (loader / "namespace_repo", loader / "namespace_repo" / "minbpe"):
        done = _load(target, code)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "minbpe.base"


def test_a_forbidden_module_only_imported_by_the_package_does_not_trip():
    target = DATA / "loader" / "imports_forbidden"
    code = (
        "import os\n"
        "from pathlib import Path\n"
        "from labpath.checks import _harness, forbid, kit\n"
        "root = Path(os.environ['LABPATH_TARGET'])\n"
        "forbid.install([{'name': 'tiktoken', 'why': 'write BPE'}], [root], None,\n"
        "               _harness.record_forbidden)\n"
        "m = kit.learner_module('basic', package='minbpe')\n"
        "assert m.BasicTokenizer().encode('hi') == [104, 105]\n"
        "gpt4 = kit.learner_module('gpt4', package='minbpe')\n"
        "try:\n"
        "    gpt4.GPT4Tokenizer()\n"
        "except _harness.ForbiddenUse as exc:\n"
        "    print(exc)\n"
    )
    done = _load(target, code)
    assert done.returncode == 0, done.stderr
    assert "your code uses tiktoken, which this lab forbids" in done.stdout


@pytest.mark.torch
def test_a_shape_mistake_met_while_building_the_reference_is_the_learners(monkeypatch):
    import torch

    from labpath.checks import _harness

    try:  # what building a twin from a (4, 3) weight given as (3, 4) raises
        torch.zeros(2, 3) @ torch.zeros(4, 5)
    except RuntimeError as exc:
        result = _harness.classify(exc, "setup")
    assert result["outcome"] == "failed", result
    assert "your model's parameter shapes do not fit" in result["message"]
    try:
        {}["labpath's own bug"]
    except KeyError as exc:
        assert _harness.classify(exc, "setup")["outcome"] == "error"


@pytest.mark.torch
def test_one_interface_mistake_is_named_once_not_as_a_cascade_of_type_errors():
    mlp = labs.load("mlp")
    interface = "test_layer_returns_value_for_one_neuron"
    later = ["test_forward_matches_torch_mlp", "test_gradients_match_torch"]
    micrograd = {"micrograd": labs.load("micrograd").solution_dir}
    report = run_checks(
        mlp,
        DATA / "mlp" / "layer_returns_list",
        select=[interface, *later],
        uses=micrograd,
    )
    assert report.status == "failed", report.message
    got = by_name(report)
    assert got[interface].outcome == "failed"
    assert "must be a single Value" in got[interface].what
    for name in later:
        assert got[name].outcome == "skipped"
        assert (
            got[name].message
            == f"skipped: fix {interface} first (this check builds on it)"
        )


LOOP = """import time


def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "escaped"


def stubborn(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            time.sleep(0.001)
        except Exception:  # swallows every error of the loop's body
            pass
    return "escaped"
"""


def _learner_loop(tmp_path, monkeypatch):
    """A learner's module whose spin() only ends after the seconds it is given, so a
    test of the timer cannot hang if the timer never rings."""
    import importlib.util

    from labpath.checks import kit

    (tmp_path / "loop.py").write_text(LOOP)
    monkeypatch.setattr(kit, "_TARGET", tmp_path.resolve())
    spec = importlib.util.spec_from_file_location("learner_loop", tmp_path / "loop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _no_timer_left(before) -> bool:
    return signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and (
        signal.getsignal(signal.SIGALRM) is before
    )


def test_a_learner_loop_past_its_limit_fails_its_check_at_the_line_it_was_on(
    tmp_path, monkeypatch
):
    from labpath.checks import kit

    loop = _learner_loop(tmp_path, monkeypatch)
    before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    with pytest.raises(kit.CheckOverrun) as failure:
        with kit.within(0.2, "spin(5)", hint="end the loop"):
            loop.spin(5)
    assert time.monotonic() - start < 2
    fields = failure.value.fields
    assert fields["what"] == "spin(5) did not return within 0.2s"
    assert fields["where"] in ("loop.py:6 in spin", "loop.py:7 in spin")
    assert fields["hint"] == "end the loop"
    assert _no_timer_left(before)


def test_a_block_within_its_limit_runs_to_the_end_and_leaves_no_timer(
    tmp_path, monkeypatch
):
    from labpath.checks import kit

    loop = _learner_loop(tmp_path, monkeypatch)
    before = signal.getsignal(signal.SIGALRM)
    with kit.within(5, "spin(0.05)"):
        assert loop.spin(0.05) == "escaped"
    assert _no_timer_left(before)
    with pytest.raises(ZeroDivisionError), kit.within(5, "a division"):
        1 / 0  # noqa: B018
    assert _no_timer_left(before)
    with kit.within(0.1, "spin(0.05)"):
        loop.spin(0.05)
    assert loop.spin(0.2) == "escaped"  # a timer left running would ring in here
    assert _no_timer_left(before)


def test_torchs_allocator_out_of_memory_is_named_as_such():
    from labpath.checks import _harness

    exc = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
        "allocate memory: you tried to allocate 3221225472 bytes. Error code 12 "
        "(Cannot allocate memory)"
    )
    result = _harness.classify(exc, "call")
    assert result["outcome"] == "failed"
    assert result["message"] == "your code ran out of memory (torch asked for 3.0 GiB)"
    assert "a loop that never ends while it keeps appending" in result["hint"]
    other = _harness.classify(
        RuntimeError("mat1 and mat2 shapes cannot be multiplied"), "call"
    )
    assert "out of memory" not in other["message"] and "hint" not in other


def test_a_block_whose_key_overran_before_fails_at_once(tmp_path, monkeypatch):
    from labpath.checks import kit

    loop = _learner_loop(tmp_path, monkeypatch)
    monkeypatch.setattr(kit, "_OVERRAN", {})
    with pytest.raises(kit.CheckOverrun) as first:
        with kit.within(0.2, "spin(5)", key="spin"):
            loop.spin(5)
    start = time.monotonic()
    with pytest.raises(kit.CheckOverrun) as again:
        with kit.within(0.2, "spin(1)", key="spin"):
            loop.spin(1)
    assert time.monotonic() - start < 0.1
    assert again.value.fields["what"] == (
        "spin(1) not run: spin(5) did not return within 0.2s in an earlier check"
    )
    assert again.value.fields["where"] == first.value.fields["where"]
    with kit.within(5, "spin(0.01)", key="other"):  # another key is not held back
        loop.spin(0.01)


def test_a_learner_loop_that_swallows_every_exception_still_fails_at_its_limit(
    tmp_path, monkeypatch
):
    from labpath.checks import kit

    loop = _learner_loop(tmp_path, monkeypatch)
    start = time.monotonic()
    with pytest.raises(kit.CheckOverrun) as failure:
        with kit.within(0.2, "stubborn(5)"):
            loop.stubborn(5)
    assert time.monotonic() - start < 2
    assert failure.value.fields["where"].startswith("loop.py:")
    assert failure.value.fields["where"].endswith(" in stubborn")


class _Item:
    """What the plugin reads of a collected check: its name and its kit.after marker."""

    def __init__(self, name, *after):
        self.name = self.originalname = name
        self.after = after

    def get_closest_marker(self, marker):
        assert marker == "labpath_after"
        return type("Mark", (), {"args": self.after})() if self.after else None


def test_a_check_that_builds_on_a_later_one_is_moved_behind_it():
    from labpath.checks.plugin import _builds_on_last

    items = [
        _Item("test_train", "test_parse", "test_window"),
        _Item("test_plot", "test_train"),
        _Item("test_parse"),
        _Item("test_window"),
        _Item("test_other"),
    ]
    _builds_on_last(items)
    order = [i.name for i in items]
    assert order == [
        "test_parse",
        "test_window",
        "test_train",
        "test_plot",
        "test_other",
    ]
    in_order = [_Item("a"), _Item("b", "a"), _Item("c"), _Item("d", "c")]
    _builds_on_last(in_order)
    assert [i.name for i in in_order] == ["a", "b", "c", "d"]
    loop = [_Item("x", "y"), _Item("y", "x")]
    _builds_on_last(loop)  # a cycle ends, in some order
    assert sorted(i.name for i in loop) == ["x", "y"]
