"""hint, reset, solution, check --all, --open, forbidden APIs, doctor and dev check."""

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from labpath import labs
from labpath.checks.runner import run_checks

from .conftest import DATA, commits, git

LAB = labs.load("micrograd")
SOLUTION = LAB.solution_dir / "engine.py"


def test_hints_come_in_three_tiers_and_are_recorded(cli, started):
    names = []
    for _ in range(4):
        result = cli("hint", "--json")
        assert result.exit_code == 0, result.output
        names.append(json.loads(result.stdout)["name"])
    assert names == ["nudge", "concept", "near-solution", "near-solution"]
    events = [
        json.loads(x)
        for x in (started / ".labpath" / "progress.jsonl").read_text().splitlines()
    ]
    assert [e["level"] for e in events if e["event"] == "hint"] == [1, 2, 3]


def test_hint_for_a_task_without_a_lab(cli, started):
    result = cli("hint", "quantize")
    assert result.exit_code == 2 and "no lab 'quantize'" in result.stderr


def test_reset_commits_first_and_the_old_file_comes_back_from_git(cli, started):
    engine = started / "labs" / "micrograd" / "engine.py"
    engine.write_text("# my precious attempt\n")
    notes = started / "notes.txt"  # a file labpath does not own, left uncommitted
    notes.write_text("draft\n")
    result = cli("reset", "--yes")
    assert result.exit_code == 0, result.output
    assert "raise NotImplementedError" in engine.read_text()
    assert commits(started)[:2] == [
        "reset: micrograd back to the starter",
        "reset: save micrograd before restoring the starter",
    ]
    assert notes.read_text() == "draft\n"
    assert "?? notes.txt" in git(started, "status", "--porcelain")
    assert "notes.txt" in result.stdout
    restore = next(
        line.strip() for line in result.stdout.splitlines() if "checkout" in line
    )
    git(started, *restore.split()[3:])
    assert engine.read_text() == "# my precious attempt\n"


def test_reset_asks_and_no_keeps_everything(cli, started):
    engine = started / "labs" / "micrograd" / "engine.py"
    engine.write_text("# mine\n")
    result = cli("reset", input="n\n", env={"LABPATH_ASSUME_TTY": "1"})
    assert result.exit_code == 0, result.output
    assert engine.read_text() == "# mine\n"
    result = cli("reset")
    assert result.exit_code == 2 and "--yes" in result.stderr


def test_reset_of_a_lab_never_scaffolded(cli, started):
    shutil.rmtree(started / "labs" / "micrograd")
    result = cli("reset", "micrograd", "--yes")
    assert result.exit_code == 2 and "nothing to reset" in result.stderr


def test_solution_only_after_a_pass_unless_forced(cli, started, tmp_path):
    result = cli("solution")
    assert result.exit_code == 2 and "unlocks once your checks pass" in result.stderr
    result = cli("solution", "--force", "--copy", tmp_path / "peek")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "peek" / "engine.py").read_text() == SOLUTION.read_text()
    events = [
        json.loads(x)
        for x in (started / ".labpath" / "progress.jsonl").read_text().splitlines()
    ]
    assert events[-1]["event"] == "solution" and events[-1]["forced"] is True
    result = cli("solution", "--force", "--copy", tmp_path / "peek")
    assert result.exit_code == 2 and "already exists" in result.stderr


def test_solution_for_a_task_without_a_lab(cli, started):
    result = cli("solution", "domain-predictor")
    assert result.exit_code == 2 and "no lab 'domain-predictor'" in result.stderr


@pytest.mark.torch
def test_check_open_opens_the_graph_plot(cli, started, isolated):
    shutil.copy(SOLUTION, started / "labs" / "micrograd" / "engine.py")
    log = isolated / "opened.txt"
    opener = isolated / "opener"
    opener.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    opener.chmod(0o755)
    result = cli("check", "micrograd", "--open", env={"LABPATH_OPEN": str(opener)})
    assert result.exit_code == 0, result.output
    assert "plot:" in result.stdout
    for _ in range(50):
        if log.exists():
            break
        time.sleep(0.1)
    opened = log.read_text().split()
    assert opened and opened[0].endswith("micrograd-graph.svg")
    assert (started / ".labpath" / "artifacts" / "micrograd").is_dir()


@pytest.mark.torch
def test_forbidden_torch_inside_the_engine_fails_every_check():
    report = run_checks(LAB, DATA / "micrograd" / "uses_torch")
    assert report.status == "failed"
    assert report.passed == 0
    first = report.results[0]
    assert "your code uses torch, which this lab forbids" in first.message


@pytest.mark.torch
def test_doctor_reports_versions_and_workspace(cli, started):
    result = cli("doctor", "--json")
    assert result.exit_code == 0, result.output
    names = {f["name"]: f for f in json.loads(result.stdout)["findings"]}
    assert names["torch"]["ok"] and "cpu" in names["devices"]["detail"]
    assert names["workspace git"]["ok"]


