"""Plots a learner debugs with: micrograd's graph against the reference, loss figures,
and run plots attached to a journal entry."""

import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labpath import bugedit, labs, labspec, plots

# the graph data come from the micrograd checks, which need torch
pytestmark = pytest.mark.torch

MICROGRAD = labs.load("micrograd")


@pytest.fixture(scope="module")
def graph():
    """micrograd_graph from the lab's checks folder, as a check imports it."""
    sys.path.insert(0, str(MICROGRAD.checks_dir))
    try:
        import micrograd_graph
    finally:
        sys.path.remove(str(MICROGRAD.checks_dir))
    return micrograd_graph


def engine(bug_id: str | None = None) -> types.ModuleType:
    """The reference engine.py, with one catalogued bug applied when bug_id is given."""
    text = (MICROGRAD.directory / "solution" / "engine.py").read_text()
    if bug_id:
        bug = next(b for b in labspec.read_bugs(MICROGRAD) if b.id == bug_id)
        for old, new in bug.replace:
            text, n = bugedit.apply(text, old, new)
            assert n == 1, bug_id
    module = types.ModuleType(f"engine_{bug_id or 'ok'}")
    exec(compile(text, "engine.py", "exec"), module.__dict__)
    return module


def diamond(a, b):
    c = a * b
    d = c + a
    e = c * d
    return e + c * b


def neuron(x1, x2, w1, w2, b):
    return (x1 * w1 + x2 * w2 + b).tanh()


NEURON = [2.0, 0.0, -3.0, 1.0, 6.8813735870195432]
NEURON_NAMES = ["x1", "x2", "w1", "w2", "b"]


SVG = "{http://www.w3.org/2000/svg}"


def drawn_boxes(path: Path) -> dict:
    """{label: (fill, [its three lines])} for every node box in a drawn SVG."""
    boxes = {}
    for g in ET.parse(path).getroot().iter(f"{SVG}g"):
        lines = [t.text for t in g.iter(f"{SVG}tspan")]
        boxes[lines[0]] = (g.find(f"{SVG}rect").get("fill"), lines)
    return boxes


def model_of(graph, bug, fn, inputs, names="abcdefgh"):
    Value = engine(bug).Value
    out = fn(*(Value(x) for x in inputs))
    out.backward()
    return out, graph.graph_model(out, fn, inputs, names)


def test_correct_engine_flags_nothing_and_names_nodes_like_the_lecture(graph):
    _, model = model_of(graph, None, diamond, [1.5, -0.8])
    labels = {n.label for n in model.nodes}
    assert {"a", "b", "c = a * b", "d = c + a", "e = c * d", "f = c * b"} <= labels
    assert "g = e + f" in labels or "g = f + e" in labels
    assert model.flagged() == set()
    assert all(n.expected is not None for n in model.nodes)


def test_add_overwriting_grad_flags_the_reused_node_and_what_it_feeds(graph, tmp_path):
    out, model = model_of(graph, "add-overwrites-grad", diamond, [1.5, -0.8])
    # d = c + a assigns c.grad, dropping what e and f gave c; a and b inherit the error
    assert model.flagged() == {"c = a * b", "a", "b"}
    assert model.first_wrong() == {"c = a * b"}
    path = tmp_path / "graph.svg"
    assert graph.draw_graph(out, path, diamond, [1.5, -0.8])
    boxes = drawn_boxes(path)
    # every node drawn once, coloured as the model says, its grad and expected grad shown
    assert sorted(boxes) == sorted(n.label for n in model.nodes)
    assert boxes["c = a * b"][0] == graph.FIRST
    assert boxes["a"][0] == boxes["b"][0] == graph.WRONG
    assert boxes["d = c + a"][0] == graph.OK
    c = next(n for n in model.nodes if n.label == "c = a * b")
    assert (
        boxes["c = a * b"][1][2]
        == f"\u2717 grad {c.grad:.4g} | expected {c.expected:.4g}"
    )
    assert "(3 wrong)" in ET.parse(path).getroot().findtext(f"{SVG}title")


