"""
Retrieval over a corpus of scripts: chunk them, score the chunks against a question with
BM25 and TF-IDF (lexical) and with GPT embeddings (dense), fuse the two, and measure how
often the right chunk comes back.

Goal: the pieces of a search engine small enough to read in one sitting -
- chunking: one chunk per Python function or class (ast), overlapping line windows for
  everything else, each chunk keeping its path and 1-based inclusive line range;
- BM25 with rank_bm25's BM25Okapi interface and formula (Robertson's idf with an
  epsilon floor for terms in more than half the documents);
- TF-IDF with scikit-learn's TfidfVectorizer defaults (smoothed idf + 1, l2 rows);
- dense: mean-pooled hidden states of your Phase 1 GPT, compared by cosine;
- hybrid: reciprocal rank fusion (RRF) of the BM25 and dense rankings;
- metrics: recall@k, reciprocal rank, nDCG@k (linear gain), averaged over all queries.

References:
- Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and Beyond".
- dorianbrown/rank_bm25, rank_bm25.py (BM25Okapi: the interface and formula followed here).
- scikit-learn, sklearn/feature_extraction/text.py (TfidfVectorizer / TfidfTransformer).
- Reimers & Gurevych 2019, "Sentence-BERT" (mean pooling of token embeddings).
- Cormack, Clarke & Buettcher 2009, "Reciprocal Rank Fusion outperforms Condorcet and
  individual Rank Learning Methods" (RRF, k = 60).
- Jarvelin & Kekalainen 2002, "Cumulated gain-based evaluation of IR techniques" (nDCG).
"""

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

# -----------------------------------------------------------------------------
# chunking


@dataclass
class Chunk:
    path: str  # the script the chunk comes from
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    text: str  # exactly "\n".join(lines[start_line - 1 : end_line])


def _windows(lo, hi, max_lines, overlap):
    """Line ranges [s, e] of width max_lines covering lo..hi, consecutive ones sharing `overlap` lines."""
    assert 0 <= overlap < max_lines, "overlap must be smaller than max_lines"
    step = max_lines - overlap
    spans, s = [], lo
    while True:
        e = min(s + max_lines - 1, hi)
        spans.append((s, e))
        if e == hi:
            return spans
        s += step


def _python_spans(body, max_lines):
    """Split the statements `body` into whole-definition spans.

    Every function or class that fits in max_lines becomes its own span, from its first
    decorator to its last line. A class that is too long is opened up and its methods
    become spans. Lines between definitions (imports, constants, module code) are left
    to the caller, which windows them. Returns a list of (start, end, whole) where whole
    says the span must not be cut.
    """
    spans = []
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        end = node.end_lineno
        if end - start + 1 <= max_lines:
            spans.append((start, end, True))
        elif isinstance(node, ast.ClassDef):
            spans.extend(_python_spans(node.body, max_lines))
        else:
            spans.append((start, end, False))  # a very long function: windowed below
    return spans


def chunk_script(path, text, max_lines=40, overlap=10):
    """Cut one script into chunks: per function/class for Python, overlapping windows otherwise."""
    lines = text.splitlines()
    n = len(lines)
    if n == 0:
        return []
    ranges = None
    if path.endswith(".py"):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = None  # not valid Python (a template, a Python 2 script): use windows
        if tree is not None:
            ranges = []
            covered = 0  # last line already inside a definition
            for start, end, whole in _python_spans(tree.body, max_lines):
                if start > covered + 1:  # the code between two definitions
                    ranges += _windows(covered + 1, start - 1, max_lines, overlap)
                ranges += [(start, end)] if whole else _windows(start, end, max_lines, overlap)
                covered = max(covered, end)
            if covered < n:
                ranges += _windows(covered + 1, n, max_lines, overlap)
    if ranges is None:
        ranges = _windows(1, n, max_lines, overlap)
    chunks = []
    for s, e in ranges:
        body = "\n".join(lines[s - 1 : e])
        if body.strip():  # a gap made only of blank lines carries nothing to find
            chunks.append(Chunk(path, s, e, body))
    return chunks


# -----------------------------------------------------------------------------
# tokenizing code


_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def tokenize(text):
    """Lower-cased word pieces: identifiers split on '_' and camelCase, one-letter pieces dropped.

    getHTTPResponse_code -> ['get', 'http', 'response', 'code']. Splitting identifiers is
    what lets the question "read the response code" meet the code `resp.status_code`.
    """
    out = []
    for word in _WORD.findall(text):  # '_' is not in the class, so snake_case splits here
        for piece in _CAMEL.findall(word):
            if len(piece) > 1:
                out.append(piece.lower())
    return out


# -----------------------------------------------------------------------------
# BM25 (Okapi), with rank_bm25's interface


