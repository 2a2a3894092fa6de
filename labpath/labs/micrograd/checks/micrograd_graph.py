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
_EDGE = {OK: "#5070a0", WRONG: "#d04040", FIRST: "#b00000", UNKNOWN: "#808080"}
LEGEND = (
    (OK, "grad matches the expected one"),
    (WRONG, "\u2717 grad differs from the expected one"),
    (FIRST, "\u2717 first wrong: its users are right, look at their _backward"),
    (UNKNOWN, "no twin in the reference graph"),
)
SCALE = 80  # pixels per layout unit
_TOP, _BOTTOM, _SIDE = 40, 62, 16  # room for the title above and the legend below


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fill(node: GraphNode) -> str:
    """The box colour of a node: unknown, first wrong, wrong or right."""
    if node.expected is None:
        return UNKNOWN
    if node.first_wrong:
        return FIRST
    return WRONG if node.flagged else OK


def box_lines(node: GraphNode) -> list[str]:
    """The three lines in a node's box: its name, its data, its grad and the expected one."""
    expect = "?" if node.expected is None else f"{node.expected:.4g}"
    mark = "\u2717 " if node.flagged else ""
    return [node.label, f"data {node.data:.4g}",
            f"{mark}grad {node.grad:.4g} | expected {expect}"]


def svg(model: GraphModel, title: str | None = None) -> str:
    """The picture of a graph model as an SVG document: leaves on the left, the output
    on the right, each box coloured by whether its grad is the expected one."""
    lay = layout(model)
    left = -plots.BOX_W / 2 - 0.2
    top = max(lay.rows - 1, 0) * plots.ROW + 0.6
    inner_w = ((lay.columns - 1) * plots.COLUMN + plots.BOX_W + 0.4) * SCALE
    inner_h = (top + 0.6) * SCALE
    width = max(inner_w + 2 * _SIDE, 780)
    height = inner_h + _TOP + _BOTTOM
    dx = (width - inner_w) / 2

    def at(x, y):  # layout units (y up) to pixels (y down)
        return dx + (x - left) * SCALE, _TOP + (top - y) * SCALE

    wrong = sum(n.flagged for n in model.nodes)
    title = title or ("your graph after backward(): data, your grad and the expected "
                      f"grad of every node ({wrong} wrong)")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
        f"<title>{_escape(title)}</title>",
        '<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#8c8c8c"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2:.1f}" y="22" text-anchor="middle" font-size="13">'
        f"{_escape(title)}</text>",
    ]
    for source, target, points in lay.routes:
        coords = " ".join("{:.1f},{:.1f}".format(*at(x, y)) for x, y in points)
        out.append(f'<polyline class="edge" data-from="{source}" data-to="{target}" '
                   f'points="{coords}" fill="none" stroke="#8c8c8c" stroke-width="1.2" '
                   'marker-end="url(#head)"/>')
    for node in model.nodes:
        x, y, w, h = lay.boxes[node.key]
        px, py = at(x - w / 2, y + h / 2)
        face = fill(node)
        stroke = 2 if node.flagged else 1
        weight = ' font-weight="bold"' if node.flagged else ""
        cx, cy = at(x, y)
        lines = box_lines(node)
        out.append(
            f'<g class="node" data-key="{node.key}" data-fill="{face}">'
            f'<rect x="{px:.1f}" y="{py:.1f}" width="{w * SCALE:.1f}" '
            f'height="{h * SCALE:.1f}" rx="6" fill="{face}" stroke="{_EDGE[face]}" '
            f'stroke-width="{stroke}"/>'
            f'<text x="{cx:.1f}" y="{cy - 14:.1f}" text-anchor="middle" '
            f'font-size="10.5"{weight}>'
            + "".join(
                f'<tspan x="{cx:.1f}" dy="{0 if i == 0 else 14}">{_escape(t)}</tspan>'
                for i, t in enumerate(lines)
            )
            + "</text></g>"
        )
    base = _TOP + inner_h + 14
    for i, (face, label) in enumerate(LEGEND):
        lx = width / 2 - 370 + (i % 2) * 420  # the first column holds the longer labels
        ly = base + (i // 2) * 20
        out.append(
            f'<rect x="{lx:.1f}" y="{ly:.1f}" width="18" height="11" fill="{face}" '
            f'stroke="{_EDGE[face]}"/><text x="{lx + 24:.1f}" y="{ly + 10:.1f}" '
            f'font-size="10.5">{_escape(label)}</text>'
        )
    out.append("</svg>\n")
    return "\n".join(out)


def draw_graph(out, path, fn=None, inputs=None, names="abcdefgh", title=None) -> bool:
    """Save a picture (SVG) of the graph behind out: each node's name, data, your grad
    and the expected grad, the wrong ones marked.

    Uses only `_prev`, `data` and `grad` (and `_op` when there is one); returns False,
    writing nothing, when the learner's Value has no `_prev`.
    """
    if not hasattr(out, "_prev"):
        return False
    text = svg(graph_model(out, fn, inputs, names), title)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return True
