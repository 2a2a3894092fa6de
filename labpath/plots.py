"""Plots shared by labs: the training-loss figure and a layered layout for small graphs.

matplotlib is imported inside the functions that draw, never at module level, so a
lab or check that imports this module pays for it only when it plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# --- the training-loss figure ----------------------------------------------------------


def loss_figure(
    path: Path | str,
    train: dict[str, tuple[list, list]] | None = None,
    evals: dict[str, tuple[list, list]] | None = None,
    *,
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "loss",
    logy: bool = False,
    hlines: dict[str, float] | None = None,
) -> bool:
    """Save the loss plot of a training run: each series of per-step (or per-logged-step)
    training losses as a thin line, each evaluation series as markers joined lightly.

    train and evals map a label to (steps, values); hlines draws named baselines.
    Returns False, drawing nothing, when matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    # "model: train" and "model: validation" share a colour; other series get their own
    colours: dict[str, str] = {}

    def colour(label: str) -> str:
        group = label.split(":")[0] if ":" in label else label
        return colours.setdefault(group, f"C{len(colours)}")

    for label, (steps, values) in (train or {}).items():
        if len(values):
            ax.plot(steps, values, lw=0.7, alpha=0.6, color=colour(label), label=label)
    for label, (steps, values) in (evals or {}).items():
        if len(values):
            ax.plot(
                steps,
                values,
                "o-",
                ms=4,
                lw=1.0,
                color=colour(label),
                label=f"{label} ({values[-1]:.3f})",
            )
    for label, value in (hlines or {}).items():
        ax.axhline(value, color=colour(label), ls=":", label=f"{label} ({value:.3f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --- a layered layout for small directed graphs ----------------------------------------

COLUMN = 3.4  # distance between the centres of two columns
ROW = 1.0  # distance between two rows of one column
BOX_W, BOX_H = 2.6, 0.78  # a node's box; the gaps between boxes carry the edges


@dataclass(frozen=True)
class Layout:
    """Boxes (centre x, y, width, height) by node and each edge's polyline, in data units.

    An edge runs from the right side of its source's box to the left side of its
    target's box; where it spans several columns it passes each one at a row of its
    own (a slot no box occupies), so no segment enters a box.
    """

    boxes: dict
    routes: list = field(default_factory=list)  # (source, target, [(x, y), ...])
    columns: int = 0
    rows: int = 0


def layered_layout(nodes: list, edges: list[tuple]) -> Layout:
    """Place a DAG left to right: a node's column is its longest path from a source."""
    nodes = list(dict.fromkeys(nodes))
    preds: dict = {n: [] for n in nodes}
    for s, t in edges:
        preds[t].append(s)
    # longest path from a source, in topological order (Kahn), without recursion
    layer: dict = {}
    waiting = {n: len(preds[n]) for n in nodes}
    succs: dict = {n: [] for n in nodes}
    for s, t in edges:
        succs[s].append(t)
    ready = [n for n in nodes if not waiting[n]]
    while ready:
        n = ready.pop()
        layer[n] = 1 + max((layer[p] for p in preds[n]), default=-1)
        for t in succs[n]:
            waiting[t] -= 1
            if not waiting[t]:
                ready.append(t)
    if len(layer) != len(nodes):
        raise ValueError("layered_layout needs a graph without cycles")
    # A source (a leaf, a constant) sits just left of its first user, not in column 0
    # with a long edge: its edges stay short.
    for n in nodes:
        if not preds[n] and succs[n]:
            layer[n] = min(layer[t] for t in succs[n]) - 1
    n_cols = max(layer.values(), default=-1) + 1
    # Each long edge gets a waypoint ("slot") in every column it passes.
    slots: dict[tuple, list] = {}  # (edge index) -> [slot id per passed column]
    columns: list[list] = [[] for _ in range(n_cols)]
    for n in nodes:
        columns[layer[n]].append(("node", n))
    for i, (s, t) in enumerate(edges):
        slots[i] = []
        for c in range(layer[s] + 1, layer[t]):
            slot = ("slot", i, c)
            columns[c].append(slot)
            slots[i].append(slot)
    # Order each column by the mean row of its neighbours on the left (barycentres), a
    # few sweeps: fewer crossings, and a chain of slots stays on one straight row.
    left: dict = {}
    for i, (s, t) in enumerate(edges):
        chain = [("node", s), *slots[i], ("node", t)]
        for a, b in zip(chain, chain[1:]):
            left.setdefault(b, []).append(a)
    row: dict = {item: k for col in columns for k, item in enumerate(col)}
    for _ in range(4):
        for col in columns[1:]:
            col.sort(
                key=lambda it: (
                    sum(row[p] for p in left.get(it, []))
                    / max(1, len(left.get(it, [])))
                    if left.get(it)
                    else row[it]
                )
            )
            for k, item in enumerate(col):
                row[item] = k
    height = max((len(c) for c in columns), default=0)
    pos = {}
    for c, col in enumerate(columns):
        offset = (height - len(col)) / 2  # centre short columns vertically
        for k, item in enumerate(col):
            pos[item] = (c * COLUMN, (height - 1 - (k + offset)) * ROW)
    boxes = {n: (*pos[("node", n)], BOX_W, BOX_H) for n in nodes}
    routes = []
    half = BOX_W / 2
    for i, (s, t) in enumerate(edges):
        xs, ys = pos[("node", s)]
        points = [(xs + half, ys)]
        for slot in slots[i]:  # straight across the column, at the slot's own row
            x, y = pos[slot]
            points += [(x - half, y), (x + half, y)]
        xt, yt = pos[("node", t)]
        points.append((xt - half, yt))
        routes.append((s, t, points))
    return Layout(boxes, routes, n_cols, height)


def segment_enters_box(p, q, box, margin: float = 1e-6) -> bool:
    """Whether the segment p-q passes through the inside of box (x, y, w, h); touching
    its outline (where an edge starts or ends) does not count."""
    x, y, w, h = box
    lo_x, hi_x = x - w / 2 + margin, x + w / 2 - margin
    lo_y, hi_y = y - h / 2 + margin, y + h / 2 - margin
    # Liang-Barsky clipping of the segment against the shrunken box
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for edge_p, edge_q in (
        (-dx, p[0] - lo_x),
        (dx, hi_x - p[0]),
        (-dy, p[1] - lo_y),
        (dy, hi_y - p[1]),
    ):
        if edge_p == 0:
            if edge_q < 0:
                return False
            continue
        t = edge_q / edge_p
        if edge_p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def crossings(layout: Layout) -> list[tuple]:
    """Every (edge, box) pair where a segment of the edge enters a node's box."""
    found = []
    for s, t, points in layout.routes:
        for p, q in zip(points, points[1:]):
            for node, box in layout.boxes.items():
                if segment_enters_box(p, q, box):
                    found.append(((s, t), node))
    return found
