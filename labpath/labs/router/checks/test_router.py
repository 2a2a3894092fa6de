"""Checks for the router: normalise, prototypes, cosine scores, threshold and margin, fitting, metrics.

Every check feeds vectors (float64, distinct sizes), never text: no model is needed.
"""

import math

import numpy as np
import pytest
import torch
from router_ref import clusters, decide, need, prototypes, unit

from labpath.checks import kit


def _gen(offset=0):
    return torch.Generator().manual_seed(kit.seed() + offset)


def _spread(n, d, offset):
    """n random vectors of dimension d with norms from 0.05 to 40."""
    x = torch.randn(n, d, generator=_gen(offset), dtype=torch.float64)
    return x * torch.logspace(math.log10(0.05), math.log10(40), n, dtype=torch.float64)[:, None]


def _tol(y, tight):
    """float32 results (what most encoders give) are compared at float32's precision."""
    return 1e-6 if getattr(y, "dtype", None) == torch.float32 else tight


def _names(routes):
    if isinstance(routes, tuple):
        routes = [routes]
    try:
        return [r[0] for r in routes]
    except (TypeError, IndexError):
        kit.fail("route(q) must return a list of (name, score) tuples", yours=routes)


def test_normalize_gives_unit_rows_and_keeps_zero_finite(rt):
    """normalize(x (6, 5)) has unit rows; a zero row stays zero (no NaN)."""
    (normalize,) = need(rt, "normalize")
    x = _spread(6, 5, 0)
    x[2] = 0.0
    yours = normalize(x.clone())
    kit.close(yours, unit(x), "normalize(x) rows (row 2 is all zeros)", rtol=1e-12, atol=1e-12,
              dims="row d", diagnose=lambda y: "NaN for the zero row: divide by norm.clamp(min=eps)"
              if torch.isnan(torch.as_tensor(y)).any() else None,
              hint="x / x.norm(dim=-1, keepdim=True).clamp(min=eps)")


def _examples():
    """Agents with 2, 4 and 5 examples of dimension 7, raw norms spread over 3 decades."""
    sizes = {"deploy": 2, "billing": 4, "support": 5}
    return {name: _spread(n, 7, 10 + i) + 2.0 * unit(torch.randn(1, 7, generator=_gen(20 + i), dtype=torch.float64))
            for i, (name, n) in enumerate(sizes.items())}


def test_prototypes_are_the_unit_mean_of_unit_examples(rt):
    """build_prototypes({3 agents with 2, 4, 5 examples, d 7}) -> names in order, (3, 7) = normalize(mean(normalize(x)))."""
    (build_prototypes,) = need(rt, "build_prototypes")
    ex = _examples()
    names, P = build_prototypes({k: v.clone() for k, v in ex.items()})
    if list(names) != list(ex):
        kit.fail("build_prototypes names", yours=list(names), expected=list(ex),
                 hint="keep the dict's insertion order")
    ref_names, ref = prototypes(ex)

    def diagnose(y):
        y = torch.as_tensor(y, dtype=torch.float64)
        raw = torch.stack([unit(v.mean(0)) for v in ex.values()])
        if torch.allclose(y, raw, atol=1e-9):
            return "you average the raw examples: normalise each example first, so large norms do not dominate"
        no_renorm = torch.stack([unit(v).mean(0) for v in ex.values()])
        if torch.allclose(y, no_renorm, atol=1e-9):
            return (
                "the mean of unit vectors is shorter than 1: normalise the mean again"
            )
        return None

    kit.close(P, ref, "prototypes (K, d) = (3, 7)", rtol=_tol(P, 1e-10), atol=_tol(P, 1e-12), dims="K d",
              diagnose=diagnose, hint="normalize(normalize(x).mean(0)) for each agent")


