"""The warm check server: a second `labpath check` runs in a worker that stays warm, and
reports exactly what a cold run does. Real processes and a real Unix socket."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from labpath import devcheck, labs, labspec
from labpath.checks import warm

pytestmark = pytest.mark.torch

LAB = labs.load("micrograd")
# A mistake whose failures do not depend on the order of a set of nodes (a gradient
# assigned with = instead of += fails differently from run to run, cold or warm).
TANH = next(b for b in labspec.read_bugs(LAB) if b.id == "tanh-derivative-uses-input")
LABPATH = [sys.executable, "-m", "labpath"]


@pytest.fixture()
def server_env(monkeypatch):
    # a short folder: a socket's path must fit in 108 bytes, and tmp_path's may not
    runtime = Path(tempfile.mkdtemp(prefix="lp-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("LABPATH_CHECK_SERVER", "1")
    monkeypatch.setenv("LABPATH_CHECK_SERVER_IDLE", "120")
    env = dict(os.environ)
    yield env
    for sock in (runtime / "labpath").glob("checks-*.sock"):
        answer = warm.ping(sock)
        warm.stop(sock)
        if answer and answer.get("pid"):
            _wait_gone(answer["pid"])
    shutil.rmtree(runtime, ignore_errors=True)


def _wait_gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _children(pid: int) -> list[int]:
    """The pids whose parent is pid (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _ready(env, within: float = 90.0) -> Path:
    """The server's socket once it answers (its worker has imported torch)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = list((Path(env["XDG_RUNTIME_DIR"]) / "labpath").glob("checks-*.sock"))
        if found and warm.ping(found[0]):
            return found[0]
        time.sleep(0.2)
    raise AssertionError("no check server answered")


def _slow_check(env, folder, pidfile, seconds, *extra):
    """`labpath check` started on the solution made to sleep at import; returns the
    process and, once the run has begun, the pid of the run importing the code."""
    solution = (LAB.solution_dir / "engine.py").read_text()
    slow = (
        f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        f"time.sleep({seconds})\n"
    )
    (folder / "engine.py").write_text(slow + solution)
    proc = subprocess.Popen(
        [*LABPATH, "check", "micrograd", "--path", str(folder), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (
        not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    return proc, int(pidfile.read_text())


def check(env, folder, *extra, timeout=180):
    return subprocess.run(
        [*LABPATH, "check", "micrograd", "--path", str(folder), "--json", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _comparable(report: dict) -> list[dict]:
    drop = ("duration", "artifacts")
    return [{k: v for k, v in r.items() if k not in drop} for r in report["results"]]


def test_a_second_check_runs_warm_and_reports_what_a_cold_one_does(
    server_env, tmp_path
):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "engine.py").write_text(devcheck.bugged(LAB, TANH))
    cold = check(server_env, folder)
    assert cold.returncode == 1, cold.stderr
    first = json.loads(cold.stdout)
    assert first["warm"] is False and first["status"] == "failed"
    sock = _ready(server_env)
    doctor = subprocess.run(
        [*LABPATH, "doctor"], env=server_env, capture_output=True, text=True
    )
    pid = warm.ping(sock)["pid"]
    assert f"check server: warm (pid {pid}, idle; {sock})" in " ".join(
        doctor.stdout.split()
    )
    assert sock.stat().st_mode & 0o777 == 0o600
    assert sock.parent.stat().st_mode & 0o777 == 0o700
    hot = check(server_env, folder)
    assert hot.returncode == 1, hot.stderr
    second = json.loads(hot.stdout)
    assert second["warm"] is True
    assert _comparable(second) == _comparable(first)
    tanh = [r for r in second["results"] if r["name"] == "test_tanh_matches_torch"]
    assert "1 - t**2 with the output t" in tanh[0]["diagnosis"]
    # fixed: the same server runs the new code, and the text report says it ran warm
    (folder / "engine.py").write_text((LAB.solution_dir / "engine.py").read_text())
    text = subprocess.run(
        [*LABPATH, "check", "micrograd", "--path", str(folder)],
        env=server_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert text.returncode == 0, text.stderr
    assert " · warm" in text.stdout.splitlines()[0] and "PASSED 20/20" in text.stdout
    off = check({**server_env, "LABPATH_CHECK_SERVER": "0"}, folder)
    assert off.returncode == 0 and json.loads(off.stdout)["warm"] is False


def test_ctrl_c_during_a_warm_run_ends_it_and_the_server_serves_the_next(
    server_env, tmp_path
):
    folder = tmp_path / "mine"
    folder.mkdir()
    solution = (LAB.solution_dir / "engine.py").read_text()
    (folder / "engine.py").write_text(solution)
    assert check(server_env, folder).returncode == 0
    sock = _ready(server_env)
    proc, run_pid = _slow_check(server_env, folder, tmp_path / "run.pid", 60)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert _wait_gone(run_pid), "the interrupted run outlived labpath"
    # The run's end still travels from the worker to the server's thread (moments).
    deadline = time.monotonic() + 5
    while warm.ping(sock)["busy"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert warm.ping(sock) == {"pid": warm.ping(sock)["pid"], "busy": False}
    (folder / "engine.py").write_text(solution)
    again = check(server_env, folder)
    assert again.returncode == 0 and json.loads(again.stdout)["warm"] is True


def test_a_socket_left_by_a_killed_server_is_replaced(server_env, tmp_path):
    where = "from labpath.checks import warm; print(warm.socket_path())"
    path = Path(
        subprocess.run(
            [sys.executable, "-c", where],
            env=server_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    path.parent.mkdir(mode=0o700, parents=True)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))  # bound, never listening: what a SIGKILLed server leaves
    dead.close()
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "engine.py").write_text((LAB.solution_dir / "engine.py").read_text())
    first = check(server_env, folder)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["warm"] is False
    assert _ready(server_env) == path
    assert json.loads(check(server_env, folder).stdout)["warm"] is True


def test_an_idle_server_ends_and_takes_its_socket_and_worker_with_it(
    server_env, tmp_path
):
    env = {**server_env, "LABPATH_CHECK_SERVER_IDLE": "3"}
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "engine.py").write_text((LAB.solution_dir / "engine.py").read_text())
    assert check(env, folder).returncode == 0
    sock = _ready(env)
    pid = warm.ping(sock)["pid"]
    workers = _children(pid)
    assert workers, "the server holds a worker"
    assert _wait_gone(pid, within=30), "an idle server stayed"
    assert not sock.exists()
    assert all(_wait_gone(w) for w in workers)


def test_no_server_when_turned_off_or_without_a_private_folder(
    monkeypatch, tmp_path, cli
):
    monkeypatch.setenv("LABPATH_CHECK_SERVER", "0")
    assert warm.client() is None
    assert "check server: off (LABPATH_CHECK_SERVER=0)" in cli("doctor").stdout
    monkeypatch.setenv("LABPATH_CHECK_SERVER", "1")
    shared = Path(tempfile.mkdtemp(prefix="lp-"))
    os.chmod(shared, 0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    (shared / "labpath").symlink_to(tmp_path)  # someone else's link: never used
    assert warm.client() is None
    path = warm.socket_path()
    warm.start(path)
    time.sleep(1)
    assert not list(tmp_path.glob("checks-*.sock"))
    shutil.rmtree(shared)


def test_a_check_started_while_the_server_is_busy_runs_cold(server_env, tmp_path):
    solution = (LAB.solution_dir / "engine.py").read_text()
    mine, other = tmp_path / "mine", tmp_path / "other"
    for folder in (mine, other):
        folder.mkdir()
        (folder / "engine.py").write_text(solution)
    assert check(server_env, mine).returncode == 0
    sock = _ready(server_env)
    busy, _ = _slow_check(server_env, mine, tmp_path / "run.pid", 6, "--json")
    assert warm.ping(sock)["busy"] is True
    meanwhile = check(server_env, other)
    assert meanwhile.returncode == 0, meanwhile.stderr
    assert json.loads(meanwhile.stdout)["warm"] is False
    out, _ = busy.communicate(timeout=120)
    assert busy.returncode == 0
    report = json.loads(out)
    assert report["warm"] is True and report["status"] == "passed"


def test_python_and_python3_of_one_environment_share_one_server(server_env):
    """The console script's shebang names python3; a learner's shell may run python."""
    here = Path(sys.executable)
    twins = [p for p in (here.parent / "python", here.parent / "python3") if p.exists()]
    if len(twins) < 2:
        pytest.skip("this environment has no python/python3 pair")
    where = "from labpath.checks import warm; print(warm.socket_path())"
    paths = {
        subprocess.run(
            [str(twin), "-c", where],
            env=server_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for twin in twins
    }
    assert len(paths) == 1, paths


def test_next_starts_the_server_so_the_first_check_of_the_lab_is_warm(
    server_env, tmp_path
):
    env = {**server_env, "LABPATH_HOME": str(tmp_path / "ws"), "NO_COLOR": "1"}
    run = lambda *args: subprocess.run(
        [*LABPATH, *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert run("init").returncode == 0
    shown = run("next", "--json")  # its output is whole although a copy lives on
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["lab"] == "micrograd"
    sock = _ready(server_env)
    mine = tmp_path / "ws" / "labs" / "micrograd" / "engine.py"
    mine.write_text((LAB.solution_dir / "engine.py").read_text())
    first = run("check", "micrograd", "--json", "--no-prompt")
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads(first.stdout)
    assert report["warm"] is True and report["status"] == "passed"
    assert warm.ping(sock)["pid"]  # the same server, still serving


def test_next_starts_no_server_when_servers_are_off(server_env, tmp_path):
    env = {
        **server_env,
        "LABPATH_HOME": str(tmp_path / "ws"),
        "LABPATH_CHECK_SERVER": "0",
    }
    for args in (["init"], ["next"], ["start", "mlp"]):
        done = subprocess.run(
            [*LABPATH, *args], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    folder = Path(server_env["XDG_RUNTIME_DIR"]) / "labpath"
    deadline = time.monotonic() + 5  # a server binds its socket well within this
    while time.monotonic() < deadline:
        assert not list(folder.glob("checks-*.sock"))
        time.sleep(0.25)


def test_the_server_starts_from_a_folder_whose_files_shadow_the_standard_library(
    server_env, tmp_path, monkeypatch
):
    from labpath.checks import prestart

    where = tmp_path / "mine"
    where.mkdir()
    for name in ("socket", "json", "hashlib"):  # what finding the server imports
        (where / f"{name}.py").write_text(f"raise ImportError('my own {name}.py')\n")
    monkeypatch.chdir(where)
    prestart.start_soon()
    assert warm.ping(_ready(server_env, within=60))["pid"]
