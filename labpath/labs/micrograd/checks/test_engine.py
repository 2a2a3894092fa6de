"""Checks for the micrograd lab: every operation and backward() against torch.autograd.

Each check builds fresh graphs (backward() accumulates and is not meant to run twice)
and compares values and gradients in float64.
"""

import math
import random

import pytest
from micrograd_graph import draw_graph
from micrograd_ref import (
    compare,
    describe,
    evaluate,
    random_program,
    run_both,
)

from labpath.checks import kit

POINTS = [(-2.5, 0.7), (0.3, -1.9), (1.6, 2.2)]  # negative, mixed and positive inputs


def test_value_stores_data_and_starts_with_zero_grad(Value):
    """Value(x) keeps x in .data and starts with .grad == 0."""
    v = Value(3.5)
    if v.data != 3.5:
        kit.fail("Value(3.5).data", yours=v.data, expected=3.5)
    if v.grad != 0:
        kit.fail(
            "Value(3.5).grad before any backward()",
            yours=v.grad,
            expected=0.0,
            hint="gradients start at 0 and only backward() changes them",
        )


def test_add_matches_torch(Value):
    """a + b: value and gradients, alone and inside a larger expression."""
    for a, b in POINTS:
        compare(Value, lambda a, b: a + b, [a, b], "a + b")
        compare(
            Value,
            lambda a, b: (a + b) * b,
            [a, b],
            "(a + b) * b",
            hint="the gradient arriving at the + node (out.grad) must be passed on",
        )


def test_mul_matches_torch(Value):
    """a * b: value and gradients, alone and inside a larger expression."""
    for a, b in POINTS:
        compare(
            Value,
            lambda a, b: a * b,
            [a, b],
            "a * b",
            hint="d(a*b)/da = b and d(a*b)/db = a",
        )
        compare(Value, lambda a, b: (a * b) * (a + 3.0), [a, b], "(a * b) * (a + 3)")


def test_pow_by_a_number_matches_torch(Value):
    """a ** n for integer, negative and fractional n, times out.grad."""
    kit.skip_unless(Value, "__pow__", "** operator")

    def power_diagnosis(name, yours, inputs):
        a = inputs[0]
        for n in (2, 3, -1, 0.5):
            if math.isclose(yours, n * a**n, rel_tol=1e-9):
                return "your gradient is n * x**n: the exponent in the power rule is off by one"
        return None

    for a, b in POINTS:
        for n in (2, 3, -1):
            compare(
                Value,
                lambda a, b, n=n: a**n,
                [a, b],
                f"a ** {n}",
                hint="power rule: d(x^n)/dx = n * x^(n-1)",
                diagnose=power_diagnosis,
            )
            compare(Value, lambda a, b, n=n: (a**n) * b, [a, b], f"(a ** {n}) * b")
        if a > 0:
            compare(Value, lambda a, b: a**0.5, [a, b], "a ** 0.5")


def test_neg_and_sub_match_torch(Value):
    """-a and a - b keep the graph connected."""
    for a, b in POINTS:
        compare(Value, lambda a, b: -a, [a, b], "-a")
        compare(
            Value,
            lambda a, b: a - b,
            [a, b],
            "a - b",
            hint="build a - b from operations that record their children, e.g. a + (-b)",
        )
        compare(Value, lambda a, b: (a - b) * a, [a, b], "(a - b) * a")


def test_div_matches_torch(Value):
    """a / b keeps the graph connected and has the quotient rule's gradients."""
    for a, b in POINTS:
        compare(
            Value,
            lambda a, b: a / b,
            [a, b],
            "a / b",
            hint="a / b can be written as a * b**-1",
        )
        compare(Value, lambda a, b: (a / b) * a, [a, b], "(a / b) * a")


def test_numbers_on_the_right(Value):
    """a + 1, a * 2, a - 1, a / 2: plain numbers are wrapped as constants."""
    for a, b in POINTS:
        compare(
            Value,
            lambda a, b: (a + 1) * (a * 2),
            [a, b],
            "(a + 1) * (a * 2)",
            hint="wrap a plain number in Value(...) before using .data",
        )
        compare(Value, lambda a, b: (a - 1) * (a / 2), [a, b], "(a - 1) * (a / 2)")