def test_doctor_names_the_fix_for_a_workspace_without_git(cli, started):
    shutil.rmtree(started / ".git")
    result = cli("doctor")
    assert result.exit_code == 1
    assert "git -C" in result.stdout


@pytest.mark.torch
def test_watch_rechecks_after_a_save(started, tmp_path):
    from labpath import watch as watcher
    from labpath.app import check as checking
    from labpath.app.context import load

    ctx = load()
    target = started / "labs" / "micrograd"
    outcomes = []
    stop = threading.Event()

    def save_fix_later():
        time.sleep(1.0)  # the learner saves a fix once the watcher is waiting
        shutil.copy(SOLUTION, target / "engine.py")

    def on_outcome(outcome):
        outcomes.append(outcome.report.status)
        if len(outcomes) == 1:
            threading.Thread(target=save_fix_later, daemon=True).start()
        else:
            stop.set()

    guard = threading.Timer(240, stop.set)  # never hang the suite
    guard.daemon = True
    guard.start()
    runs = watcher.watch(
        lambda worker: checking.check(ctx, "micrograd", None, worker=worker),
        target,
        on_start=lambda changed: None,
        on_outcome=on_outcome,
        poll=True,
        stop_event=stop,
    )
    guard.cancel()
    assert runs == 2
    assert outcomes == ["not_started", "passed"]


def test_a_save_made_while_the_first_report_prints_is_rechecked(tmp_path, monkeypatch):
    from labpath import watch as watcher
    from labpath.checks import runner

    class NoWorker:  # the stub check needs no warm process
        def start(self):
            pass

        def stop(self):
            pass

    monkeypatch.setattr(runner, "Worker", NoWorker)
    target = tmp_path / "lab"
    target.mkdir()
    (target / "engine.py").write_text("x = 1\n")
    stop = threading.Event()
    seen = []

    def on_outcome(outcome):
        seen.append(outcome)
        if (
            len(seen) == 1
        ):  # saved right after the check, before any watcher could start
            (target / "engine.py").write_text("x = 2  # fixed\n")
        else:
            stop.set()

    guard = threading.Timer(30, stop.set)  # never hang the suite
    guard.daemon = True
    guard.start()
    runs = watcher.watch(
        lambda worker: (target / "engine.py").read_text(),
        target,
        on_start=lambda changed: None,
        on_outcome=on_outcome,
        poll=True,
        stop_event=stop,
    )
    guard.cancel()
    assert runs == 2 and seen == ["x = 1\n", "x = 2  # fixed\n"]


def test_watch_on_a_deleted_folder(cli, started):
    shutil.rmtree(started / "labs" / "micrograd")
    result = cli("watch")
    assert result.exit_code == 2
    assert "cannot watch" in result.stderr


def test_dev_check_unknown_lab(cli):
    result = cli("dev", "check", "micrograt")
    assert result.exit_code == 2 and "did you mean 'micrograd'?" in result.stderr


def test_reset_never_writes_through_a_symlinked_lab_file(cli, started, tmp_path):
    real = tmp_path / "elsewhere" / "engine.py"  # the learner's real file, outside
    real.parent.mkdir()
    real.write_text("# months of work\n")
    engine = started / "labs" / "micrograd" / "engine.py"
    engine.unlink()
    engine.symlink_to(real)
    before = commits(started)
    result = cli("reset", "micrograd", "--yes")
    assert result.exit_code == 2, result.output
    assert "symbolic link" in result.stderr and str(real) in result.stderr
    assert "nothing changed" in result.stderr and "Hint:" in result.stderr
    assert real.read_text() == "# months of work\n" and engine.is_symlink()
    assert commits(started) == before


def test_next_never_writes_through_a_dangling_symlink(cli, ws, tmp_path, workspace):
    folder = ws / "labs" / "micrograd"
    folder.mkdir(parents=True)
    gone = tmp_path / "outside" / "engine.py"
    (folder / "engine.py").symlink_to(gone)
    result = cli("next")
    assert result.exit_code == 0, result.output
    assert not gone.exists() and not gone.parent.exists()
    assert (folder / "engine.py").is_symlink() and (folder / "README.md").is_file()


def test_a_lab_folder_leading_outside_the_workspace_is_refused(
    cli, ws, tmp_path, workspace
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "labs" / "micrograd").symlink_to(outside, target_is_directory=True)
    result = cli("next")
    assert result.exit_code == 2, result.output
    assert "outside the workspace" in result.stderr
    assert not list(outside.iterdir())
    result = cli("reset", "micrograd", "--yes")
    assert result.exit_code == 2 and "outside the workspace" in result.stderr


