"""Checks for BM25: rank_bm25's BM25Okapi interface and formula (Lucene's idf accepted).

The corpora are token lists given to your class directly, so only the weighting is
tested, never your tokenizer. rank_bm25.BM25Okapi itself passes these checks.
"""

import math

import pytest
from retrieval_ref import (
    BM25_MISTAKES,
    TOY,
    TOY_QUERIES,
    bm25_scores,
    need,
    random_corpus,
)

from labpath.checks import kit

VARIANTS = {"okapi": "okapi", "bm25okapi": "okapi", "robertson": "okapi",
            "lucene": "lucene", "bm25l": "bm25l", "bm25+": "bm25+", "bm25plus": "bm25+"}


def _corpora():
    docs, queries = random_corpus(kit.seed())
    return [("the toy corpus", [d.split() for d in TOY], [q.split() for q in TOY_QUERIES]),
            (f"a random corpus (seed {kit.seed()})", docs, queries)]


def _build(rt, corpus, k1=1.5, b=0.75):
    (BM25,) = need(rt, "BM25")
    try:
        return BM25(corpus, k1=k1, b=b, epsilon=0.25)
    except TypeError:  # BM25L / BM25+ take delta, not epsilon
        return BM25(corpus, k1=k1, b=b)


def _variant(bm, corpus):
    """The variant the learner names, else the one its idf table matches (okapi by default)."""
    named = getattr(type(bm), "variant", None) or getattr(bm, "variant", None)
    if isinstance(named, str) and named.lower() in VARIANTS:
        return VARIANTS[named.lower()]
    name = type(bm).__name__.lower()  # rank_bm25's classes: BM25Okapi, BM25L, BM25Plus
    for key in ("bm25l", "bm25plus"):
        if name == key:
            return VARIANTS[key]
    idf = getattr(bm, "idf", None)
    if isinstance(idf, dict) and idf:
        lucene, _, _ = bm25_scores(corpus, [], idf="lucene")
        if all(
            math.isclose(float(idf.get(t, math.nan)), v, abs_tol=1e-9)
            for t, v in lucene.items()
        ):
            return "lucene"
    return "okapi"


def _note(variant):
    if variant == "okapi":
        return
    try:
        path = kit.artifact_path(
            "test_get_scores_match_the_bm25_formula", "bm25-variant.txt"
        )
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"your BM25 was checked as variant '{variant}': a different but standard "
                     "BM25; rank_bm25's BM25Okapi uses ln(N - n + 0.5) - ln(n + 0.5) with an "
                     "epsilon floor (see rank_bm25 issue #39 for the zero-idf case)\n")
    except OSError:
        pass


def _diagnose(corpus, query, variant):
    def diagnose(yours):
        for flags, message in BM25_MISTAKES:
            if variant != "okapi" and flags.get("idf") == "lucene":
                continue
            try:
                _, _, wrong = bm25_scores(corpus, query, **{"idf": variant, **flags})
            except (ValueError, ZeroDivisionError):
                continue
            if all(
                math.isclose(float(y), w, rel_tol=1e-7, abs_tol=1e-9)
                for y, w in zip(yours, wrong)
            ):
                return message
        return None

    return diagnose


def test_corpus_statistics_match_rank_bm25(rt):
    """corpus_size, doc_len and avgdl (mean length in tokens) on two corpora of distinct document lengths."""
    for what, corpus, _ in _corpora():
        bm = _build(rt, corpus)
        for attr in ("corpus_size", "avgdl", "doc_len", "idf"):
            if not hasattr(bm, attr):
                kit.fail(f"your BM25 has no attribute {attr}",
                         hint="keep rank_bm25's attributes: corpus_size, avgdl, doc_len, doc_freqs, idf")
        if bm.corpus_size != len(corpus):
            kit.fail(
                f"corpus_size on {what}", yours=bm.corpus_size, expected=len(corpus)
            )
        kit.close(
            list(bm.doc_len),
            [len(d) for d in corpus],
            f"doc_len on {what}",
            rtol=0,
            atol=0,
        )
        expected = sum(len(d) for d in corpus) / len(corpus)
        unique = sum(len(set(d)) for d in corpus) / len(corpus)
        kit.close(bm.avgdl, expected, f"avgdl on {what}", rtol=1e-12, atol=1e-12,
                  diagnose=lambda y, unique=unique: "avgdl counts distinct terms per document; "
                  "it is the mean length in tokens" if math.isclose(float(y), unique) else None)


