"""labpath's own retrieval references: BM25 variants, TF-IDF, pooling, metrics, the stdlib corpus.

Written from the formulas (rank_bm25's BM25Okapi, scikit-learn's TfidfTransformer,
sentence-transformers' mean pooling, trec_eval's linear-gain nDCG), not from the lab's
solution, so that a check compares two independent computations.
"""

from __future__ import annotations

import ast
import math
import random
import re
import sysconfig
from pathlib import Path

import torch

from labpath.checks import kit


def need(module, *names):
    """Fail with a plain sentence when the learner's module lacks a name the check uses."""
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        kit.fail(f"your retrieval.py defines no {', '.join(missing)}",
                 hint="keep the names of the interface in README.md")
    return [getattr(module, n) for n in names]


# chunk_script's window loop ends when a window reaches the last line; one that never
# does keeps appending windows. A file takes milliseconds in the reference; past this
# the check fails at the line the loop was on, before the memory fills.
CHUNK_LIMIT = 5.0
CHUNK_HINT = (
    "each window starts max_lines - overlap lines after the one before, and the "
    "loop ends once a window reaches the last line"
)


def chunk(chunk_script, path, text, **kw):
    """chunk_script(path, text, **kw) under CHUNK_LIMIT; after one call has overrun,
    the next ones fail at once."""
    what = f"chunk_script({path!r}, <{len(text.splitlines())} lines>)"
    with kit.within(CHUNK_LIMIT, what, hint=CHUNK_HINT, key="chunk_script"):
        return chunk_script(path, text, **kw)


# The toy corpus of six one-line scripts (whitespace tokens).
TOY = [
    "backup database nightly to s3 bucket",
    "restore database from s3 backup",
    "rotate application logs and compress old logs",
    "deploy application to staging server",
    "check disk usage and alert when disk is full",
    "restart application server after deploy",
]
TOY_QUERIES = [
    "restore backup",
    "disk full alert",
    "application server",
    "disk disk usage",  # a repeated query token counts twice
    "deploy to kubernetes",  # an unknown token adds nothing
]


def random_corpus(seed: int, n_docs: int = 9):
    """Documents of distinct lengths over a skewed vocabulary: some terms sit in more than
    half the documents (negative Okapi idf), some in exactly one."""
    g = random.Random(seed)
    vocab = [f"w{i}" for i in range(13)]
    weights = [1.0 / (i + 1) ** 1.1 for i in range(13)]
    docs = []
    for d in range(n_docs):
        length = 3 + 2 * d + g.randrange(2)  # 3..20 tokens, all different lengths
        docs.append(g.choices(vocab, weights, k=length))
    queries = [
        ["w0", "w1"],
        ["w0", "w0", "w5"],
        ["w2", "w7", "w12"],
        ["w3", "w9", "nope"],
        vocab[:6],
    ]
    return docs, queries


# --- BM25 ---------------------------------------------------------------------------


def bm25_scores(
    corpus,
    query,
    k1=1.5,
    b=0.75,
    epsilon=0.25,
    idf="okapi",
    avgdl="tokens",
    k1_plus_1=True,
    swap_b=False,
    dedup=False,
    floor=True,
    df="docs",
    presence="paper",
):
    """(idf dict, avgdl, scores list) for one query. The keyword flags reproduce mistakes
    so that a check can name the one a learner's numbers match."""
    N = len(corpus)
    counts = [{} for _ in corpus]
    for c, doc in zip(counts, corpus):
        for t in doc:
            c[t] = c.get(t, 0) + 1
    n = {}
    for c in counts:
        for t, f in c.items():
            n[t] = n.get(t, 0) + (1 if df == "docs" else f)
    lengths = [len(d) for d in corpus]
    mean_len = (
        sum(lengths) / N if avgdl == "tokens" else sum(len(set(d)) for d in corpus) / N
    )
    table = {}
    for t, nt in n.items():
        if idf == "okapi":
            table[t] = math.log(N - nt + 0.5) - math.log(nt + 0.5)
        elif idf == "lucene":
            table[t] = math.log(1 + (N - nt + 0.5) / (nt + 0.5))
        elif idf == "no_half":
            table[t] = math.log((N - nt) / nt) if nt < N else -math.inf
        elif idf == "bm25l":
            table[t] = math.log(N + 1) - math.log(nt + 0.5)
        elif idf == "bm25+":
            table[t] = math.log(N + 1) - math.log(nt)
    if idf in ("okapi", "no_half") and floor:
        finite = [v for v in table.values() if math.isfinite(v)]
        eps = epsilon * sum(finite) / len(table)
        for t in table:
            if table[t] < 0:
                table[t] = eps
    scores = []
    for c, L in zip(counts, lengths):
        s = 0.0
        for q in set(query) if dedup else query:
            if q not in table:
                continue
            f = c.get(q, 0)
            if swap_b:
                K = k1 * ((1 - b) * L / mean_len + b)
            else:
                K = k1 * (1 - b + b * L / mean_len)
            # BM25L and BM25+ exist in three forms: Lv & Zhai's (only terms present in
            # the document count), rank_bm25 0.2.2's BM25L (times f) and rank_bm25's
            # BM25Plus / later BM25L (every document gets the delta).
            w = {"paper": 1.0 if f else 0.0, "count": float(f), "all": 1.0}[presence]
            if idf == "bm25l":
                ctd = f / (1 - b + b * L / mean_len)
                s += w * table[q] * (k1 + 1) * (ctd + 0.5) / (k1 + ctd + 0.5)
            elif idf == "bm25+":
                s += w * table[q] * (1.0 + f * (k1 + 1) / (K + f))
            else:
                s += table[q] * f * ((k1 + 1) if k1_plus_1 else 1.0) / (f + K)
        scores.append(s)
    return table, mean_len, scores