def test_numbers_on_the_left_add_and_mul(Value):
    """1 + a, 2 * a and sum([...]) need __radd__ and __rmul__."""
    kit.skip_unless(Value, "__radd__", "__radd__ (1 + a)")
    kit.skip_unless(Value, "__rmul__", "__rmul__ (2 * a)")
    for a, b in POINTS:
        compare(
            Value,
            lambda a, b: (1 + a) * (2 * b),
            [a, b],
            "(1 + a) * (2 * b)",
            hint="1 + a calls a.__radd__(1); 2 * a calls a.__rmul__(2)",
        )
        compare(
            Value,
            lambda a, b: sum([a, b, a * b]),
            [a, b],
            "sum([a, b, a * b])",
            hint="sum() starts from 0, so it needs 0 + a (__radd__)",
        )


def test_number_minus_value(Value):
    """1 - a needs __rsub__ (optional: the lecture's Value has none)."""
    kit.skip_unless(Value, "__rsub__", "__rsub__ (1 - a)")
    for a, b in POINTS:
        compare(
            Value,
            lambda a, b: (1 - a) * b,
            [a, b],
            "(1 - a) * b",
            hint="1 - a calls a.__rsub__(1): the number is on the left, so it is 1 + (-a)",
        )


def test_number_divided_by_value(Value):
    """2 / a needs __rtruediv__ (optional: the lecture's Value has none)."""
    kit.skip_unless(Value, "__rtruediv__", "__rtruediv__ (2 / a)")
    for a, b in POINTS:
        compare(
            Value,
            lambda a, b: (2 / a) * b,
            [a, b],
            "(2 / a) * b",
            hint="2 / a calls a.__rtruediv__(2): it is 2 * a**-1, not a / 2",
        )


def test_relu_matches_torch(Value):
    """relu passes the gradient only where the input was positive (0 at exactly 0)."""
    kit.skip_unless(Value, "relu", "relu()")
    for x in (-2.5, -0.3, 0.0, 0.7, 3.1):
        compare(
            Value,
            lambda a, b: a.relu() * b,
            [x, 1.7],
            "a.relu() * b",
            hint="relu's local slope is 1 if the output is positive, else 0",
        )


def test_tanh_matches_torch(Value):
    """tanh's value and gradient, including the lecture's single neuron."""
    kit.skip_unless(Value, "tanh", "tanh()")

    def tanh_diagnosis(name, yours, inputs):
        if name == "a" and math.isclose(
            yours, (1 - inputs[0] ** 2) * inputs[1], rel_tol=1e-9
        ):
            return "your backward uses 1 - x**2 with the input x; it should be 1 - t**2 with the output t"
        return None

    # The lecture's neuron: o = tanh(x1*w1 + x2*w2 + b); o = 0.7071, dx1 = -1.5, dw1 = 1.0.
    neuron = lambda x1, x2, w1, w2, b: (x1 * w1 + x2 * w2 + b).tanh()
    inputs, names = [2.0, 0.0, -3.0, 1.0, 6.8813735870195432], ["x1", "x2", "w1", "w2", "b"]
    try:
        for x in (-2.5, -0.3, 0.0, 0.7, 3.1):
            compare(
                Value,
                lambda a, b: a.tanh() * b,
                [x, 1.7],
                "a.tanh() * b",
                diagnose=tanh_diagnosis,
                hint="d tanh(x)/dx = 1 - tanh(x)**2",
            )
        compare(Value, neuron, inputs, "tanh(x1*w1 + x2*w2 + b)", names=names)
    except Exception:
        # only when it fails: the neuron's graph, its wrong grads marked
        _picture(Value, neuron, inputs, names, "test_tanh_matches_torch", "micrograd-neuron.svg")
        raise


def test_exp_matches_torch(Value):
    """exp's value and gradient."""
    kit.skip_unless(Value, "exp", "exp()")

    def exp_diagnosis(name, yours, inputs):
        if name == "a" and math.isclose(
            yours, inputs[0] * inputs[1], rel_tol=1e-9, abs_tol=1e-12
        ):
            return "your backward multiplies by the input x (self.data); exp's slope is e**x (out.data)"
        return None

    for x in (-2.5, -0.3, 0.0, 0.7, 3.1):
        compare(
            Value,
            lambda a, b: a.exp() * b,
            [x, 1.7],
            "a.exp() * b",
            diagnose=exp_diagnosis,
            hint="d e^x/dx = e^x",
        )


