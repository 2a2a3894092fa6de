"""The picture of a learner's graph after backward(), next to the expected gradients.

The same expression runs on the checks' own reference engine (RefValue, below, written
from the chain rule and independent of solution/). Each of the learner's nodes is
matched to its twin in the reference graph, so every box shows the learner's grad and
the expected one, named like the lecture (a, b, c = a * b, ...). The nodes whose grad
differs are marked; the first wrong ones (every node that uses them is right) point at
the _backward that went wrong.
"""

import itertools
import math
from dataclasses import dataclass

from labpath import plots

# ---- the reference engine ----------------------------------------------------------------

_made = itertools.count()


class RefValue:
    """A correct scalar autograd node that remembers its children in order."""

    def __init__(self, data, children=(), op=""):
        self.data, self.grad, self.children, self.op = float(data), 0.0, tuple(children), op
        self.n = next(_made)  # creation order: a, b, then c, d, ... as the code ran
        self._local = ()  # d(self)/d(child) for each child

    def _wrap(self, other):
        return other if isinstance(other, RefValue) else RefValue(other)

    def __add__(self, other):
        other = self._wrap(other)
        out = RefValue(self.data + other.data, (self, other), "+")
        out._local = (1.0, 1.0)
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = RefValue(self.data * other.data, (self, other), "*")
        out._local = (other.data, self.data)
        return out

    def __pow__(self, k):
        out = RefValue(self.data**k, (self,), f"**{k:g}")
        out._local = (k * self.data ** (k - 1),)
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = RefValue(t, (self,), "tanh")
        out._local = (1 - t**2,)
        return out

    def exp(self):
        out = RefValue(math.exp(self.data), (self,), "exp")
        out._local = (out.data,)
        return out

    def relu(self):
        out = RefValue(max(self.data, 0.0), (self,), "relu")
        out._local = (float(self.data > 0),)
        return out

    # the rest is built from the operations above, as the lecture builds them
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    __radd__, __rmul__ = __add__, __mul__

    def backward(self):
        topo, seen = [], set()

        def build(v):
            if id(v) not in seen:
                seen.add(id(v))
                for c in v.children:
                    build(c)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            for child, local in zip(v.children, v._local):
                child.grad += local * v.grad


# ---- the data the picture is drawn from ---------------------------------------------------


@dataclass(frozen=True)
class GraphNode:
    """One of the learner's nodes as drawn."""

    key: int  # index in GraphModel.nodes
    label: str  # "c = a * b", or "?" with the op when it has no twin in the reference
    op: str
    data: float
    grad: float
    expected: float | None  # the reference grad; None: no matching reference node
    flagged: bool  # grad differs from expected
    first_wrong: bool  # flagged, and every node using it is right
    children: tuple[int, ...]


def _close(x, y):
    return math.isclose(x, y, rel_tol=1e-7, abs_tol=1e-9)


def _number(x):
    return f"{x:g}"


def _expression(node, name):
    """c = a * b, d = tanh(c), ... for a reference node, its children named."""
    kids = [name[id(c)] for c in node.children]
    if node.op in ("+", "*") and len(kids) == 2:
        return f"{kids[0]} {node.op} {kids[1]}"
    if node.op.startswith("**"):
        return f"{kids[0]}{node.op}"
    return f"{node.op}({', '.join(kids)})"


def _names(ref_out, leaves, leaf_names):
    """A name for every reference node: the leaves' own, numbers for constants, then
    fresh letters in the order the expression created the nodes."""
    nodes, seen = [], set()
    stack = [ref_out]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            nodes.append(v)
            stack.extend(v.children)
    name = {id(v): n for v, n in zip(leaves, leaf_names)}
    taken = set(leaf_names)
    label = {}
    letters = (x for x in itertools.chain("cdefghijklmnopqrstuvwxyz",
                                          (f"n{i}" for i in itertools.count()))
               if x not in taken)
    for v in sorted(nodes, key=lambda v: v.n):
        if id(v) in name:
            label[id(v)] = name[id(v)]
        elif not v.children:
            name[id(v)] = label[id(v)] = _number(v.data)
        else:
            name[id(v)] = next(letters)
            label[id(v)] = f"{name[id(v)]} = {_expression(v, name)}"
    return label