# Mistakes a learner's BM25 can make, as flags of bm25_scores, with what to tell them.
BM25_MISTAKES = [
    (
        dict(df="collection"),
        "idf counts how often a term occurs in the whole corpus; "
        "it must count in how many documents it occurs (document frequency)",
    ),
    (
        dict(avgdl="unique"),
        "avgdl is the mean number of distinct terms per document; "
        "it is the mean length in tokens",
    ),
    (
        dict(k1_plus_1=False),
        "your scores are the reference divided by (k1 + 1): the "
        "numerator is f * (k1 + 1) (same ranking, different scores)",
    ),
    (
        dict(swap_b=True),
        "b is applied to the wrong term: the length norm is 1 - b + b * |d| / avgdl",
    ),
    (
        dict(dedup=True),
        "repeated query tokens are counted once (set(query)); rank_bm25 "
        "counts each occurrence",
    ),
    (
        dict(floor=False),
        "negative idf values (terms in more than half the documents) are "
        "kept negative; rank_bm25 replaces them by epsilon * the average idf",
    ),
    (
        dict(idf="no_half"),
        "idf is ln((N - n) / n) without the +0.5 smoothing: "
        "ln(N - n + 0.5) - ln(n + 0.5)",
    ),
    (
        dict(idf="lucene"),
        "this is Lucene's idf ln(1 + (N - n + 0.5) / (n + 0.5)); set "
        "variant = 'lucene' on your class to be checked against it",
    ),
]


# --- TF-IDF -------------------------------------------------------------------------


def tfidf(docs, smooth_idf=True, sublinear_tf=False):
    """(terms sorted, idf list, rows as lists of floats, unit l2) of pre-tokenised docs."""
    terms = sorted({t for d in docs for t in d})
    col = {t: j for j, t in enumerate(terms)}
    n = len(docs)
    dfs = [0] * len(terms)
    for d in docs:
        for t in set(d):
            dfs[col[t]] += 1
    idf = [
        (math.log((1 + n) / (1 + x)) if smooth_idf else math.log(n / x)) + 1
        for x in dfs
    ]
    rows = [_weigh(d, col, idf, sublinear_tf) for d in docs]
    return terms, idf, rows


def _weigh(tokens, col, idf, sublinear_tf):
    row = [0.0] * len(col)
    for t in tokens:
        if t in col:
            row[col[t]] += 1.0
    row = [
        ((1 + math.log(c)) if sublinear_tf and c > 0 else c) * w
        for c, w in zip(row, idf)
    ]
    norm = math.sqrt(sum(v * v for v in row))
    return [v / norm for v in row] if norm > 0 else row


def tfidf_scores(docs, query, smooth_idf=True, sublinear_tf=False, norm=True):
    terms, idf, rows = tfidf(docs, smooth_idf, sublinear_tf)
    col = {t: j for j, t in enumerate(terms)}
    q = _weigh(query, col, idf, sublinear_tf)
    if not norm:  # the no-normalisation mistake: raw tf-idf dot products
        rows = [[c * w for c, w in zip(_counts(d, col), idf)] for d in docs]
    return [sum(a * b for a, b in zip(r, q)) for r in rows]


def _counts(tokens, col):
    row = [0.0] * len(col)
    for t in tokens:
        row[col[t]] += 1.0
    return row


# --- dense --------------------------------------------------------------------------


