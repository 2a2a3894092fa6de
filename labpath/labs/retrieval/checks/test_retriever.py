"""Checks for Retriever.search: bm25, dense and hybrid (RRF) results, best first, ties in insertion order.

The dense side uses an embedding function the check gives (counts of a few letters), so
no model is needed: only the search itself is tested here.
"""

import pytest
import torch
from retrieval_ref import cosine, need, ranking

from labpath.checks import kit

TEXTS = [
    "def backup_database(bucket):\n    upload(dump_database(), bucket)",
    "def restore_database(path):\n    load(read_backup(path))",
    "def rotate_logs(folder):\n    for log in old_logs(folder):\n        compress(log)",
    "def deploy(app, server):\n    copy(app, server)\n    restart(server)",
    "def disk_usage_alert(limit):\n    if disk_usage() > limit:\n        alert('disk full')",
    "def restart_server(server):\n    stop(server)\n    start(server)",
    "def backup_database(bucket):\n    upload(dump_database(), bucket)",  # the same text: a tie
    "def parse_config(text):\n    return dict(line.split('=') for line in text.splitlines())",
]
QUERIES = ["backup the database to a bucket", "restart the server after deploy",
           "alert when the disk is full", "compress old logs"]


def embed(texts):
    """A check-owned embedding: counts of eight letters, plus one (never a zero vector)."""
    letters = "abdeilrs"
    return torch.tensor(
        [[t.count(c) + 1.0 for c in letters] for t in texts], dtype=torch.float64
    )


def _retriever(rt, chunks=None):
    Retriever, Chunk = need(rt, "Retriever", "Chunk")
    chunks = chunks or [
        Chunk(f"s{i}.py", 1, t.count("\n") + 1, t) for i, t in enumerate(TEXTS)
    ]
    r = Retriever(embed=embed)
    r.add(chunks)
    return r, chunks


def _check_results(results, chunks, expected, what, k):
    """results: (chunk, score) pairs; expected: one reference score per chunk."""
    if not isinstance(results, list) or any(
        not (isinstance(x, tuple) and len(x) == 2) for x in results
    ):
        kit.fail(f"{what}: search must return a list of (chunk, score) tuples",
                 yours=type(results).__name__)
    n = min(k, len(chunks))
    if len(results) != n:
        kit.fail(f"{what}: number of results", yours=len(results), expected=n,
                 hint="k results, or the whole corpus when k is larger")
    where = {c.path: i for i, c in enumerate(chunks)}
    ids = [where.get(getattr(c, "path", None)) for c, _ in results]
    if None in ids:
        kit.fail(f"{what}: a result is not one of the chunks added")
    scores = [float(s) for _, s in results]
    if any(a < b for a, b in zip(scores, scores[1:])):
        kit.fail(f"{what}: scores are not in descending order", yours=scores,
                 diagnosis="your list is sorted ascending (argsort without reversing?)"
                 if scores == sorted(scores) else None)
    kit.close(scores, [expected[i] for i in ids], f"{what}: each result's score", rtol=1e-9,
              atol=1e-12, dims="result")
    ref = ranking(expected)[:n]
    kit.close(scores, [expected[i] for i in ref], f"{what}: the top {n} scores", rtol=1e-9,
              atol=1e-12, dims="result",
              hint="rank every chunk by score, best first, and keep the first k")
    for pos, (mine, best) in enumerate(zip(ids, ref)):
        if mine == best:
            continue
        if abs(expected[mine] - expected[best]) <= 1e-12:  # a tie: the one added first wins
            kit.fail(f"{what}: chunks {best} and {mine} tie; position {pos} holds the one added first",
                     yours=mine, expected=best,
                     hint="sort with a stable sort (sorted, or np.argsort(kind='stable')) on -score")
        kit.fail(f"{what}: the chunk at position {pos}", yours=mine, expected=best)


def _bm25_reference(rt, chunks, query):
    BM25, tokenize = need(rt, "BM25", "tokenize")
    bm = BM25([tokenize(c.text) for c in chunks])
    return [float(s) for s in bm.get_scores(tokenize(query))]