def _shapes(out, kids, table):
    """An id for each node's shape: its value (to 9 digits) and its children's shapes,
    interned in table, so that the two graphs' ids compare."""
    shape, stack = {}, [(out, False)]
    while stack:
        v, ready = stack.pop()
        if id(v) in shape:
            continue
        if not ready:
            stack.append((v, True))
            stack.extend((c, False) for c in kids(v) if id(c) not in shape)
            continue
        key = (float(f"{float(v.data):.9g}"), tuple(sorted(shape[id(c)] for c in kids(v))))
        shape[id(v)] = table.setdefault(key, len(table))
    return shape


def _match(out, ref_out):
    """Pair each learner node with its reference twin, from the output down: a child is
    paired with the reference child of the same shape (value and everything below),
    else of the same value."""
    mine_kids = lambda v: list(dict.fromkeys(getattr(v, "_prev", ())))
    ref_kids = lambda v: list(dict.fromkeys(v.children))
    table = {}
    mine, ref = _shapes(out, mine_kids, table), _shapes(ref_out, ref_kids, table)
    twin = {}
    if not _close(float(out.data), ref_out.data):
        return twin
    twin[id(out)] = ref_out
    queue = [(out, ref_out)]
    while queue:
        v, r = queue.pop()
        free = mine_kids(v)
        for rc in ref_kids(r):
            pick = next((k for k in free if twin.get(id(k)) is rc), None)
            if pick is None:
                fresh = [k for k in free if id(k) not in twin]
                pick = next((k for k in fresh if mine[id(k)] == ref[id(rc)]), None) or next(
                    (k for k in fresh if _close(float(k.data), rc.data)), None)
            if pick is None:
                continue
            free.remove(pick)
            if id(pick) not in twin:
                twin[id(pick)] = rc
                queue.append((pick, rc))
    return twin


def learner_nodes(out):
    """Every node of the learner's graph behind out, output first."""
    order, seen, stack = [], set(), [out]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            order.append(v)
            stack.extend(getattr(v, "_prev", ()))
    return order


@dataclass(frozen=True)
class GraphModel:
    nodes: tuple[GraphNode, ...]

    def flagged(self) -> set[str]:
        return {n.label for n in self.nodes if n.flagged}

    def first_wrong(self) -> set[str]:
        return {n.label for n in self.nodes if n.first_wrong}


def graph_model(out, fn=None, inputs=None, names="abcdefgh") -> GraphModel:
    """The learner's graph behind out (already backpropagated) with, when fn and inputs
    are given, the reference grad of each node from fn run on RefValue."""
    mine = learner_nodes(out)
    index = {id(v): k for k, v in enumerate(mine)}
    twin, label = {}, {}
    if fn is not None:
        leaves = [RefValue(x) for x in inputs]
        ref_out = fn(*leaves)
        ref_out.backward()
        twin = _match(out, ref_out)
        label = _names(ref_out, leaves, list(names)[: len(leaves)])
    users: dict[int, list] = {}
    for v in mine:
        for c in dict.fromkeys(getattr(v, "_prev", ())):
            users.setdefault(id(c), []).append(v)

    def expected(v):
        r = twin.get(id(v))
        return None if r is None else r.grad

    def wrong(v):
        e = expected(v)
        return e is not None and not _close(float(v.grad), e)

    nodes = []
    for v in mine:
        r = twin.get(id(v))
        op = str(getattr(v, "_op", "") or "")
        nodes.append(GraphNode(
            key=index[id(v)],
            label=label[id(r)] if r is not None else f"? {op or 'leaf'}",
            op=op,
            data=float(v.data),
            grad=float(v.grad),
            expected=expected(v),
            flagged=wrong(v),
            first_wrong=wrong(v) and not any(wrong(u) for u in users.get(id(v), [])),
            children=tuple(index[id(c)] for c in dict.fromkeys(getattr(v, "_prev", ()))),
        ))
    return GraphModel(tuple(nodes))