def _gpt2_run():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gpt2_run", labs.load("gpt2").directory / "run.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.torch
def test_gpt2_run_picks_its_threads_deliberately():
    choose = _gpt2_run().choose_threads
    assert choose(0, 2, 0.0, 2)[0] == 1  # two cores: one thread
    assert choose(0, 1, 0.0, 1)[0] == 1
    assert choose(0, 8, 7.5, 8)[0] == 1  # a busy machine
    assert choose(0, 8, 2.0, 8)[0] == 6 and choose(0, 16, 0.0, 8)[0] == 8
    assert choose(3, 2, 9.0, 2) == (3, "--threads")
    assert choose(0, 8, 0.0, 8, "2") == (2, "OMP_NUM_THREADS")


@pytest.mark.torch
def test_gpt2_run_says_its_threads_and_labels_wall_and_training_speed(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "text.txt"
    data.write_text("hello world, a tiny corpus for a tiny model\n" * 40)
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_NUM_THREADS"}
    gpt2 = labs.load("gpt2")
    tiny = "--steps 3 --eval-every 3 --eval-iters 1 --batch-size 2 --block-size 8"
    tiny += " --n-layer 1 --n-head 1 --n-embd 8 --warmup 1 --device cpu"
    cmd = [sys.executable, str(gpt2.directory / "run.py"), *tiny.split()]
    cmd += ["--path", str(gpt2.solution_dir), "--data", str(data)]
    cmd += ["--out", str(tmp_path / "out")]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**env, "COLUMNS": "40"}, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "CPU thread(s) (" in proc.stdout
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("wall clock:")]
    assert "tokens/s (evals included)" in line and "training steps only:" in line
    assert line.rstrip().endswith("CPU thread(s)")  # one line, even in a narrow pipe
    figures = json.loads((tmp_path / "out" / "gpt2-figures.json").read_text())
    training = figures["training"]
    assert training["threads_why"] and training["wall_tokens_per_second"] > 0
    assert training["wall_tokens_per_second"] <= training["tokens_per_second"]


@pytest.mark.torch
def test_gpt2_run_without_the_experiment_only_trains_and_plots_each_step(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "text.txt"
    data.write_text("hello world, a tiny corpus for a tiny model\n" * 40)
    gpt2 = labs.load("gpt2")
    tiny = "--steps 4 --eval-every 2 --eval-iters 1 --batch-size 2 --block-size 8"
    tiny += " --n-layer 1 --n-head 1 --n-embd 8 --warmup 1 --device cpu --no-experiment"
    cmd = [sys.executable, str(gpt2.directory / "run.py"), *tiny.split()]
    cmd += ["--path", str(gpt2.solution_dir), "--data", str(data)]
    cmd += ["--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "longer contexts" not in proc.stdout
    figures = json.loads((tmp_path / "out" / "gpt2-figures.json").read_text())
    assert figures["longer_context"] is None
    assert [h["step"] for h in figures["history"]] == [0, 2, 4]
    assert (tmp_path / "out" / "gpt2-loss.png").stat().st_size > 0
    assert not (tmp_path / "out" / "gpt2-context.png").exists()


@pytest.mark.torch
def test_a_check_outside_any_workspace_keeps_the_plots_it_names(
    cli, isolated, tmp_path, monkeypatch
):
    import json

    from labpath.app import check as check_app

    monkeypatch.setenv("LABPATH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(check_app, "KEPT_WITHOUT_WORKSPACE", 2)
    shown = []
    for _ in range(3):
        r = cli("check", "micrograd", "--path", SOLUTION.parent, "--json")
        assert r.exit_code == 0, r.output
        (plot,) = {
            p for res in json.loads(r.stdout)["results"] for p in res["artifacts"]
        }
        assert Path(plot).is_file() and Path(plot).is_relative_to(tmp_path / "cache")
        shown.append(Path(plot).parent)
    kept = sorted((tmp_path / "cache" / "artifacts" / "micrograd").iterdir())
    assert kept == shown[-2:]  # the oldest attempt went
    r = cli("check", "micrograd", "--path", SOLUTION.parent)
    plots = [line for line in r.stdout.splitlines() if line.startswith("plot:")]
    assert len(plots) == 1 and Path(plots[0].split(" ", 1)[1]).is_file()


def test_a_plot_several_checks_name_is_listed_once(capsys):
    from labpath.app.check import CheckOutcome
    from labpath.checks.result import CheckReport, CheckResult
    from labpath.ui.check import check_report

    results = tuple(
        CheckResult(
            name=n, outcome="passed", artifacts=("/r/figures.json", f"/r/{n}.png")
        )
        for n in ("test_a", "test_b")
    )
    report = CheckReport(
        lab="retrieval", target="/mine", status="passed", results=results
    )
    outcome = CheckOutcome(report=report, task=None, recorded=False)
    assert outcome.plots == ["/r/figures.json", "/r/test_a.png", "/r/test_b.png"]
    check_report(outcome)
    shown = [line for line in capsys.readouterr().out.splitlines() if "plot:" in line]
    assert [line.split()[-1] for line in shown] == outcome.plots
