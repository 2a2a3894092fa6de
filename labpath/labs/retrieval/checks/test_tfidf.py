"""Checks for TfidfIndex: scikit-learn's TfidfVectorizer defaults, on pre-tokenised documents.

Documents and queries are token lists, so only the weighting is tested. When scikit-learn
is installed the scores are also compared with TfidfVectorizer itself.
"""

import math

import numpy as np
import pytest
from retrieval_ref import TOY, TOY_QUERIES, need, random_corpus, tfidf, tfidf_scores

from labpath.checks import kit


def _corpora():
    docs, queries = random_corpus(kit.seed() + 1, n_docs=8)
    return [("the toy corpus", [d.split() for d in TOY], [q.split() for q in TOY_QUERIES]),
            (f"a random corpus (seed {kit.seed() + 1})", docs, queries)]


def _idf_of(index):
    """(terms, idf values) from `vocabulary` + `idf`, or sklearn's `vocabulary_` + `idf_`."""
    vocab = getattr(index, "vocabulary", None) or getattr(index, "vocabulary_", None)
    idf = getattr(index, "idf", None)
    if idf is None:
        idf = getattr(index, "idf_", None)
    if vocab is None or idf is None:
        kit.fail("TfidfIndex needs `vocabulary` (term -> column) and `idf`",
                 hint="like TfidfVectorizer's vocabulary_ and idf_")
    if isinstance(idf, dict):
        return sorted(idf), [float(idf[t]) for t in sorted(idf)]
    idf = np.asarray(idf, dtype=np.float64)
    return sorted(vocab), [float(idf[vocab[t]]) for t in sorted(vocab)]


def _matrix(index):
    m = getattr(index, "matrix", None)
    if m is None:
        kit.fail("TfidfIndex has no `matrix` (N, V) of document rows")
    if hasattr(m, "toarray"):
        m = m.toarray()
    if hasattr(m, "detach"):
        m = m.detach().cpu().numpy()
    return np.asarray(m, dtype=np.float64)


@pytest.mark.parametrize("smooth", [True, False])
def test_idf_is_scikit_learns(rt, smooth):
    """idf = ln((1 + N) / (1 + df)) + 1 (smooth_idf=True, the default) or ln(N / df) + 1."""
    (TfidfIndex,) = need(rt, "TfidfIndex")
    for what, docs, _ in _corpora():
        index = TfidfIndex(docs, smooth_idf=smooth)
        terms, idf = _idf_of(index)
        ref_terms, ref_idf, _ = tfidf(docs, smooth_idf=smooth)
        if terms != ref_terms:
            kit.fail(f"vocabulary of {what}", yours=terms[:12], expected=ref_terms[:12])
        n = len(docs)
        df = {t: sum(t in d for d in docs) for t in terms}

        def diagnose(y, df=df, n=n, terms=terms):
            for f, name in ((lambda x: math.log(n / x), "ln(N / df) without the + 1"),
                            (lambda x: math.log(n / (x + 1)), "the textbook ln(N / (df + 1))"),
                            (lambda x: math.log((1 + n) / (1 + x)), "ln((1 + N) / (1 + df)) without the + 1"),
                            (lambda x: math.log(n / x) + 1, "ln(N / df) + 1, the unsmoothed idf")):
                if all(
                    math.isclose(a, f(df[t]), abs_tol=1e-9) for a, t in zip(y, terms)
                ):
                    return f"your idf is {name}; scikit-learn's default is ln((1 + N) / (1 + df)) + 1"
            return None

        kit.close(idf, ref_idf, f"idf per term on {what}, smooth_idf={smooth}", rtol=1e-9,
                  atol=1e-9, dims="term", diagnose=diagnose)


def test_documents_given_as_text_are_tokenized(rt):
    """TfidfIndex(texts) is TfidfIndex([tokenize(t) for t in texts]): the same vocabulary and rows."""
    TfidfIndex, tokenize = need(rt, "TfidfIndex", "tokenize")
    texts = list(TOY)
    yours, tokens = TfidfIndex(texts), TfidfIndex([tokenize(t) for t in texts])
    terms, expected = _idf_of(yours)[0], _idf_of(tokens)[0]
    if terms != expected:
        kit.fail("vocabulary of TfidfIndex(texts), against TfidfIndex of their tokenize()",
                 yours=terms[:12], expected=expected[:12],
                 hint="tokenize a str document with your tokenize(); a str iterates by character")
    kit.close(_matrix(yours), _matrix(tokens), "matrix of TfidfIndex(texts)", rtol=1e-12,
              atol=1e-12, dims="document term")