def test_bm25_search_returns_the_top_k_by_get_scores(rt):
    """search(q, k=3, method='bm25'): 3 (chunk, score) pairs, scores = your BM25.get_scores over tokenize(chunk.text)."""
    r, chunks = _retriever(rt)
    for q in QUERIES:
        expected = _bm25_reference(rt, chunks, q)
        _check_results(
            r.search(q, k=3, method="bm25"),
            chunks,
            expected,
            f"search({q!r}, k=3, 'bm25')",
            3,
        )


def test_search_defaults_to_bm25_with_k_5(rt):
    """search(q) is search(q, k=5, method='bm25')."""
    r, chunks = _retriever(rt)
    q = QUERIES[0]
    _check_results(
        r.search(q), chunks, _bm25_reference(rt, chunks, q), f"search({q!r})", 5
    )


def test_k_larger_than_the_corpus_returns_every_chunk(rt):
    """search(q, k=50) on 8 chunks returns all 8, zero scores included, equal scores in insertion order."""
    r, chunks = _retriever(rt)
    for q in QUERIES:
        _check_results(r.search(q, k=50, method="bm25"), chunks, _bm25_reference(rt, chunks, q),
                       f"search({q!r}, k=50, 'bm25')", 50)


def test_each_add_adds_to_the_corpus(rt):
    """add(first 3 chunks), then add(the other 5): search sees all 8, as after one add of all."""
    Retriever, Chunk = need(rt, "Retriever", "Chunk")
    chunks = [Chunk(f"s{i}.py", 1, t.count("\n") + 1, t) for i, t in enumerate(TEXTS)]
    r = Retriever(embed=embed)
    r.add(chunks[:3])
    r.add(chunks[3:])
    for q in QUERIES:
        _check_results(r.search(q, k=50, method="bm25"), chunks, _bm25_reference(rt, chunks, q),
                       f"after two add() calls, search({q!r}, k=50, 'bm25')", 50)


def test_dense_search_ranks_by_cosine(rt):
    """method='dense': score = cosine(embed([query]), embed(chunk texts)) for each chunk."""
    r, chunks = _retriever(rt)
    docs = embed([c.text for c in chunks])
    for q in QUERIES:
        expected = cosine(embed([q]), docs)[0].tolist()
        _check_results(
            r.search(q, k=4, method="dense"),
            chunks,
            expected,
            f"search({q!r}, k=4, 'dense')",
            4,
        )


def _rrf(lists, k):
    fused = [0.0] * len(lists[0])
    for scores in lists:
        for rank, i in enumerate(ranking(scores), start=1):
            fused[i] += 1.0 / (k + rank)
    return fused


def test_hybrid_search_is_reciprocal_rank_fusion(rt):
    """method='hybrid': score = 1/(rrf_k + bm25 rank) + 1/(rrf_k + dense rank), ranks from 1, rrf_k = 60."""
    r, chunks = _retriever(rt)
    k = 60  # Retriever's default rrf_k, Cormack et al.'s constant
    docs = embed([c.text for c in chunks])
    for q in QUERIES:
        expected = _rrf(
            [_bm25_reference(rt, chunks, q), cosine(embed([q]), docs)[0].tolist()], k
        )

        try:
            _check_results(
                r.search(q, k=5, method="hybrid"),
                chunks,
                expected,
                f"search({q!r}, k=5, 'hybrid')",
                5,
            )
        except kit.CheckFailure as exc:
            zero = _rrf(
                [_bm25_reference(rt, chunks, q), cosine(embed([q]), docs)[0].tolist()],
                k - 1,
            )
            yours = [float(s) for _, s in r.search(q, k=len(chunks), method="hybrid")]
            if sorted(yours, reverse=True) == pytest.approx(
                sorted(zero, reverse=True), abs=1e-12
            ):
                exc.fields["diagnosis"] = (
                    "your ranks start at 0: RRF uses 1/(k + rank) with rank 1 for the best"
                )
            raise
