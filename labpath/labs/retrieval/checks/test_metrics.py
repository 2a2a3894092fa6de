"""Checks for the IR metrics: recall@k, reciprocal rank, nDCG@k (linear gain) and evaluate.

Fixed cases with known answers (pytrec_eval's README example among them), then 300
seeded random rankings against labpath's reference.
"""

import math
import random

from retrieval_ref import metrics, need

from labpath.checks import kit

RANKED = ["d3", "d1", "d4", "d0", "d2"]
RELEVANT = {"d1", "d2"}


def _random_cases(n=300):
    g = random.Random(kit.seed())
    for _ in range(n):
        docs = [f"d{i}" for i in range(g.randrange(3, 12))]
        g.shuffle(docs)
        ranked = docs[:g.randrange(1, len(docs) + 1)]  # a run may return fewer than all
        judged = g.sample(docs, g.randrange(1, min(4, len(docs)) + 1))
        grades = {d: g.choice([1, 1, 2, 3]) for d in judged}
        yield ranked, grades, g.choice([1, 2, 3, 5, 10])


def test_recall_at_k_is_the_fraction_of_relevant_found(rt):
    """recall_at_k(ranked, relevant, k) = |top k & relevant| / |relevant| (not / k)."""
    (recall_at_k,) = need(rt, "recall_at_k")
    for k, expected in ((1, 0.0), (2, 0.5), (3, 0.5), (5, 1.0), (10, 1.0)):
        yours = recall_at_k(RANKED, RELEVANT, k)
        kit.close(yours, expected, f"recall_at_k({RANKED}, {sorted(RELEVANT)}, k={k})", rtol=0,
                  atol=1e-12, diagnose=lambda y, k=k: "you divide by k: that is precision@k"
                  if math.isclose(float(y), len(RELEVANT & set(RANKED[:k])) / k) else None,
                  hint="divide by the number of relevant documents")
    for ranked, grades, k in _random_cases():
        expected, _, _ = metrics(ranked, grades, k)
        kit.close(recall_at_k(ranked, set(grades), k), expected,
                  f"recall_at_k({ranked}, {sorted(grades)}, k={k})", rtol=0, atol=1e-12)
    kit.close(recall_at_k(RANKED, set(), 5), 0.0, f"recall_at_k({RANKED}, [], k=5)", rtol=0,
              atol=0, hint="nothing relevant: recall 0, as trec_eval reports it")


def test_reciprocal_rank_of_the_first_relevant(rt):
    """reciprocal_rank = 1 / rank of the first relevant document (1-based); 0 when none is found (or none within k)."""
    (reciprocal_rank,) = need(rt, "reciprocal_rank")
    cases = [(RANKED, RELEVANT, None, 0.5), (RANKED, {"d2"}, None, 0.2), (RANKED, {"d9"}, None, 0.0),
             (RANKED, RELEVANT, 1, 0.0), (RANKED, RELEVANT, 2, 0.5), (["d1"], {"d1"}, None, 1.0)]
    for ranked, rel, k, expected in cases:
        yours = (
            reciprocal_rank(ranked, rel)
            if k is None
            else reciprocal_rank(ranked, rel, k=k)
        )
        kit.close(yours, expected, f"reciprocal_rank({ranked}, {sorted(rel)}, k={k})", rtol=0,
                  atol=1e-12, diagnose=lambda y, ranked=ranked, rel=rel: "ranks count from 1, not 0"
                  if any(math.isclose(float(y), 1 / (i + 2)) for i, d in enumerate(ranked) if d in rel)
                  else None)
    for ranked, grades, _ in _random_cases():
        _, expected, _ = metrics(ranked, grades, 1)
        kit.close(reciprocal_rank(ranked, set(grades)), expected,
                  f"reciprocal_rank({ranked}, {sorted(grades)})", rtol=0, atol=1e-12)