def mean_pool(x, mask):
    """sentence-transformers' mean pooling: sum(mask * x) / clamp(sum(mask), 1e-9)."""
    m = mask[..., None].double()
    return (x.double() * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)


def cosine(q, d):
    qn = q.double() / q.double().norm(dim=1, keepdim=True)
    dn = d.double() / d.double().norm(dim=1, keepdim=True)
    return qn @ dn.T


# --- metrics ------------------------------------------------------------------------


def metrics(ranked, rel, k):
    """(recall@k, RR over the full list, nDCG@k linear gain) of one query."""
    grades = rel if isinstance(rel, dict) else dict.fromkeys(rel, 1)
    relevant = [d for d, g in grades.items() if g > 0]
    top = ranked[:k]
    recall = sum(1 for d in relevant if d in top) / len(relevant)
    rr = 0.0
    for i, d in enumerate(ranked):
        if grades.get(d, 0) > 0:
            rr = 1.0 / (i + 1)
            break
    dcg = sum(grades.get(d, 0) / math.log2(i + 2) for i, d in enumerate(top))
    best = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(best))
    return recall, rr, dcg / idcg


# --- the stdlib corpus for the end-to-end check -------------------------------------

# Standard-library modules present in every CPython from 3.10 on (a file or a package).
STDLIB_MODULES = (
    "argparse base64 calendar configparser csv difflib fractions ftplib functools "
    "gettext glob gzip heapq inspect ipaddress mailbox netrc ntpath os pathlib pickle "
    "platform plistlib posixpath pprint random shlex shutil smtplib statistics string "
    "subprocess tarfile tempfile textwrap threading tokenize traceback uuid zipfile "
    "urllib/parse email/utils http/client logging/__init__ json/decoder collections/__init__"
).split()


def first_sentence(doc: str) -> str:
    para = " ".join(doc.strip().split("\n\n")[0].split())
    return re.split(r"(?<=[.!?])\s", para, maxsplit=1)[0].rstrip(".")


def stdlib_functions(min_words: int = 5):
    """(id, docstring's first sentence, function source without its docstring) of every
    function in STDLIB_MODULES whose first sentence has at least min_words words."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for mod in STDLIB_MODULES:
        path = root / f"{mod}.py"
        if not path.is_file():
            path = root / mod / "__init__.py"
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            query = first_sentence(doc)
            if len(query.split()) < min_words:
                continue
            ds = node.body[0]  # the docstring statement: cut it out of the document
            body = (
                lines[node.lineno - 1 : ds.lineno - 1]
                + lines[ds.end_lineno : node.end_lineno]
            )
            text = "\n".join(body)
            out.append((f"{mod}.py:{node.lineno}:{node.name}", query, text))
    return out


def sample(items, n, seed):
    """n items drawn reproducibly (the order of the corpus is kept)."""
    g = random.Random(seed)
    keep = sorted(g.sample(range(len(items)), min(n, len(items))))
    return [items[i] for i in keep]


def code_tokens(text: str) -> list[str]:
    """The reference tokenizer: identifiers split on '_' and camelCase, lower-cased,
    pieces of one character dropped."""
    out = []
    for word in re.findall(r"[A-Za-z0-9]+", text):
        for piece in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", word):
            if len(piece) >= 2:
                out.append(piece.lower())
    return out


def ranking(scores):
    """Indices by score descending, ties in index order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def bm25_all(corpus, queries, k1=1.5, b=0.75, epsilon=0.25):
    """Okapi BM25 scores of every query against every document (the same formula as
    bm25_scores, with the corpus statistics computed once)."""
    N = len(corpus)
    tf = [{} for _ in corpus]
    for c, doc in zip(tf, corpus):
        for t in doc:
            c[t] = c.get(t, 0) + 1
    df = {}
    for c in tf:
        for t in c:
            df[t] = df.get(t, 0) + 1
    idf = {t: math.log(N - n + 0.5) - math.log(n + 0.5) for t, n in df.items()}
    eps = epsilon * sum(idf.values()) / len(idf)
    idf = {t: (v if v >= 0 else eps) for t, v in idf.items()}
    mean_len = sum(len(d) for d in corpus) / N
    K = [k1 * (1 - b + b * len(d) / mean_len) for d in corpus]
    postings = {}  # term -> [(doc, f)]
    for i, c in enumerate(tf):
        for t, f in c.items():
            postings.setdefault(t, []).append((i, f))
    out = []
    for q in queries:
        s = [0.0] * N
        for t in q:
            for i, f in postings.get(t, ()):
                s[i] += idf[t] * f * (k1 + 1) / (f + K[i])
        out.append(s)
    return out
