"""Plots a learner debugs with: micrograd's graph against the reference, loss figures,
and run plots attached to a journal entry."""

import sys
import types

import pytest

from labpath import bugedit, labs, labspec, plots

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
    path = tmp_path / "graph.png"
    assert graph.draw_graph(out, path, diamond, [1.5, -0.8])
    assert path.stat().st_size > 10_000


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
    path = tmp_path / "neuron.png"
    assert graph.draw_graph(out, path, neuron, NEURON, NEURON_NAMES)
    assert path.is_file()


def test_a_value_without_prev_draws_nothing(graph, tmp_path):
    class Bare:
        data, grad = 1.0, 0.0

    assert not graph.draw_graph(Bare(), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


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