def test_idf_matches_rank_bm25(rt):
    """idf[t] = ln(N - n + 0.5) - ln(n + 0.5), negative values replaced by 0.25 * the mean idf (or Lucene's idf)."""
    for what, corpus, _ in _corpora():
        bm = _build(rt, corpus)
        variant = _variant(bm, corpus)
        table, _, _ = bm25_scores(corpus, [], idf=variant)
        idf = getattr(bm, "idf", None)
        if not isinstance(idf, dict):
            kit.fail("BM25.idf must be a dict term -> idf", yours=type(idf).__name__)
        terms = sorted(table)
        if sorted(idf) != terms:
            kit.fail(f"the terms of idf on {what}", yours=sorted(idf)[:12], expected=terms[:12],
                     hint="idf has one entry per distinct term of the corpus")
        yours = [float(idf[t]) for t in terms]

        def diagnose(y, corpus=corpus, terms=terms):
            for flags, message in BM25_MISTAKES:
                if "idf" in flags or "df" in flags or "floor" in flags:
                    try:
                        wrong, _, _ = bm25_scores(corpus, [], **flags)
                    except (ValueError, ZeroDivisionError):
                        continue
                    if all(
                        math.isclose(a, wrong[t], abs_tol=1e-9)
                        for a, t in zip(y, terms)
                    ):
                        return message
            return None

        kit.close(yours, [table[t] for t in terms], f"idf per term ({variant}) on {what}",
                  rtol=1e-9, atol=1e-9, dims="term", diagnose=diagnose,
                  hint="n is the number of documents containing the term")


def test_a_term_in_exactly_half_the_documents(rt):
    """'application' is in 3 of 6 toy documents: Okapi idf is exactly 0 (rank_bm25 issue #39), Lucene's is ln 2."""
    corpus = [d.split() for d in TOY]
    bm = _build(rt, corpus)
    variant = _variant(bm, corpus)
    expected = {"okapi": 0.0, "lucene": math.log(2)}.get(variant)
    if expected is None:
        pytest.skip(f"variant {variant}: this case is about Okapi and Lucene idf")
    kit.close(float(bm.idf["application"]), expected, f"idf['application'] ({variant})",
              rtol=0, atol=1e-12,
              hint="ln(N - n + 0.5) - ln(n + 0.5) = ln(3.5) - ln(3.5) = 0; a zero idf is not "
              "negative, so the epsilon floor does not apply")


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.3)])
def test_get_scores_match_the_bm25_formula(rt, k1, b):
    """get_scores(query) equals sum over query tokens of idf * f * (k1 + 1) / (f + k1 * (1 - b + b * |d| / avgdl))."""
    for what, corpus, queries in _corpora():
        bm = _build(rt, corpus, k1=k1, b=b)
        variant = _variant(bm, corpus)
        _note(variant)
        for query in queries:
            scores = bm.get_scores(query)
            _, _, expected = bm25_scores(corpus, query, k1=k1, b=b, idf=variant)
            if variant in ("bm25l", "bm25+"):  # accept each published form of these two
                forms = [bm25_scores(corpus, query, k1=k1, b=b, idf=variant, presence=p)[2]
                         for p in ("paper", "count", "all")]
                expected = next((f for f in forms if all(math.isclose(float(y), e, rel_tol=1e-9, abs_tol=1e-9)
                                                         for y, e in zip(scores, f))), forms[0])
            kit.close(list(scores), expected,
                      f"get_scores({query}) with k1={k1}, b={b} on {what} ({variant})",
                      rtol=1e-9, atol=1e-9, dims="doc",
                      diagnose=_diagnose(corpus, query, variant) if (k1, b) == (1.5, 0.75) else None,
                      hint="each occurrence of a query token adds its term; an unknown token adds 0")


def test_defaults_are_rank_bm25s(rt):
    """BM25(corpus) without options is k1=1.5, b=0.75, epsilon=0.25: get_scores returns N floats in corpus order."""
    (BM25,) = need(rt, "BM25")
    for what, corpus, queries in _corpora():
        bm = BM25(corpus)
        variant = _variant(bm, corpus)
        for query in queries:
            scores = bm.get_scores(query)
            try:
                n = len(scores)
            except TypeError:
                kit.fail(
                    "get_scores must return one score per document",
                    yours=type(scores).__name__,
                )
            if n != len(corpus):
                kit.fail("len(get_scores(query))", yours=n, expected=len(corpus))
            _, _, expected = bm25_scores(corpus, query, idf=variant)
            if variant in ("okapi", "lucene"):
                kit.close(list(scores), expected, f"BM25(corpus).get_scores({query}) on {what} with the defaults",
                          rtol=1e-9, atol=1e-9, dims="doc",
                          hint="def __init__(self, corpus, k1=1.5, b=0.75, epsilon=0.25), as rank_bm25")