def test_wrong_tanh_derivative_flags_the_nodes_below_tanh(graph, tmp_path):
    out, model = model_of(
        graph, "tanh-derivative-uses-input", neuron, NEURON, NEURON_NAMES
    )
    first = model.first_wrong()
    assert len(first) == 1 and first.pop().endswith("+ b")  # n = x1w1 + x2w2 + b
    tanh = next(n for n in model.nodes if "tanh(" in n.label)
    assert not tanh.flagged  # the output's own grad (1) is right
    # x2 = 0 makes dw2 = 0 whatever arrives from above: right by luck, not flagged
    assert model.flagged() >= {"b", "x1", "w1", "x2"}
    assert "w2" not in model.flagged()
    path = tmp_path / "neuron.svg"
    assert graph.draw_graph(out, path, neuron, NEURON, NEURON_NAMES)
    boxes = drawn_boxes(path)
    assert {label for label, (face, _) in boxes.items() if face != graph.OK} == (
        model.flagged()
    )
    # one arrow per distinct edge
    edges = ET.parse(path).getroot().findall(f"{SVG}polyline")
    assert len(edges) == sum(len(n.children) for n in model.nodes)


def test_a_value_without_prev_draws_nothing(graph, tmp_path):
    class Bare:
        data, grad = 1.0, 0.0

    assert not graph.draw_graph(Bare(), tmp_path / "x.svg")
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize("n_ops", [6, 20, 45])
def test_no_edge_crosses_a_box_on_random_graphs(graph, n_ops):
    import random

    sys.path.insert(0, str(MICROGRAD.checks_dir))
    try:
        import micrograd_ref
    finally:
        sys.path.remove(str(MICROGRAD.checks_dir))
    micrograd_ref.kit = types.SimpleNamespace(has=lambda cls, name: hasattr(cls, name))
    Value = engine().Value
    for seed in range(5):
        leaves, steps = micrograd_ref.random_program(random.Random(seed), Value, n_ops)
        out = micrograd_ref.evaluate(steps, [Value(x) for x in leaves])
        out.backward()
        lay = graph.layout(graph.graph_model(out))
        assert plots.crossings(lay) == []
        assert len(lay.routes) == sum(
            len(set(v._prev)) for v in graph.learner_nodes(out)
        )
        # every edge runs left to right, from its source's right side to its target's left
        for s, t, points in lay.routes:
            assert points[0][0] == lay.boxes[s][0] + plots.BOX_W / 2
            assert points[-1][0] == lay.boxes[t][0] - plots.BOX_W / 2
            assert all(p[0] <= q[0] for p, q in zip(points, points[1:]))


def test_the_crossing_test_sees_a_segment_through_a_box():
    box = (0.0, 0.0, 2.0, 1.0)
    assert plots.segment_enters_box((-3, 0), (3, 0), box)
    assert plots.segment_enters_box((-3, -3), (3, 3), box)
    assert not plots.segment_enters_box((-3, 2), (3, 2), box)
    assert not plots.segment_enters_box((1, 0), (3, 0), box)  # starts on the outline
    straight = plots.Layout(
        {"a": (0, 0, 2, 1), "b": (6, 0, 2, 1), "c": (3, 0, 2, 1)},
        [("a", "b", [(1, 0), (5, 0)])],
    )
    assert plots.crossings(straight) == [(("a", "b"), "c")]


def test_loss_figure_is_written(tmp_path):
    path = tmp_path / "loss.png"
    steps = list(range(200))
    assert plots.loss_figure(
        path,
        train={"train (each step)": (steps, [3 / (1 + s / 20) for s in steps])},
        evals={"val": ([0, 100, 199], [3.0, 0.7, 0.5])},
        title="t",
    )
    assert path.stat().st_size > 5_000