class BM25:
    """BM25Okapi over a corpus of token lists (rank_bm25's attributes and get_scores)."""

    variant = "okapi"  # Robertson's idf with an epsilon floor, as rank_bm25.BM25Okapi

    def __init__(self, corpus, k1=1.5, b=0.75, epsilon=0.25):
        self.k1, self.b, self.epsilon = k1, b, epsilon
        self.corpus_size = len(corpus)  # N
        self.doc_len = [len(doc) for doc in corpus]  # |d|, in tokens
        self.avgdl = sum(self.doc_len) / self.corpus_size  # mean |d|
        self.doc_freqs = [Counter(doc) for doc in corpus]  # f(t, d) for every document
        df = Counter()  # n_t: in how many documents t appears (not how often)
        for freqs in self.doc_freqs:
            df.update(freqs.keys())
        N = self.corpus_size
        self.idf = {t: math.log(N - n + 0.5) - math.log(n + 0.5) for t, n in df.items()}
        # A term in more than half the documents gets a negative idf: matching it would
        # push a document *down*. rank_bm25 replaces those by epsilon * the average idf,
        # the average taken over all terms before the replacement.
        self.average_idf = sum(self.idf.values()) / len(self.idf)
        floor = self.epsilon * self.average_idf
        for t, v in self.idf.items():
            if v < 0:
                self.idf[t] = floor

    def get_scores(self, query):
        """BM25 score of every document for a list of query tokens: (N,) float64."""
        scores = np.zeros(self.corpus_size)
        dl = np.array(self.doc_len, dtype=np.float64)
        norm = self.k1 * (1 - self.b + self.b * dl / self.avgdl)  # (N,) length normalisation
        for q in query:  # a repeated query token counts again, as in rank_bm25
            f = np.array([freqs.get(q, 0) for freqs in self.doc_freqs], dtype=np.float64)
            scores += self.idf.get(q, 0.0) * f * (self.k1 + 1) / (f + norm)
        return scores


# -----------------------------------------------------------------------------
# TF-IDF with scikit-learn's defaults


class TfidfIndex:
    """TF-IDF rows (smoothed idf + 1, l2-normalised), scored by cosine, like TfidfVectorizer."""

    def __init__(self, docs, sublinear_tf=False, smooth_idf=True):
        docs = [tokenize(d) if isinstance(d, str) else list(d) for d in docs]
        self.sublinear_tf, self.smooth_idf = sublinear_tf, smooth_idf
        self.vocabulary = {t: i for i, t in enumerate(sorted({t for d in docs for t in d}))}
        n, V = len(docs), len(self.vocabulary)
        counts = np.zeros((n, V))  # (N, V) raw term counts
        for i, d in enumerate(docs):
            for t, c in Counter(d).items():
                counts[i, self.vocabulary[t]] = c
        df = (counts > 0).sum(0)  # (V,)
        if smooth_idf:  # as if one extra document contained every term once
            self.idf = np.log((1 + n) / (1 + df)) + 1
        else:
            self.idf = np.log(n / df) + 1
        self.matrix = self._weigh(counts)  # (N, V), unit rows

    def _weigh(self, counts):
        tf = np.where(counts > 0, 1 + np.log(np.maximum(counts, 1)), 0.0) if self.sublinear_tf else counts
        w = tf * self.idf
        norms = np.linalg.norm(w, axis=-1, keepdims=True)
        return w / np.where(norms == 0, 1.0, norms)  # an empty row stays zero

    def scores(self, query):
        """Cosine of the query's tf-idf vector with every document row: (N,)."""
        query = tokenize(query) if isinstance(query, str) else query
        counts = np.zeros(len(self.vocabulary))
        for t in query:
            if t in self.vocabulary:  # a word no document has adds no dimension
                counts[self.vocabulary[t]] += 1
        q = self._weigh(counts[None, :])[0]  # (V,)
        return self.matrix @ q  # rows are unit vectors, so the dot product is the cosine


# -----------------------------------------------------------------------------
# dense: pooling, cosine, and embeddings from your GPT


def mean_pool(token_embeddings, attention_mask):
    """Mean of the token vectors where the mask is 1: (B, T, H), (B, T) -> (B, H)."""
    m = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)  # (B, T, 1)
    summed = (token_embeddings * m).sum(1)  # (B, H); padded positions contribute 0
    count = m.sum(1).clamp(min=1e-9)  # (B, 1); an empty text gives 0, not 0/0
    return summed / count


def cosine_scores(q, d):
    """Cosine similarity of every query with every document: (Q, H), (N, H) -> (Q, N)."""
    q = q / q.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    d = d / d.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return q @ d.T


def gpt_hidden_states(model, idx):
    """The last hidden states of a nanoGPT-style GPT, after ln_f: (B, T) -> (B, T, C).

    The same computation as GPT.forward up to, but not including, lm_head.
    """
    tr = model.transformer
    B, T = idx.shape
    pos = torch.arange(T, device=idx.device)  # (T,)
    x = tr.drop(tr.wte(idx) + tr.wpe(pos))  # (B, T, C)
    for block in tr.h:
        x = block(x)
    return tr.ln_f(x)


