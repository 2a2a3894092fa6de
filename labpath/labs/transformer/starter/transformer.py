"""
Lab - the Transformer of "Attention Is All You Need", in plain PyTorch.

Build scaled dot-product attention, multi-head attention, the sinusoidal positional
encoding, a label-smoothed loss, encoder and decoder layers, and the encoder-decoder
model that the checks train on a copy task.
Read README.md in this folder first; check your work with `labpath check transformer`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
torch.nn.functional.scaled_dot_product_attention and torch.nn.MultiheadAttention are
off limits here (the checks use them as the reference).
"""

import math  # noqa: F401  (math.sqrt)

import torch  # noqa: F401  (torch.tril, torch.zeros, ...)
import torch.nn as nn

# ---- attention ----------------------------------------------------------------------


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v over the last two dims.

    q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv) -> (..., Tq, dv). mask is a bool
    tensor that broadcasts to (..., Tq, Tk), True where a query may attend to a key.
    Returning (output, weights) as The Annotated Transformer does is fine too.
    """
    # TODO: scores (..., Tq, Tk) scaled by 1/sqrt(d); blocked scores (mask False) set to
    # -inf or -1e9 before the softmax; softmax over the keys; weighted sum of the values.
    raise NotImplementedError("scaled_dot_product_attention")


def causal_mask(T):
    """(T, T) bool, True on and below the diagonal: position t sees positions 0..t."""
    # TODO: a lower-triangular boolean matrix (torch.tril or torch.triu).
    raise NotImplementedError("causal_mask")


class MultiHeadAttention(nn.Module):
    """n_heads attentions side by side, each on its own d_model/n_heads slice."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must split evenly into heads"
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        # TODO: the projections, as nn.Linear layers: w_q, w_k, w_v, w_o (each
        # d_model -> d_model), or a fused qkv Linear(d_model, 3 * d_model) plus w_o.
        # The README lists every layout the checks can read.
        raise NotImplementedError("MultiHeadAttention.__init__")

    def forward(self, query, key, value, mask=None):
        """query (B, Tq, C), key and value (B, Tk, C), mask (B or 1, Tq or 1, Tk) -> (B, Tq, C)."""
        # TODO: project; split into heads (B, T, C) -> (B, H, T, d_head); give the mask a
        # head axis; attend with your scaled_dot_product_attention; merge the heads back
        # to (B, Tq, C); output projection.
        raise NotImplementedError("MultiHeadAttention.forward")


# ---- positions and the loss ---------------------------------------------------------


def sinusoidal_positional_encoding(max_len, d_model):
    """(max_len, d_model): PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same)."""
    # TODO: one angle per (position, pair of channels); sin on even channels, cos on odd.
    raise NotImplementedError("sinusoidal_positional_encoding")


def label_smoothing_loss(logits, targets, eps=0.1):
    """Cross-entropy against (1 - eps) * one_hot + eps / K, averaged over the N rows.

    logits (N, K), targets (N,) class indices -> a scalar. It must equal
    F.cross_entropy(logits, targets, label_smoothing=eps) (write it without that call).
    """
    # TODO: log-softmax; the usual -log p(target); eps's share spread over all K classes.
    raise NotImplementedError("label_smoothing_loss")


# ---- encoder and decoder layers -----------------------------------------------------


class FeedForward(nn.Module):
    """The position-wise network: Linear(d_model, d_ff), ReLU, Linear(d_ff, d_model)."""

    def __init__(self, d_model, d_ff):
        super().__init__()
        # TODO: the two Linear layers.
        raise NotImplementedError("FeedForward.__init__")

    def forward(self, x):
        raise NotImplementedError("FeedForward.forward")


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped as LayerNorm(x + dropout(sublayer(x)))."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1):
        super().__init__()
        # TODO: a MultiHeadAttention, a FeedForward, two nn.LayerNorm, an nn.Dropout.
        raise NotImplementedError("EncoderLayer.__init__")

    def forward(self, x, mask=None):
        """x (B, S, C), mask (B, 1, S) True at real (non-padding) tokens -> (B, S, C)."""
        # TODO: the two sublayers, each with its residual connection and LayerNorm
        # (post-norm as in the paper, or pre-norm x + sublayer(norm(x)) as the annotated one).
        raise NotImplementedError("EncoderLayer.forward")


class DecoderLayer(nn.Module):
    """Masked self-attention, attention over the encoder's output, then feed-forward."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1):
        super().__init__()
        # TODO: two MultiHeadAttention (self and cross), a FeedForward, three LayerNorm, dropout.
        raise NotImplementedError("DecoderLayer.__init__")

    def forward(self, x, memory, src_mask=None, tgt_mask=None):
        """x (B, T, C) the target so far, memory (B, S, C) the encoder output -> (B, T, C).

        tgt_mask (B or 1, T, T) keeps position t from seeing t+1..; src_mask (B, 1, S)
        hides source padding.
        """
        # TODO: masked self-attention (tgt_mask), cross-attention (queries from x, keys and
        # values from memory, src_mask), feed-forward; each with residual + LayerNorm.
        raise NotImplementedError("DecoderLayer.forward")


# ---- the encoder-decoder model ------------------------------------------------------


class Transformer(nn.Module):
    """Embeddings + positions, n_layers encoder layers, n_layers decoder layers, a linear head."""

    def __init__(self, src_vocab, tgt_vocab, d_model=512, n_heads=8, d_ff=2048, n_layers=6,
                 dropout=0.1, max_len=512):
        super().__init__()
        # TODO: source and target nn.Embedding, the positional encoding as a buffer
        # (register_buffer), n_layers EncoderLayer and DecoderLayer in nn.ModuleList,
        # dropout, and a Linear(d_model, tgt_vocab) head. Xavier-initialise the matrices
        # (see the README: it matters for the copy task).
        raise NotImplementedError("Transformer.__init__")

    def encode(self, src, src_mask=None):
        """src (B, S) -> memory (B, S, C)."""
        # TODO: embed * sqrt(d_model) + positions, then every encoder layer.
        raise NotImplementedError("Transformer.encode")

    def decode(self, memory, src_mask, tgt, tgt_mask):
        """tgt (B, T) -> logits (B, T, tgt_vocab)."""
        # TODO: embed * sqrt(d_model) + positions, every decoder layer, the head.
        raise NotImplementedError("Transformer.decode")

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        """src (B, S), tgt (B, T) token ids -> logits (B, T, tgt_vocab) for the next token."""
        # TODO: encode, then decode (use causal_mask when tgt_mask is None).
        raise NotImplementedError("Transformer.forward")