def _fixture_2d(rt, build=True):
    """Agent A: examples (10, 0) and (0, 1); agent C: one example at 26 degrees."""
    a = torch.tensor([[10.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    c = torch.tensor([[math.cos(math.radians(26)), math.sin(math.radians(26))]],
                     dtype=torch.float64) * 3
    return {"A": a, "C": c}


def test_prototype_definition_decides_the_route(rt):
    """2-D: A = {(10, 0), (0, 1)}, C = {26 deg}; a task at 40 deg goes to A (cos 0.9962 vs 0.9703)."""
    build_prototypes, Router = need(rt, "build_prototypes", "Router")
    names, P = build_prototypes(_fixture_2d(rt))
    r = Router(names, P)
    q = torch.tensor(
        [[math.cos(math.radians(40)), math.sin(math.radians(40))]], dtype=torch.float64
    )
    yours = _names(r.route(q * 5))
    if yours != ["A"]:
        P = torch.as_tensor(P, dtype=torch.float64)
        angle = math.degrees(math.atan2(float(P[0, 1]), float(P[0, 0])))
        kit.fail("route of a task at 40 degrees", yours=yours, expected=["A"],
                 diagnosis=f"your prototype for A points at {angle:.1f} degrees (normalised "
                 "examples give 45, the raw mean 5.7): average unit vectors, not raw ones"
                 if abs(angle - 45) > 1e-6 else "A's prototype is right: the scores or the argmax are not",
                 hint="prototype = normalize(mean(normalize(examples))); route to the highest cosine")


def test_scores_are_cosines_whatever_the_query_norm(rt):
    """Router.scores(q (6, 7)) -> (6, 3) cosines with the prototypes, for queries of norms 0.05 to 40."""
    build_prototypes, Router = need(rt, "build_prototypes", "Router")
    ex = _examples()
    names, P = build_prototypes(ex)
    q = _spread(6, 7, 30)
    yours = Router(names, P).scores(q.clone())
    expected = unit(q) @ prototypes(ex)[1].T

    def diagnose(y):
        y = torch.as_tensor(y, dtype=torch.float64)
        if y.shape == (3, 6):
            return "your scores are (K, n): one row per task"
        if torch.allclose(y, q @ prototypes(ex)[1].T, atol=1e-9):
            return "a dot product with the raw query: scores grow with its norm; normalise the query"
        return None

    kit.close(yours, expected, "scores(q) (n, K)", rtol=_tol(yours, 1e-10), atol=_tol(yours, 1e-12),
              dims="n K", diagnose=diagnose,
              hint="normalize(q) @ prototypes.T")
    one = Router(names, P).scores(q[1].clone())
    kit.close(torch.as_tensor(one).reshape(-1), expected[1], "scores of a single (d,) task",
              rtol=_tol(one, 1e-10), atol=_tol(one, 1e-12), dims="K")


def _axes(rt, threshold, margin=0.0):
    (Router,) = need(rt, "Router")
    P = torch.eye(3, dtype=torch.float64)[:2]  # agents along e1 and e2 (d = 3)
    return Router(
        ["left", "right"], P, threshold=threshold, margin=margin, fallback="human"
    )


def test_threshold_lets_equality_through(rt):
    """best < threshold -> fallback; best == threshold -> routed; threshold 0 with every cosine negative -> fallback."""
    q = torch.tensor([[4.0, 0.0, 0.0]], dtype=torch.float64)  # cosines exactly 1 and 0
    cases = [(1.0, q, "left", "best cosine 1.0 == threshold 1.0 (>= lets it through)"),
             (float(np.nextafter(1.0, 2.0)), q, "human", "best cosine 1.0 < threshold 1.0000000000000002"),
             (0.0, torch.tensor([[-1.0, -2.0, 0.5]], dtype=torch.float64), "human",
              "threshold 0.0, cosines -0.44 and -0.87 (a threshold of 0 is a threshold, not 'none')"),
             (-0.5, torch.tensor([[-1.0, -2.0, 0.5]], dtype=torch.float64), "left",
              "threshold -0.5, best cosine -0.44 (negative thresholds are valid)")]
    for threshold, task, expected, what in cases:
        yours = _names(_axes(rt, threshold).route(task))
        if yours != [expected]:
            kit.fail(f"route with {what}", yours=yours, expected=[expected],
                     hint="fallback when best < threshold; the fallback name is Router(..., fallback=...)")


def test_defaults_are_threshold_0_margin_0_and_fallback_named_fallback(rt):
    """Router(names, prototypes): a task with only negative cosines goes to 'fallback'; one at cosine 0.2 is routed."""
    (Router,) = need(rt, "Router")
    r = Router(["left", "right"], torch.eye(3, dtype=torch.float64)[:2])
    task = torch.tensor([[-1.0, -2.0, 0.5], [0.2, 0.1, 0.97]], dtype=torch.float64)
    yours = _names(r.route(task))
    if yours != ["fallback", "left"]:
        kit.fail("routes with the default threshold 0.0, margin 0.0, fallback 'fallback'",
                 yours=yours, expected=["fallback", "left"],
                 hint='def __init__(self, names, prototypes, threshold=0.0, margin=0.0, fallback="fallback")')


def test_margin_sends_close_calls_to_the_fallback(rt):
    """Cosines 0.80 and 0.78: margin 0.05 -> fallback, margin 0.01 -> routed (best - second >= margin)."""
    (Router,) = need(rt, "Router")
    a = math.radians(60)
    P = torch.tensor(
        [[1.0, 0.0, 0.0], [math.cos(a), math.sin(a), 0.0]], dtype=torch.float64
    )
    y = (0.78 - 0.8 * math.cos(a)) / math.sin(a)
    q = torch.tensor([[0.8, y, math.sqrt(1 - 0.64 - y * y)]], dtype=torch.float64) * 2.5
    for margin, expected in ((0.05, "human"), (0.01, "near"), (0.0, "near")):
        r = Router(["near", "far"], P, threshold=0.5, margin=margin, fallback="human")
        yours = _names(r.route(q))
        if yours != [expected]:
            kit.fail(f"route with cosines 0.80 / 0.78 and margin {margin}", yours=yours, expected=[expected],
                     hint="too close to call: best - second < margin (a difference, not a ratio)")
    exact = torch.tensor([[4.0, 0.0, 0.0]], dtype=torch.float64)  # cosines exactly 1 and 0
    for margin, expected in ((1.0, "left"), (float(np.nextafter(1.0, 2.0)), "human")):
        yours = _names(_axes(rt, 0.5, margin).route(exact))
        if yours != [expected]:
            kit.fail(f"route with best - second = 1.0 exactly and margin {margin!r}", yours=yours,
                     expected=[expected], hint="a gap equal to the margin routes (best - second >= margin)")
    one = Router(["near"], P[:1], threshold=0.5, margin=0.3, fallback="human").route(q[0])
    if not (isinstance(one, tuple) and one[0] == "near"):
        kit.fail("route of one (d,) task with a single agent and margin 0.3 (no runner-up: the margin "
                 "cannot apply)", yours=one, expected=("near", 0.8))


def test_route_returns_the_best_cosine_with_the_name(rt):
    """route(q (9, 7)) -> 9 (name, best cosine) pairs; routed or not, the score is the best cosine."""
    build_prototypes, Router = need(rt, "build_prototypes", "Router")
    ex = _examples()
    names, P = build_prototypes(ex)
    q = _spread(9, 7, 40)
    ref_names, ref_P = prototypes(ex)
    s = unit(q) @ ref_P.T
    for threshold, margin in ((-1.0, 0.0), (0.3, 0.0), (0.0, 0.15)):
        out = Router(names, P, threshold=threshold, margin=margin).route(q.clone())
        expected = decide(s, ref_names, threshold, margin)
        if _names(out) != expected:
            kit.fail(f"routes of 9 tasks with threshold {threshold}, margin {margin}", yours=_names(out),
                     expected=expected,
                     diagnosis="your routes are the worst agents: take the argmax of the cosine"
                     if _names(out) == [ref_names[int(i)] for i in s.argmin(1)] else None)
        kit.close([float(x[1]) for x in out], s.max(1).values, "the score returned with each route",
                  rtol=1e-6, atol=1e-7, dims="task")


def test_fit_threshold_picks_the_most_accurate_grid_value(rt):
    """fit_threshold on 5 clusters (d 32) + uniform outliers labelled 'fallback': the reference's threshold; accuracy >= 0.88 on a held-out split."""
    build_prototypes, Router, accuracy = need(
        rt, "build_prototypes", "Router", "accuracy"
    )
    train, (Xf, yf), (Xt, yt) = clusters(kit.seed())
    names, P = build_prototypes(train)
    grid = [i / 100 for i in range(81)]
    # the grid is given largest first: "the smallest of the most accurate" must not
    # depend on the order it comes in
    yours = Router(names, P).fit_threshold(Xf.clone(), list(yf), grid[::-1])
    ref_names, ref_P = prototypes(train)
    s = unit(Xf) @ ref_P.T
    accs = [
        sum(p == t for p, t in zip(decide(s, ref_names, g, 0.0), yf)) / len(yf)
        for g in grid
    ]
    best = max(accs)
    expected = grid[accs.index(best)]  # the smallest threshold with the best accuracy
    if not isinstance(yours, (int, float)) or not math.isclose(
        yours, expected, abs_tol=1e-12
    ):
        diagnosis = None
        ties = [g for g, a in zip(grid, accs) if a == best]
        if isinstance(yours, (int, float)) and yours in ties:
            diagnosis = (
                f"{len(ties)} thresholds tie at accuracy {best:.3f}: take the smallest"
            )
        kit.fail("fit_threshold(q, labels, grid 0.00..0.80)", yours=yours, expected=expected,
                 diagnosis=diagnosis,
                 hint="for each t in grid route with threshold t, count correct routes (a "
                 "'fallback' label is right only if the route is the fallback), keep the best t")
    r = Router(names, P, threshold=expected)
    acc = accuracy(list(yt), _names(r.route(Xt.clone())))
    kit.figure("held-out accuracy", acc, ">=", 0.88)
    if acc < 0.88:
        kit.fail("accuracy on the held-out split with the fitted threshold", yours=round(acc, 4),
                 expected=">= 0.88 (reference 0.913 to 0.953 over 10 seeds)")


def test_confusion_matrix_rows_are_true_labels(rt):
    """confusion_matrix(y_true, y_pred, labels): (L, L), rows true, columns predicted, in labels' order; sums = n."""
    confusion_matrix, accuracy = need(rt, "confusion_matrix", "accuracy")
    labels = ["deploy", "billing", "support", "fallback", "legal"]
    y_true = [
        "deploy",
        "deploy",
        "billing",
        "support",
        "support",
        "support",
        "fallback",
        "billing",
        "deploy",
    ]
    y_pred = [
        "deploy",
        "billing",
        "billing",
        "fallback",
        "support",
        "legal",
        "fallback",
        "deploy",
        "deploy",
    ]
    expected = np.zeros((5, 5), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        expected[labels.index(t), labels.index(p)] += 1
    yours = np.asarray(confusion_matrix(list(y_true), list(y_pred), list(labels)))
    kit.close(yours.tolist(), expected.tolist(), "confusion matrix (L, L) = (5, 5) with labels "
              f"{labels}", rtol=0, atol=0, dims="true predicted",
              diagnose=lambda y: "your matrix is transposed: rows are the true labels"
              if np.array_equal(np.asarray(y), expected.T) else None,
              hint="m[labels.index(true), labels.index(pred)] += 1")
    kit.close(accuracy(list(y_true), list(y_pred)), 5 / 9, "accuracy (5 of 9 routed to their label)",
              rtol=0, atol=1e-12)


def test_knn_router_aggregates_like_semantic_router(rt):
    """Optional KNNRouter (top_k=5 by default): 'sum' favours 4 weak neighbours, 'mean' and 'max' one strong one."""
    kit.skip_unless(rt, "KNNRouter", "KNNRouter")

    def vec(a):
        return [math.cos(math.radians(a)), math.sin(math.radians(a))]

    # The task is at 0 degrees: "strong" has one example at 5 (cos 0.996) and one at 170
    # (cos -0.985, the 6th neighbour); "many" has four at 72 to 73.5 (cos 0.28 to 0.31).
    # With the 5 nearest, sum: many 1.19 > strong 0.996; mean and max: strong.
    # With 4, sum would pick strong; with 6, mean would pick many.
    utter = {"strong": torch.tensor([vec(5), vec(170)], dtype=torch.float64) * 2,
             "many": torch.tensor([vec(a) for a in (72, 72.5, 73, 73.5)], dtype=torch.float64) * 0.5}
    q = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    for aggregation, expected in (
        ("sum", "many"),
        ("mean", "strong"),
        ("max", "strong"),
    ):
        r = rt.KNNRouter(
            {k: v.clone() for k, v in utter.items()}, aggregation=aggregation
        )
        yours = _names(r.route(q))
        if yours != [expected]:
            kit.fail(f"KNNRouter(aggregation={aggregation!r}) route (default top_k 5)", yours=yours,
                     expected=[expected],
                     hint="the top_k nearest examples by cosine vote for their agent; aggregate each "
                     "agent's votes by sum, mean or max; the best aggregate wins")
    one = rt.KNNRouter(utter, top_k=5, aggregation="sum").route(q[0])
    if not (isinstance(one, tuple) and one[0] == "many"):
        kit.fail(
            "KNNRouter.route of one (d,) task", yours=one, expected="('many', 1.19)"
        )


@pytest.mark.parametrize("dtype", [torch.float32])
def test_float32_embeddings_work(rt, dtype):
    """Prototypes and routes from float32 vectors (what encoders return) match the float64 reference at 1e-6."""
    build_prototypes, Router = need(rt, "build_prototypes", "Router")
    ex = _examples()
    names, P = build_prototypes({k: v.to(dtype) for k, v in ex.items()})
    q = _spread(6, 7, 50)
    yours = Router(names, P).scores(q.to(dtype))
    kit.close(torch.as_tensor(yours).double(), unit(q) @ prototypes(ex)[1].T, "float32 scores",
              rtol=1e-5, atol=1e-6, dims="n K")