def layout(model: GraphModel) -> plots.Layout:
    """Boxes and edge routes: leaves on the left, the output on the right."""
    edges = [(c, n.key) for n in reversed(model.nodes) for c in n.children]
    return plots.layered_layout([n.key for n in reversed(model.nodes)], edges)


# ---- the picture -------------------------------------------------------------------------

OK, WRONG, FIRST, UNKNOWN = "#e8f1ff", "#ffd6d6", "#ff8a8a", "#f0f0f0"


def draw_graph(out, path, fn=None, inputs=None, names="abcdefgh", title=None) -> bool:
    """Save a picture of the graph behind out: each node's name, data, your grad and the
    expected grad, the wrong ones marked.

    Uses only `_prev`, `data` and `grad` (and `_op` when there is one); returns False,
    drawing nothing, when the learner's Value has no `_prev` or matplotlib is missing.
    """
    if not hasattr(out, "_prev"):
        return False
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Patch

    model = graph_model(out, fn, inputs, names)
    lay = layout(model)
    width = lay.columns * plots.COLUMN * 0.85 + 0.8
    fig, ax = plt.subplots(figsize=(max(width, 6.5), 0.85 * max(lay.rows, 2) + 1.6))
    for _, _, points in lay.routes:
        xs, ys = zip(*points)
        ax.plot(xs[:-1], ys[:-1], color="0.55", lw=1)
        ax.annotate("", xy=points[-1], xytext=points[-2],
                    arrowprops={"arrowstyle": "-|>", "color": "0.55", "lw": 1,
                                "shrinkA": 0, "shrinkB": 0})
    for node in model.nodes:
        x, y, w, h = lay.boxes[node.key]
        if node.expected is None:
            face, edge = UNKNOWN, "0.5"
        elif node.first_wrong:
            face, edge = FIRST, "#b00000"
        elif node.flagged:
            face, edge = WRONG, "#d04040"
        else:
            face, edge = OK, "#5070a0"
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                    boxstyle="round,pad=0,rounding_size=0.08",
                                    fc=face, ec=edge, lw=1.6 if node.flagged else 0.8))
        expect = "?" if node.expected is None else f"{node.expected:.4g}"
        mark = "✗ " if node.flagged else ""
        text = (f"{node.label}\ndata {node.data:.4g}\n"
                f"{mark}grad {node.grad:.4g} | expected {expect}")
        ax.text(x, y, text, ha="center", va="center", fontsize=7,
                fontweight="bold" if node.flagged else "normal")
    ax.legend(handles=[
        Patch(fc=OK, ec="#5070a0", label="grad matches the expected one"),
        Patch(fc=WRONG, ec="#d04040", label="✗ grad differs from the expected one"),
        Patch(fc=FIRST, ec="#b00000",
              label="✗ first wrong: its users are right, look at their _backward"),
        Patch(fc=UNKNOWN, ec="0.5", label="no twin in the reference graph"),
    ], loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7, frameon=False)
    ax.set_xlim(-plots.BOX_W / 2 - 0.2, (lay.columns - 1) * plots.COLUMN + plots.BOX_W / 2 + 0.2)
    ax.set_ylim(-0.6, max(lay.rows - 1, 0) * plots.ROW + 0.6)
    ax.axis("off")
    wrong = sum(n.flagged for n in model.nodes)
    # The figure's title, not the axes': an axes title is placed by measuring the
    # (hidden) axes' ticks, a fifth of the drawing's time.
    height = fig.get_size_inches()[1]
    fig.suptitle(title or ("your graph after backward(): data, your grad and the expected "
                           f"grad of every node ({wrong} wrong)"), fontsize=9,
                 y=1 - 0.12 / height, va="top")
    # Margins in inches for the title above and the legend below; tight_layout would
    # measure every text by drawing the figure once more (a third of the plot's time).
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.45 / height, bottom=0.65 / height)
    # zlib's fastest level: the file is a little larger, the encoding 3x quicker
    fig.savefig(path, dpi=110, pil_kwargs={"compress_level": 1})
    plt.close(fig)
    return True