def test_loading_plots_does_not_load_matplotlib():
    code = "import sys, labpath.plots; print('matplotlib' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# --- runs attached to a journal entry --------------------------------------------------


def _recorded_run(ws, lab, stamp, names=("loss.png",)):
    """A run folder as `labpath run LAB` leaves it: figures, a plot or two, data."""
    folder = ws / ".labpath" / "runs" / lab / stamp
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"\x89PNG " + f"{lab}/{stamp}/{name}".encode())
    (folder / f"{lab}-figures.json").write_text("{}")
    return folder


@pytest.fixture()
def runs_ws(cli, started):
    _recorded_run(started, "fixit", "20261201T090000", ("fixit-loss.png",))
    _recorded_run(started, "gpt2", "20261202T081500", ("gpt2-loss.png", "more/ctx.png"))
    _recorded_run(started, "gpt2", "20261130T070000", ())
    return started


def test_run_list_shows_id_lab_time_and_plots_newest_first(cli, runs_ws):
    import json

    r = cli("run", "--list")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "gpt2/20261202T081500",
        "fixit/20261201T090000",
        "gpt2/20261130T070000",
    ]
    assert (
        "2026-12-02 08:15:00" in lines[0] and "gpt2-loss.png, more/ctx.png" in lines[0]
    )
    assert "no plots" in lines[2]
    r = cli("run", "--list", "fixit", "--json")
    assert r.exit_code == 0, r.output
    (run,) = json.loads(r.stdout)["runs"]
    assert run["id"] == "fixit/20261201T090000" and run["plots"] == ["fixit-loss.png"]
    assert run["lab"] == "fixit" and run["started"] == "2026-12-01T09:00:00"


@pytest.mark.parametrize(
    "ref, run_id",
    [
        ("last", "gpt2/20261202T081500"),
        ("fixit", "fixit/20261201T090000"),
        ("fixit/20261201T090000", "fixit/20261201T090000"),
        ("20261202T08", "gpt2/20261202T081500"),
    ],
)
def test_attach_run_copies_its_plots_into_the_journal_and_commits_them(
    cli, runs_ws, ref, run_id
):
    import json

    from .conftest import commits, git

    r = cli("log", "the loss flattens after warm-up", "--attach-run", ref, "--json")
    assert r.exit_code == 0, r.output
    entry = json.loads(r.stdout)
    lab, stamp = run_id.split("/")
    src = runs_ws / ".labpath" / "runs" / lab / stamp
    wanted = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.png"))
    rel = [f"journal/runs/{run_id}/{name}" for name in wanted]
    assert entry["plots"] == rel
    for name, path in zip(wanted, rel):
        assert (runs_ws / path).read_bytes() == (src / name).read_bytes()
    assert commits(runs_ws)[0] == 'log: aha "the loss flattens after warm-up"'
    committed = git(runs_ws, "show", "--name-only", "--format=", "HEAD").split()
    entry_file = str(Path(entry["path"]).relative_to(runs_ws))
    assert sorted(committed) == sorted([*rel, entry_file])
    assert git(runs_ws, "status", "--porcelain", "journal").strip() == ""
    shown = cli("journal", "show", "last")
    assert f"plot: journal/runs/{run_id}/{wanted[0]}" in shown.stdout


def test_attaching_the_same_run_twice_keeps_one_copy(cli, runs_ws):
    from .conftest import git

    for text in ("first look", "second look"):
        r = cli("log", text, "--attach-run", "fixit")
        assert r.exit_code == 0, r.output
    tracked = git(runs_ws, "ls-files", "journal/runs").split()
    assert tracked == ["journal/runs/fixit/20261201T090000/fixit-loss.png"]