def test_ndcg_has_linear_gain_and_an_ideal_of_all_judged_documents(rt):
    """nDCG@k = DCG / ideal DCG with gain rel / log2(rank + 1); the ideal ranks every judged document, retrieved or not."""
    (ndcg_at_k,) = need(rt, "ndcg_at_k")
    cases = [(RANKED, RELEVANT, 3, 0.386853), (RANKED, RELEVANT, 5, 0.624051),
             (["b", "a"], {"a": 3, "b": 1}, 2, 0.796708), (["x", "d2"], {"d2": 1, "d5": 1}, 2, 0.386853),
             (RANKED, {"d1": 0}, 3, 0.0)]  # a query with nothing relevant: 0, not 0/0
    for ranked, rel, k, expected in cases:
        yours = ndcg_at_k(ranked, rel, k)

        def diagnose(y, ranked=ranked, rel=rel, k=k):
            grades = rel if isinstance(rel, dict) else dict.fromkeys(rel, 1)
            dcg_exp = sum(
                (2 ** grades.get(d, 0) - 1) / math.log2(i + 2)
                for i, d in enumerate(ranked[:k])
            )
            ideal = sorted(grades.values(), reverse=True)[:k]
            if math.isclose(
                float(y),
                dcg_exp / sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal)),
            ):
                return "exponential gain 2^rel - 1: this lab (and trec_eval) uses linear gain rel"
            got = sorted((grades.get(d, 0) for d in ranked[:k]), reverse=True)
            idcg = sum(g / math.log2(i + 2) for i, g in enumerate(got))
            dcg = sum(
                grades.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k])
            )
            if idcg and math.isclose(float(y), dcg / idcg):
                return "your ideal DCG uses only the retrieved documents; it must rank all judged ones"
            return None

        kit.close(yours, expected, f"ndcg_at_k({ranked}, {rel}, k={k})", rtol=0, atol=1e-6,
                  diagnose=diagnose)
    for ranked, grades, k in _random_cases():
        _, _, expected = metrics(ranked, grades, k)
        kit.close(ndcg_at_k(ranked, grades, k), expected, f"ndcg_at_k({ranked}, {grades}, k={k})",
                  rtol=0, atol=1e-12)


QRELS = {"q1": {"d2": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d7": 1}, "q4": {"d1": 2}}
RUN_SCORES = {"q1": {"d1": 1.0, "d2": 0.0, "d3": 1.5}, "q2": {"d1": 1.5, "d2": 0.2, "d3": 0.5},
              "q3": {"d1": 0.9, "d2": 0.4}}  # q4 was never run: it counts as 0
RUN_LISTS = {q: sorted(s, key=lambda d: -s[d]) for q, s in RUN_SCORES.items()}


def test_evaluate_averages_over_every_judged_query(rt):
    """evaluate(run, qrels, k_values) -> mean mrr, recall@k, ndcg@k over all 4 judged queries (misses and unrun queries count 0)."""
    (evaluate,) = need(rt, "evaluate")
    expected = {"mrr": (1 / 3 + 1 / 2 + 0 + 0) / 4,
                "recall@1": 0.0, "recall@3": (1 + 1 + 0 + 0) / 4,
                "ndcg@3": (0.5 + 0.693426 + 0 + 0) / 4}
    for shape, run in (("ranked lists", RUN_LISTS), ("{doc: score} dicts", RUN_SCORES)):
        yours = evaluate(run, QRELS, k_values=[1, 3])
        if not isinstance(yours, dict):
            kit.fail("evaluate must return a dict", yours=type(yours).__name__)
        for key, value in expected.items():
            if key not in yours:
                kit.fail(f"evaluate(...) has no key {key!r}", yours=sorted(yours),
                         hint="keys: 'mrr', 'recall@K' and 'ndcg@K' for each K in k_values")

            def diagnose(y, key=key, value=value):
                for n in (2, 3):
                    if math.isclose(float(y), value * 4 / n, rel_tol=1e-6):
                        return f"you average over {n} queries; a query with no hit (or never run) counts as 0 over all 4"
                return None

            kit.close(yours[key], value, f"evaluate(run as {shape}, qrels)[{key!r}]", rtol=0,
                      atol=1e-6, diagnose=diagnose)


def test_evaluate_defaults_to_k_1_5_10(rt):
    """evaluate(run, qrels) without k_values reports recall@1, @5, @10 and ndcg@1, @5, @10."""
    (evaluate,) = need(rt, "evaluate")
    yours = evaluate(RUN_LISTS, QRELS)
    want = ["mrr"] + [f"{m}@{k}" for m in ("recall", "ndcg") for k in (1, 5, 10)]
    missing = [k for k in want if k not in yours]
    if missing:
        kit.fail("keys of evaluate(run, qrels) with the default k_values", yours=sorted(yours),
                 expected=want, hint="def evaluate(run, qrels, k_values=(1, 5, 10))")
    kit.close(
        yours["recall@5"], 0.5, "evaluate(run, qrels)['recall@5']", rtol=0, atol=1e-9
    )
