"""
Lab - retrieval: find the right script for a plain-language question.

Chunk scripts, score the chunks with BM25 and TF-IDF (written yourself) and with
embeddings from your own GPT, fuse the two rankings, and measure recall@k, MRR and
nDCG. Read README.md in this folder first; check your work with `labpath check retrieval`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
rank_bm25 and sklearn.feature_extraction are what the checks compare with: not allowed here.
"""

import ast  # noqa: F401  (ast.parse gives every def/class with lineno and end_lineno)
import math  # noqa: F401
import re  # noqa: F401
from collections import Counter  # noqa: F401
from dataclasses import dataclass

import numpy as np  # noqa: F401
import torch  # noqa: F401

# ---- chunking ---------------------------------------------------------------------


@dataclass
class Chunk:
    path: str  # the script the chunk comes from
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    text: str  # exactly "\n".join(lines[start_line - 1 : end_line])


def chunk_script(path, text, max_lines=40, overlap=10):
    """Cut one script into a list of Chunk.

    Python (path ends in .py and the text parses): one chunk per function or class that
    fits in max_lines lines; a class too long to fit is opened up so that its methods
    are chunks; the lines between definitions, and definitions too long to fit, are cut
    into windows. Anything else (and Python that does not parse): windows of max_lines
    lines starting at line 1, consecutive windows sharing exactly `overlap` lines, the
    last one ending at the last line. Lines come from text.splitlines().
    """
    # TODO: windows first (step = max_lines - overlap), then the Python case with ast.
    raise NotImplementedError("chunk_script")


# ---- tokenizing code --------------------------------------------------------------


def tokenize(text):
    """Return a list of lower-case tokens of text (code or a question).

    Yours to design; splitting identifiers (snake_case and camelCase) into words is what
    lets a question's words meet the code's names.
    """
    # TODO: e.g. words of letters and digits, split on '_' and camelCase, lower-cased.
    raise NotImplementedError("tokenize")


# ---- BM25 -------------------------------------------------------------------------


class BM25:
    """BM25Okapi over a corpus of token lists, with rank_bm25's attributes and get_scores."""

    def __init__(self, corpus, k1=1.5, b=0.75, epsilon=0.25):
        # TODO: set corpus_size, doc_len (tokens per document), avgdl, doc_freqs (a
        # term -> count dict per document) and idf (term -> float):
        # idf = ln(N - n + 0.5) - ln(n + 0.5), n = number of documents holding the term;
        # a negative idf is replaced by epsilon * (mean of all idf values).
        raise NotImplementedError("BM25.__init__")

    def get_scores(self, query):
        """np.ndarray (N,): sum over the query tokens (repeats included) of
        idf * f * (k1 + 1) / (f + k1 * (1 - b + b * |d| / avgdl))."""
        # TODO
        raise NotImplementedError("BM25.get_scores")


# ---- TF-IDF -----------------------------------------------------------------------


class TfidfIndex:
    """TF-IDF with scikit-learn's defaults: idf = ln((1 + N) / (1 + df)) + 1, l2 rows."""

    def __init__(self, docs, sublinear_tf=False, smooth_idf=True):
        # TODO: docs are token lists (or strings: tokenize them). Set vocabulary
        # (term -> column, terms sorted), idf (np.ndarray (V,)) and matrix (np.ndarray
        # (N, V)) of tf * idf rows divided by their l2 norm. sublinear_tf: tf = 1 + ln(tf).
        raise NotImplementedError("TfidfIndex.__init__")

    def scores(self, query):
        """np.ndarray (N,): cosine of the query's tf-idf vector with every row."""
        # TODO: weigh the query like a document (words outside the vocabulary dropped).
        raise NotImplementedError("TfidfIndex.scores")


# ---- dense ------------------------------------------------------------------------


def mean_pool(token_embeddings, attention_mask):
    """(B, T, H), (B, T) -> (B, H): the mean of the vectors where the mask is 1."""
    # TODO: sum(mask * x) / clamp(sum(mask), min=1e-9); padding must never leak.
    raise NotImplementedError("mean_pool")


def cosine_scores(q, d):
    """(Q, H), (N, H) -> (Q, N) cosine similarities."""
    # TODO
    raise NotImplementedError("cosine_scores")


def gpt_hidden_states(model, idx):
    """(B, T) token ids -> (B, T, C): what your nanoGPT-style GPT computes before lm_head."""
    # TODO: wte + wpe, the blocks, ln_f (model.transformer.*).
    raise NotImplementedError("gpt_hidden_states")


class GPTEmbedder:
    """Callable texts -> (N, C) tensor: mean-pooled hidden states of a GPT."""

    def __init__(self, model, encode, block_size=None, batch_size=32):
        self.model, self.encode, self.batch_size = model, encode, batch_size
        self.block_size = block_size or model.config.block_size

    def __call__(self, texts):
        # TODO: encode each text, keep its first block_size ids, pad on the right, build
        # the mask, gpt_hidden_states, mean_pool. Under torch.no_grad() and model.eval().
        raise NotImplementedError("GPTEmbedder.__call__")


# ---- the retriever ----------------------------------------------------------------


class Retriever:
    """Index chunks, then search with method 'bm25', 'dense' or 'hybrid'."""

    def __init__(self, embed=None, k1=1.5, b=0.75, rrf_k=60):
        self.embed = embed  # texts -> (N, H) tensor, for dense and hybrid
        self.k1, self.b, self.rrf_k = k1, b, rrf_k
        self.chunks = []

    def add(self, chunks):
        # TODO: keep the chunks; BM25 over tokenize(chunk.text); embed the texts if embed.
        raise NotImplementedError("Retriever.add")

    def search(self, query, k=5, method="bm25"):
        """list of (chunk, score), best first, at most k; equal scores in insertion order.

        bm25: your BM25's get_scores(tokenize(query)); dense: cosine of the embeddings;
        hybrid: reciprocal rank fusion, sum over both methods of 1 / (rrf_k + rank),
        rank 1 for each method's best chunk.
        """
        # TODO
        raise NotImplementedError("Retriever.search")


# ---- metrics ----------------------------------------------------------------------


def recall_at_k(ranked, relevant, k):
    """Fraction of the relevant ids that are in ranked[:k]."""
    # TODO
    raise NotImplementedError("recall_at_k")


def reciprocal_rank(ranked, relevant, k=None):
    """1 / (1-based rank of the first relevant id), within the first k if k; 0 if none."""
    # TODO
    raise NotImplementedError("reciprocal_rank")


def ndcg_at_k(ranked, relevance, k):
    """nDCG@k, gain rel / log2(rank + 1); relevance is a set (grade 1) or {id: grade}."""
    # TODO: the ideal DCG sorts every judged grade, retrieved or not.
    raise NotImplementedError("ndcg_at_k")


def evaluate(run, qrels, k_values=(1, 5, 10)):
    """{'mrr', 'recall@K', 'ndcg@K'} averaged over every query of qrels.

    run: {qid: ranked list of ids} or {qid: {id: score}}; a query missing from run
    scores 0. qrels: {qid: set of ids} or {qid: {id: grade}}.
    """
    # TODO
    raise NotImplementedError("evaluate")