@pytest.mark.parametrize(
    "ref, message",
    [
        ("gpt2/19990101T000000", "Error: no run 'gpt2/19990101T000000'"),
        ("nosuch", "Error: no run 'nosuch'"),
        ("gpt2/20261130T070000", "Error: run gpt2/20261130T070000 saved no plots"),
    ],
)
def test_attach_run_refuses_an_unknown_or_empty_run_and_saves_nothing(
    cli, runs_ws, ref, message
):
    from .conftest import commits

    before = commits(runs_ws)
    r = cli("log", "never saved", "--attach-run", ref)
    assert r.exit_code == 2, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(message), r.stderr
    assert commits(runs_ws) == before
    assert not list((runs_ws / "journal").rglob("*never-saved*"))
    assert not (runs_ws / "journal" / "runs").exists()


def test_attach_run_in_a_workspace_without_runs(cli, started):
    r = cli("log", "x", "--attach-run", "last")
    assert r.exit_code == 2, r.output
    assert (
        r.stderr.splitlines()[0]
        == "Error: no run 'last': this workspace has no runs yet"
    )


def test_run_without_a_lab_or_list_is_a_usage_error(cli, started):
    r = cli("run")
    assert r.exit_code == 2, r.output
    assert r.stderr.splitlines()[0] == "Error: name the lab to run"


