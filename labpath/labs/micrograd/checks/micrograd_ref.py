"""Reference machinery for the micrograd checks: twin graphs in torch and random programs."""

import math
import random

import torch

from labpath.checks import kit


def run_both(Value, fn, inputs):
    """Evaluate fn on the learner's Values and on float64 torch tensors, then backprop.

    fn only uses operators and .relu()/.tanh()/.exp(), which both kinds of object have,
    so the very same expression builds both graphs.
    """
    leaves = [Value(x) for x in inputs]
    out = fn(*leaves)
    if not hasattr(out, "backward"):
        kit.fail(
            f"the expression returned {type(out).__name__}, not a Value",
            hint="every operation must return a new Value (wrap numbers with Value(...))",
        )
    out.backward()
    tleaves = [
        torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in inputs
    ]
    tout = fn(*tleaves)
    tout.backward()
    expected_grads = [0.0 if t.grad is None else t.grad.item() for t in tleaves]
    return out, leaves, tout.item(), expected_grads


def compare(
    Value, fn, inputs, text, names="abcdefgh", hint=None, diagnose=None, mistakes=False
):
    """Check the forward value and every leaf's gradient of one expression.

    mistakes=True names a backward() mistake only when all the leaf gradients are
    exactly what that mistake would produce (see backward_mistake).
    """
    out, leaves, expected_out, expected_grads = run_both(Value, fn, inputs)
    if mistakes:
        grads = [leaf.grad for leaf in leaves]
        diagnose = lambda n, y, i: backward_mistake(fn, inputs, grads)
    at = ", ".join(f"{n}={x:g}" for n, x in zip(names, inputs))
    kit.close(
        out.data,
        expected_out,
        f"value of {text} at {at}",
        rtol=1e-9,
        atol=1e-12,
        hint=hint,
    )
    for name, leaf, g in zip(names, leaves, expected_grads):
        kit.close(
            leaf.grad,
            g,
            f"d({text})/d{name} at {at}",
            rtol=1e-8,
            atol=1e-10,
            hint=hint,
            diagnose=(lambda yours, n=name: diagnose(n, yours, inputs))
            if diagnose
            else None,
        )


class _Twin:
    """A bare + and * engine that can make each classic backward() mistake on purpose."""

    def __init__(self, data, children=(), kind=""):
        self.data, self.grad, self._prev, self.kind = data, 0.0, list(children), kind
        self._backward = lambda: None

    def _wrap(self, other):
        return other if isinstance(other, _Twin) else _Twin(float(other))

    def __add__(self, other):
        other = self._wrap(other)
        out = _Twin(self.data + other.data, (self, other), "+")
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = _Twin(self.data * other.data, (self, other), "*")
        return out

    __radd__, __rmul__ = __add__, __mul__


def _twin_grads(fn, inputs, overwrite=(), order="reversed", visited=True, flips=0):
    """Leaf gradients of fn when backward() makes the given mistake.

    overwrite: the ops whose backward assigns (=) instead of adding (+=); order
    "forward" walks the topological order leaves-first; visited=False lets a node
    reached twice enter the order twice; flips picks the order children are visited.
    """
    leaves = [_Twin(float(x)) for x in inputs]
    out = fn(*leaves)
    nodes, topo, seen = [], [], set()

    def build(v):
        if visited and id(v) in seen:
            return
        seen.add(id(v))
        if v not in nodes:
            nodes.append(v)
        kids = list(dict.fromkeys(v._prev))  # a node's children form a set
        if (flips >> (nodes.index(v) % 8)) & 1:
            kids.reverse()
        for child in kids:
            build(child)
        topo.append(v)

    build(out)

    def give(node, amount, op):
        node.grad = amount if op in overwrite else node.grad + amount

    def step(v):
        if v.kind == "+":
            for child in v._prev:
                give(child, v.grad, "+")
        elif v.kind == "*":
            a, b = v._prev
            give(a, b.data * v.grad, "*")
            give(b, a.data * v.grad, "*")

    out.grad = 1.0
    for v in reversed(topo) if order == "reversed" else topo:
        step(v)
    return [leaf.grad for leaf in leaves]


OVERWRITE = (
    "a node used twice got one contribution, not the sum: use += in every _backward"
)
FORWARD = (
    "backward() calls _backward from the leaves to the output: walk the topological "
    "order reversed, so a node's grad is complete before it is passed on"
)
NO_VISITED = (
    "a node reached by two paths entered the topological order twice, so its grad "
    "was passed on twice: keep a visited set in the depth-first search"
)


