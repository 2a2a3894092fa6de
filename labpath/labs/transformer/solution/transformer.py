"""
The Transformer of "Attention Is All You Need", built from plain PyTorch pieces:
scaled dot-product attention, multi-head attention, sinusoidal positional encoding,
a label-smoothed loss, encoder and decoder layers, and the encoder-decoder model.

The layers follow the paper (post-norm: LayerNorm(x + Sublayer(x))); The Annotated
Transformer puts the norm first instead, and both are fine here.

References:
- Vaswani et al. 2017, Attention Is All You Need, sections 3.1-3.5 and 5.4
  (https://arxiv.org/abs/1706.03762)
- The Annotated Transformer (https://nlp.seas.harvard.edu/annotated-transformer/)
"""

import math

import torch
import torch.nn as nn

# ---- attention ----------------------------------------------------------------------


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v over the last two dims.

    q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv); mask is a bool tensor that
    broadcasts to (..., Tq, Tk), True where a query may attend to a key.
    """
    d = q.size(-1)  # the width of one head's queries and keys
    # Dot products grow like sqrt(d) for unit-variance inputs; dividing by sqrt(d) keeps
    # the softmax out of its flat, saturated region where gradients vanish.
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., Tq, Tk)
    if mask is not None:
        # a blocked key gets -inf, so exp() makes its weight exactly 0
        scores = scores.masked_fill(~mask, float("-inf"))
    p = scores.softmax(dim=-1)  # (..., Tq, Tk): each query's weights over the keys sum to 1
    return p @ v  # (..., Tq, dv): a weighted average of the values


def causal_mask(T):
    """(T, T) bool, True on and below the diagonal: position t sees positions 0..t."""
    # triu(diagonal=1) marks the strict future (j > t); everything else may be attended
    return ~torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


class MultiHeadAttention(nn.Module):
    """n_heads attentions side by side, each on its own d_model/n_heads slice."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must split evenly into heads"
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        # one projection each for queries, keys, values and the merged output
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_o = nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        """query (B, Tq, C), key and value (B, Tk, C), mask (B or 1, Tq or 1, Tk) -> (B, Tq, C)."""
        B, Tq, C = query.shape
        Tk = key.size(1)
        H, dh = self.n_heads, self.d_head
        # project, cut the channels into H heads of dh, and move heads next to batch so
        # every head attends independently: (B, T, C) -> (B, T, H, dh) -> (B, H, T, dh)
        q = self.w_q(query).view(B, Tq, H, dh).transpose(1, 2)  # (B, H, Tq, dh)
        k = self.w_k(key).view(B, Tk, H, dh).transpose(1, 2)  # (B, H, Tk, dh)
        v = self.w_v(value).view(B, Tk, H, dh).transpose(1, 2)  # (B, H, Tk, dh)
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)  # (B, 1, Tq, Tk): the same mask for every head
        y = scaled_dot_product_attention(q, k, v, mask)  # (B, H, Tq, dh)
        # merge the heads back: (B, H, Tq, dh) -> (B, Tq, H, dh) -> (B, Tq, C)
        y = y.transpose(1, 2).contiguous().view(B, Tq, C)
        return self.w_o(y)  # mixes what the heads found


# ---- positions and the loss ---------------------------------------------------------


def sinusoidal_positional_encoding(max_len, d_model):
    """(max_len, d_model): PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same)."""
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d/2,): 0, 2, 4, ...
    # one wavelength per pair of channels, from 2*pi up to 10000*2*pi
    angle = pos / 10000 ** (two_i / d_model)  # (T, d/2)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)  # even channels
    # odd channels: the same angle, so PE[pos + k] is a fixed rotation of PE[pos]
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


def label_smoothing_loss(logits, targets, eps=0.1):
    """Cross-entropy against (1 - eps) * one_hot + eps / K, averaged over the N rows.

    logits (N, K), targets (N,) class indices. Equal to
    F.cross_entropy(logits, targets, label_smoothing=eps).
    """
    logp = logits.log_softmax(dim=-1)  # (N, K)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (N,): -log p(true class)
    # eps is spread evenly over all K classes (the true one included): its share of the
    # loss is the mean of -log p over the classes
    uniform = -logp.mean(dim=-1)  # (N,)
    return ((1 - eps) * nll + eps * uniform).mean()


# ---- encoder and decoder layers -----------------------------------------------------


class FeedForward(nn.Module):
    """The position-wise network: the same two-layer MLP applied at every position."""

    def __init__(self, d_model, d_ff):
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.w_2(torch.relu(self.w_1(x)))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped as LayerNorm(x + dropout(sublayer(x)))."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        """x (B, S, C), mask (B, 1, S) True at real (non-padding) tokens -> (B, S, C)."""
        # the residual path carries x through untouched; the sublayer only adds a correction
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))
        x = self.norm2(x + self.dropout(self.ff(x)))
        return x


class DecoderLayer(nn.Module):
    """Masked self-attention, attention over the encoder's output, then feed-forward."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = FeedForward(d_model, d_ff)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, memory, src_mask=None, tgt_mask=None):
        """x (B, T, C) the target so far, memory (B, S, C) the encoder output -> (B, T, C).

        tgt_mask (B or 1, T, T) keeps position t from seeing t+1..; src_mask (B, 1, S)
        hides source padding.
        """
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, tgt_mask)))
        # queries from the decoder, keys and values from the source sentence
        x = self.norm2(x + self.dropout(self.cross_attn(x, memory, memory, src_mask)))
        x = self.norm3(x + self.dropout(self.ff(x)))
        return x


# ---- the encoder-decoder model ------------------------------------------------------


class Transformer(nn.Module):
    """Embeddings + positions, n_layers encoder layers, n_layers decoder layers, a linear head."""

    def __init__(self, src_vocab, tgt_vocab, d_model=512, n_heads=8, d_ff=2048, n_layers=6,
                 dropout=0.1, max_len=512):
        super().__init__()
        self.d_model = d_model
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        # fixed, not learned: a buffer moves with .to() / .double() but gets no gradient
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model))
        self.encoder = nn.ModuleList(
            [EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers)])
        self.decoder = nn.ModuleList(
            [DecoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers)])
        self.dropout = nn.Dropout(dropout)
        self.lm_head = nn.Linear(d_model, tgt_vocab)
        # Xavier init for every matrix, as The Annotated Transformer does: with the
        # sqrt(d_model) scaling below, N(0, 1) embeddings would drown the positions
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def embed(self, table, idx):
        T = idx.size(1)
        # section 3.4: embeddings are multiplied by sqrt(d_model) before adding positions
        x = table(idx) * math.sqrt(self.d_model) + self.pe[:T]  # (B, T, C)
        return self.dropout(x)

    def encode(self, src, src_mask=None):
        x = self.embed(self.src_embed, src)  # (B, S, C)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return x  # (B, S, C): the "memory" every decoder layer attends to

    def decode(self, memory, src_mask, tgt, tgt_mask):
        x = self.embed(self.tgt_embed, tgt)  # (B, T, C)
        for layer in self.decoder:
            x = layer(x, memory, src_mask, tgt_mask)
        return self.lm_head(x)  # (B, T, tgt_vocab)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None):
        """src (B, S), tgt (B, T) token ids -> logits (B, T, tgt_vocab) for the next token."""
        if tgt_mask is None:
            tgt_mask = causal_mask(tgt.size(1)).unsqueeze(0).to(tgt.device)  # (1, T, T)
        return self.decode(self.encode(src, src_mask), src_mask, tgt, tgt_mask)