def test_backward_seeds_output_gradient(Value):
    """backward() alone sets the output's grad to 1; nothing else is needed."""
    a, b = Value(2.0), Value(-3.0)
    out = a * b + a
    out.backward()
    if out.grad != 1:
        kit.fail(
            "grad of the output after out.backward()",
            yours=out.grad,
            expected=1.0,
            hint="backward() must start the chain rule with self.grad = 1",
        )
    kit.close([a.grad, b.grad], [-2.0, 2.0], "grads of a, b in a * b + a", dims="leaf")


def test_reused_node_accumulates_gradient(Value):
    """A node used more than once gets the sum of all its gradient contributions."""

    compare(
        Value,
        lambda a: a + a,
        [3.0],
        "a + a",
        mistakes=True,
        hint="gradients from every use of a node add up (+=), they never replace (=)",
    )
    compare(
        Value,
        lambda a: a * a,
        [3.0],
        "a * a",
        mistakes=True,
        hint="in a * a both operands are the same node: each side adds its share",
    )
    compare(
        Value,
        lambda a, b: (a * b) * (a + b),
        [-2.0, 3.0],
        "(a * b) * (a + b)",
        mistakes=True,
    )


def _picture(Value, fn, inputs, names, check, filename):
    """Draw the learner's graph of fn with the expected grads before comparing, so a
    failing run still shows which nodes' grads went wrong."""
    try:
        out = fn(*(Value(x) for x in inputs))
        out.backward()
        draw_graph(out, kit.artifact_path(check, filename), fn, inputs, names)
    except Exception:  # drawing is a bonus; the comparison after it is the check
        pass


def test_diamond_graph_propagates_in_topological_order(Value):
    """Shared intermediate nodes: each node's grad is complete before it is passed on."""

    def diamond(a, b):
        c = a * b  # c feeds three later nodes
        d = c + a
        e = c * d
        return e + c * b

    _picture(Value, diamond, [1.5, -0.8], "ab",
             "test_diamond_graph_propagates_in_topological_order", "micrograd-graph.svg")
    compare(
        Value,
        diamond,
        [1.5, -0.8],
        "the diamond graph c=a*b; d=c+a; e=c*d; e + c*b",
        mistakes=True,
    )
    chain = lambda a, b: ((a * b + a) * b + a) * b
    compare(Value, chain, [0.9, 1.3], "((a*b + a)*b + a)*b", mistakes=True)


def test_readme_expression_matches_torch(Value):
    """micrograd's README example: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773."""
    kit.skip_unless(Value, "relu", "relu()")
    kit.skip_unless(Value, "__rtruediv__", "__rtruediv__")

    def readme(a, b):
        c = a + b
        d = a * b + b**3
        c += c + 1
        c += 1 + c + (-a)
        d += d * 2 + (b + a).relu()
        d += 3 * d + (b - a).relu()
        e = c - d
        f = e**2
        g = f / 2.0
        g += 10.0 / f
        return g

    compare(Value, readme, [-4.0, 2.0], "the README expression g(a, b)")


@pytest.mark.parametrize("size", [4, 12, 30])
def test_random_graphs_match_torch(Value, size):
    """Seeded random graphs mixing every operation your Value has, with shared nodes."""
    base = kit.seed()
    for g in range(25):
        graph_seed = base * 1000 + size * 100 + g
        leaves, steps = random_program(random.Random(graph_seed), Value, size)
        fn = lambda *xs, steps=steps: evaluate(steps, xs)
        out, got, expected_out, expected_grads = run_both(Value, fn, leaves)
        program = "; ".join(describe(steps, len(leaves)))
        text = f"random graph #{graph_seed} ({program})"
        kit.close(out.data, expected_out, f"output of {text}", rtol=1e-8, atol=1e-10)
        kit.close(
            [v.grad for v in got],
            expected_grads,
            f"leaf gradients of {text} at leaves {[round(x, 4) for x in leaves]}",
            rtol=1e-7,
            atol=1e-9,
            dims="leaf",
        )