class GPTEmbedder:
    """texts -> (N, C) vectors: the GPT's hidden states, mean-pooled over the real tokens.

    encode turns a string into token ids (the character ids your GPT was trained on);
    a text longer than the block size keeps its first block_size tokens. Texts are padded
    on the right: the model is causal, so padding after a token cannot change it.
    """

    def __init__(self, model, encode, block_size=None, batch_size=32):
        self.model, self.encode, self.batch_size = model, encode, batch_size
        self.block_size = block_size or model.config.block_size

    @torch.no_grad()
    def __call__(self, texts):
        self.model.eval()
        device = next(self.model.parameters()).device
        out = []
        for i in range(0, len(texts), self.batch_size):
            ids = [self.encode(t)[: self.block_size] for t in texts[i : i + self.batch_size]]
            T = max(1, max(len(x) for x in ids))
            idx = torch.zeros((len(ids), T), dtype=torch.long)  # (B, T)
            mask = torch.zeros((len(ids), T), dtype=torch.long)  # (B, T)
            for r, x in enumerate(ids):
                idx[r, : len(x)] = torch.tensor(x, dtype=torch.long)
                mask[r, : len(x)] = 1
            h = gpt_hidden_states(self.model, idx.to(device))  # (B, T, C)
            out.append(mean_pool(h, mask.to(device)).float().cpu())
        return torch.cat(out)  # (N, C)


# -----------------------------------------------------------------------------
# the retriever


def _ranking(scores):
    """Indices by score descending; equal scores keep insertion order (a stable sort)."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


class Retriever:
    """Index chunks once, then answer questions with bm25, dense or hybrid (RRF) search."""

    def __init__(self, embed=None, k1=1.5, b=0.75, rrf_k=60):
        self.embed = embed  # texts -> (N, H) tensor; needed for dense and hybrid
        self.k1, self.b, self.rrf_k = k1, b, rrf_k
        self.chunks = []

    def add(self, chunks):
        self.chunks += list(chunks)
        self.bm25 = BM25([tokenize(c.text) for c in self.chunks], k1=self.k1, b=self.b)
        self.vectors = None
        if self.embed is not None:
            self.vectors = torch.as_tensor(self.embed([c.text for c in self.chunks]))

    def scores(self, query, method="bm25"):
        """One score per chunk, in insertion order."""
        if method == "bm25":
            return [float(s) for s in self.bm25.get_scores(tokenize(query))]
        if method == "dense":
            assert self.vectors is not None, "dense search needs Retriever(embed=...)"
            q = torch.as_tensor(self.embed([query])).to(self.vectors.dtype)  # (1, H)
            return cosine_scores(q, self.vectors)[0].tolist()
        if method == "hybrid":
            # RRF: each method votes 1 / (k + rank); agreeing near the top beats being
            # first on one list only. Ranks, not scores, so BM25's and cosine's scales
            # never have to be made comparable.
            fused = [0.0] * len(self.chunks)
            for m in ("bm25", "dense"):
                for rank, i in enumerate(_ranking(self.scores(query, m)), start=1):
                    fused[i] += 1.0 / (self.rrf_k + rank)
            return fused
        raise ValueError(f"unknown method {method!r}: bm25, dense or hybrid")

    def search(self, query, k=5, method="bm25"):
        """The k best (chunk, score) pairs, best first; ties in insertion order."""
        s = self.scores(query, method)
        return [(self.chunks[i], s[i]) for i in _ranking(s)[:k]]


# -----------------------------------------------------------------------------
# metrics on ranked lists of ids


def recall_at_k(ranked, relevant, k):
    """Fraction of the relevant ids found in the top k."""
    relevant = set(relevant)
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked, relevant, k=None):
    """1 / rank of the first relevant id (within the top k if given), 0 if none."""
    relevant = set(relevant)
    for rank, doc in enumerate(ranked[:k] if k else ranked, start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked, relevance, k):
    """nDCG@k with linear gain rel / log2(rank + 1); relevance is a set or {id: grade}."""
    if not isinstance(relevance, dict):
        relevance = {doc: 1 for doc in relevance}
    dcg = sum(relevance.get(doc, 0) / math.log2(r + 1) for r, doc in enumerate(ranked[:k], start=1))
    # the ideal list: every judged document, best grade first - not just the ones retrieved
    ideal = sorted(relevance.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(r + 1) for r, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def evaluate(run, qrels, k_values=(1, 5, 10)):
    """Mean mrr, recall@k and ndcg@k over every query in qrels (a query never run scores 0).

    run maps a query id to a ranked list of doc ids, or to {doc id: score} (pytrec_eval's
    shape, sorted here by score, ties in insertion order). qrels maps a query id to a set
    of relevant ids or to {doc id: grade}.
    """
    totals = {"mrr": 0.0}
    for k in k_values:
        totals[f"recall@{k}"] = totals[f"ndcg@{k}"] = 0.0
    for qid, rel in qrels.items():
        ranked = run.get(qid, [])
        if isinstance(ranked, dict):
            ranked = sorted(ranked, key=lambda d: -ranked[d])
        relevant = {d for d, g in rel.items() if g > 0} if isinstance(rel, dict) else set(rel)
        totals["mrr"] += reciprocal_rank(ranked, relevant)
        for k in k_values:
            totals[f"recall@{k}"] += recall_at_k(ranked, relevant, k)
            totals[f"ndcg@{k}"] += ndcg_at_k(ranked, rel, k)
    return {name: v / len(qrels) for name, v in totals.items()}