def test_loss_figure_draws_train_thin_and_evaluations_as_markers(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    saved = []
    original = Figure.savefig
    monkeypatch.setattr(
        Figure,
        "savefig",
        lambda fig, *a, **k: (saved.append(fig), original(fig, *a, **k)),
    )
    steps = list(range(1, 51))
    plots.loss_figure(
        tmp_path / "l.png",
        train={"m: train": (steps, [1 / s for s in steps])},
        evals={"m: validation": ([10, 50], [0.2, 0.1])},
    )
    (ax,) = saved[0].axes
    by_label = {line.get_label(): line for line in ax.get_lines()}
    thin, points = by_label["m: train"], by_label["m: validation (0.100)"]
    assert len(thin.get_xdata()) == 50 and thin.get_marker() in ("None", "", None)
    assert thin.get_linewidth() < 1 and points.get_marker() == "o"
    assert list(points.get_xdata()) == [10, 50]
    assert thin.get_color() == points.get_color()  # one model, one colour


@pytest.mark.parametrize(
    "lab", ["fixit", "gpt-train", "gpt2", "log-anomaly", "tabular-embeddings"]
)
def test_every_training_run_plots_its_loss_through_the_shared_helper(lab):
    text = (labs.load(lab).directory / "run.py").read_text()
    assert "from labpath.plots import loss_figure" in text and "loss_figure(" in text


def test_run_list_in_a_workspace_without_runs(cli, started):
    import json

    r = cli("run", "--list")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "No runs yet."
    assert json.loads(cli("run", "--list", "--json").stdout) == {"runs": []}


# --- runs sent elsewhere with --out ------------------------------------------------------


def _run_elsewhere(ws, tmp_path, lab, stamp, text=None):
    """A run written to a folder outside the workspace, and the note labpath keeps."""
    folder = tmp_path / "elsewhere" / stamp
    (folder / "plots").mkdir(parents=True)
    (folder / "plots" / f"{lab}-loss.png").write_bytes(b"\x89PNG elsewhere")
    note = ws / ".labpath" / "runs" / lab / f"{stamp}.where"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(f"{folder}\n" if text is None else text)
    return folder


def test_a_run_sent_elsewhere_is_listed_and_attached_like_the_others(
    cli, runs_ws, tmp_path
):
    import json

    folder = _run_elsewhere(runs_ws, tmp_path, "fixit", "20261203T100000")
    r = cli("run", "--list", "--json")
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert runs[0] == {
        "id": "fixit/20261203T100000",
        "lab": "fixit",
        "started": "2026-12-03T10:00:00",
        "folder": str(folder),
        "plots": ["plots/fixit-loss.png"],
    }
    assert len(runs) == 4  # the workspace's three as well
    r = cli("log", "the run on the big disk", "--attach-run", "last", "--json")
    assert r.exit_code == 0, r.output
    copied = runs_ws / "journal" / "runs" / "fixit" / "20261203T100000" / "plots"
    assert (copied / "fixit-loss.png").read_bytes() == b"\x89PNG elsewhere"


@pytest.mark.parametrize(
    "text", ["", "relative/folder\n", "/no/such/folder\n", "/a\n/b\n"], ids=repr
)
def test_a_note_naming_no_folder_lists_nothing(cli, started, tmp_path, text):
    _run_elsewhere(started, tmp_path, "fixit", "20261203T100000", text)
    r = cli("run", "--list")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "No runs yet."


@pytest.mark.torch
@pytest.mark.parametrize("form", ["--out DIR", "--out=DIR"])
def test_run_with_out_writes_there_and_keeps_a_note_in_the_workspace(
    cli, started, tmp_path, monkeypatch, form
):
    import json

    assert cli("start", "fixit").exit_code == 0
    monkeypatch.chdir(tmp_path)  # a relative --out is the learner's working folder's
    tiny = "--steps 2 --max-bytes 5000 --block-size 8 --batch-size 2 --n-embd 12"
    tiny += " --n-head 2 --device cpu"
    out = form.replace("DIR", "big-disk/run1").split()
    r = cli("run", "fixit", *tiny.split(), *out, "--json")
    assert r.exit_code == 0, r.output
    folder = tmp_path / "big-disk" / "run1"
    (run,) = json.loads(cli("run", "--list", "--json").stdout)["runs"]
    assert run["folder"] == str(folder) and run["lab"] == "fixit"
    assert run["plots"] and all((folder / p).is_file() for p in run["plots"])
    assert not (
        started / ".labpath" / "runs" / "fixit" / run["id"].split("/")[1]
    ).is_dir()


TINY_FIXIT = (
    "--steps 2 --max-bytes 5000 --block-size 8 --batch-size 2 --n-embd 12 --n-head 2"
).split()


@pytest.mark.torch
def test_a_run_of_a_folder_given_with_path_is_recorded_in_the_workspace(
    cli, started, tmp_path, monkeypatch
):
    import json

    from labpath import labs

    monkeypatch.chdir(tmp_path)
    solution = labs.load("fixit").solution_dir
    r = cli("run", "fixit", "--path", solution, *TINY_FIXIT, "--device", "cpu")
    assert r.exit_code == 0, r.output
    (run,) = json.loads(cli("run", "--list", "--json").stdout)["runs"]
    folder = Path(run["folder"])
    assert folder.parent == started / ".labpath" / "runs" / "fixit"
    assert f"figures and plots go to {folder}" in " ".join(r.output.split())
    assert run["plots"] and all((folder / p).is_file() for p in run["plots"])
    assert not (tmp_path / "runs").exists()  # nothing in the working folder


@pytest.mark.torch
def test_a_run_outside_any_workspace_goes_to_labpaths_cache(
    cli, isolated, tmp_path, monkeypatch
):
    from labpath import labs
    from labpath.app import check as check_app

    monkeypatch.setenv("LABPATH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(check_app, "KEPT_WITHOUT_WORKSPACE", 1)
    solution = labs.load("fixit").solution_dir
    old = tmp_path / "cache" / "runs" / "fixit" / "20260101T000000"
    old.mkdir(parents=True)
    r = cli("run", "fixit", "--path", solution, *TINY_FIXIT, "--device", "cpu")
    assert r.exit_code == 0, r.output
    (folder,) = (tmp_path / "cache" / "runs" / "fixit").iterdir()  # the old one went
    assert f"figures and plots go to {folder}" in " ".join(r.output.split())
    assert any(folder.glob("*.png")) and not (tmp_path / "runs").exists()
    r = cli("run", "fixit", "--path", solution, "-w", tmp_path / "nowhere")
    assert r.exit_code == 2, r.output  # a workspace named with -w must open