def backward_mistake(fn, inputs, grads):
    """The backward() mistake whose exact gradients the learner's grads are, if any."""

    def same(xs):
        return all(
            math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(xs, grads)
        )

    candidates = (
        [(OVERWRITE, dict(overwrite=ops)) for ops in (("+",), ("*",), ("+", "*"))]
        + [(FORWARD, dict(order="forward"))]
        + [(NO_VISITED, dict(visited=False, flips=f)) for f in range(256)]
    )
    for text, how in candidates:
        try:
            if same(_twin_grads(fn, inputs, **how)):
                return text
        except (TypeError, ValueError, RecursionError):
            continue
    return None


# Each step of a random program: how to compute it, how to print it, and the float
# value it would have (None when the input is outside the operation's safe domain).
OPS = {
    "neg": (lambda x, y, k: -x, "-{x}", lambda x, y, k: -x),
    "pow2": (lambda x, y, k: x**2, "{x}**2", lambda x, y, k: x**2),
    "pow3": (lambda x, y, k: x**3, "{x}**3", lambda x, y, k: x**3),
    "inv": (lambda x, y, k: x**-1, "{x}**-1", lambda x, y, k: x**-1 if abs(x) > 0.3 else None),
    "sqrt": (lambda x, y, k: x**0.5, "{x}**0.5", lambda x, y, k: x**0.5 if x > 0.1 else None),
    "relu": (lambda x, y, k: x.relu(), "{x}.relu()",
             lambda x, y, k: max(x, 0.0) if abs(x) > 1e-3 else None),
    "tanh": (lambda x, y, k: x.tanh(), "{x}.tanh()", lambda x, y, k: math.tanh(x)),
    "exp": (lambda x, y, k: x.exp(), "{x}.exp()", lambda x, y, k: math.exp(x) if x < 2.5 else None),
    "add": (lambda x, y, k: x + y, "{x} + {y}", lambda x, y, k: x + y),
    "mul": (lambda x, y, k: x * y, "{x} * {y}", lambda x, y, k: x * y),
    "sub": (lambda x, y, k: x - y, "{x} - {y}", lambda x, y, k: x - y),
    "div": (lambda x, y, k: x / y, "{x} / {y}", lambda x, y, k: x / y if abs(y) > 0.3 else None),
    "cadd": (lambda x, y, k: x + k, "{x} + {k}", lambda x, y, k: x + k),
    "cmul": (lambda x, y, k: x * k, "{x} * {k}", lambda x, y, k: x * k),
    "radd": (lambda x, y, k: k + x, "{k} + {x}", lambda x, y, k: k + x),
    "rmul": (lambda x, y, k: k * x, "{k} * {x}", lambda x, y, k: k * x),
    "rsub": (lambda x, y, k: k - x, "{k} - {x}", lambda x, y, k: k - x),
    "rdiv": (lambda x, y, k: k / x, "{k} / {x}", lambda x, y, k: k / x if abs(x) > 0.3 else None),
}
# Operations a learner's Value may lack entirely (the repo and the lecture differ).
OPTIONAL = {"relu": "relu", "tanh": "tanh", "exp": "exp", "radd": "__radd__",
            "rmul": "__rmul__", "rsub": "__rsub__", "rdiv": "__rtruediv__"}


def random_program(rng: random.Random, Value, n_ops: int):
    """A random expression graph over the operations the learner's Value has."""
    ops = [op for op in OPS if op not in OPTIONAL or kit.has(Value, OPTIONAL[op])]
    n_leaves = rng.randint(2, 4)
    values = [rng.choice([-1, 1]) * rng.uniform(0.3, 2.0) for _ in range(n_leaves)]
    steps = []
    while len(steps) < n_ops:
        # Prefer recent nodes (depth) but draw from all of them (shared sub-expressions).
        i = max(0, len(values) - 1 - int(rng.expovariate(0.5)))
        j = rng.randrange(len(values))
        k = round(rng.uniform(-2, 2), 2) or 0.5
        op = rng.choice(ops)
        value = OPS[op][2](values[i], values[j], k)
        if value is None or abs(value) > 30:
            continue
        steps.append((op, i, j, k))
        values.append(value)
    return values[:n_leaves], steps


def evaluate(steps, leaves):
    """Run a random program on Values or tensors; returns the last node."""
    nodes = list(leaves)
    for op, i, j, k in steps:
        nodes.append(OPS[op][0](nodes[i], nodes[j], k))
    return nodes[-1]


def describe(steps, n_leaves):
    """The program as readable lines: n0 = a * b; n1 = n0.tanh(); ..."""
    names = [chr(ord("a") + n) for n in range(n_leaves)]
    for n, (op, i, j, k) in enumerate(steps):
        yield f"n{n} = " + OPS[op][1].format(x=names[i], y=names[j], k=k)
        names.append(f"n{n}")