def test_document_rows_are_unit_vectors(rt):
    """Every row of the (N, V) matrix is tf * idf divided by its l2 norm (norm='l2')."""
    (TfidfIndex,) = need(rt, "TfidfIndex")
    for what, docs, _ in _corpora():
        index = TfidfIndex(docs)
        m = _matrix(index)
        terms, _ = _idf_of(index)
        vocab = getattr(index, "vocabulary", None) or index.vocabulary_
        order = [vocab[t] for t in terms]
        _, _, rows = tfidf(docs)
        if m.shape != (len(docs), len(terms)):
            kit.fail(
                f"matrix shape on {what}",
                yours=m.shape,
                expected=(len(docs), len(terms)),
            )
        norms = np.linalg.norm(m, axis=1)
        kit.close(list(norms), [1.0] * len(docs), f"l2 norm of each document row on {what}",
                  rtol=0, atol=1e-9, dims="doc",
                  hint="divide each row by its l2 norm, so cosine is a dot product")
        kit.close(m[:, order].tolist(), rows, f"tf-idf matrix (N, V) on {what}", rtol=1e-9,
                  atol=1e-9, dims="doc term")


@pytest.mark.parametrize("sublinear", [False, True])
def test_scores_are_cosine_with_the_query(rt, sublinear):
    """scores(query tokens) = cosine of the query's tf-idf vector with each row (words no document has are ignored)."""
    (TfidfIndex,) = need(rt, "TfidfIndex")
    try:  # optional cross-check; labpath's reference is the one that counts
        import sklearn.feature_extraction.text as sk
    except ImportError:
        sk = None
    for what, docs, queries in _corpora():
        index = TfidfIndex(docs, sublinear_tf=sublinear)
        for q in queries:
            expected = tfidf_scores(docs, q, sublinear_tf=sublinear)
            raw = tfidf_scores(docs, q, sublinear_tf=sublinear, norm=False)
            yours = index.scores(q)
            yours = yours.tolist() if hasattr(yours, "tolist") else list(yours)

            def diagnose(y, raw=raw, expected=expected):
                if all(
                    math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9)
                    for a, b in zip(y, raw)
                ):
                    return "the document rows are not normalised: long documents win"
                ratio = [a / b for a, b in zip(y, expected) if abs(b) > 1e-12]
                if (
                    ratio
                    and max(ratio) - min(ratio) < 1e-9
                    and abs(ratio[0] - 1) > 1e-6
                ):
                    return "your scores are the cosine times a constant: normalise the query vector too"
                return None

            kit.close(yours, expected, f"scores({q}) on {what}, sublinear_tf={sublinear}",
                      rtol=1e-9, atol=1e-9, dims="doc", diagnose=diagnose,
                      hint="weigh the query like a document (tf * idf, l2 norm), then dot it with each row")
            if sk is not None:  # the same numbers from scikit-learn itself, when installed
                vec = sk.TfidfVectorizer(analyzer=lambda tokens: tokens, sublinear_tf=sublinear)
                m = vec.fit_transform(docs)
                ref = (m @ vec.transform([q]).T).toarray().ravel().tolist()
                kit.close(yours, ref, f"scores({q}) on {what} vs scikit-learn's TfidfVectorizer",
                          rtol=1e-9, atol=1e-9, dims="doc")

    index = TfidfIndex(_corpora()[0][1], sublinear_tf=sublinear)
    none = index.scores(["zzz", "no-such-word"])
    none = none.tolist() if hasattr(none, "tolist") else list(none)
    kit.close(none, [0.0] * len(none), "scores of a query with no word any document has",
              rtol=0, atol=0, dims="doc", hint="its tf-idf vector is all zeros, so is every "
              "cosine: a zero norm is left as it is, never divided by")
