"""
One GPT-2 Transformer block, written to nanoGPT's names so that its
state_dict keys map onto nanoGPT's and the gpt2 lab's blocks.

Goal: the block maps the residual stream x of shape (B, T, C) to a stream of the same
shape, exactly as GPT-2's (and nanoGPT's) block does: causal self-attention, then an
MLP, each a residual sub-block with its own LayerNorm.

References:
- Radford et al. 2019, "Language Models are Unsupervised Multitask Learners" (GPT-2),
  section 2.3 (what changed from GPT-1).
- Vaswani et al. 2017, "Attention Is All You Need" (scaled dot-product attention).
- Ba et al. 2016, "Layer Normalization".
- karpathy/nanoGPT model.py (the module names this file follows).
"""

import math

import torch
import torch.nn as nn
from torch.nn import functional as F


class LayerNorm(nn.Module):
    """LayerNorm whose bias can be switched off, as in nanoGPT."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None
        self.eps = 1e-5

    def forward(self, x):
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, keepdim=True, correction=0)
        x = (x - mean) / torch.sqrt(var + self.eps)
        x = x * self.weight
        if self.bias is not None:
            x = x + self.bias
        return x


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, as in GPT-2."""

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        T = config.block_size
        mask = torch.tril(torch.ones(T, T))
        self.register_buffer("mask", mask.view(1, 1, T, T), persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        hs = C // self.n_head
        k, q, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)

        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C))
        att = self.attn_dropout(att)
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """The position-wise feed-forward network of GPT-2."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        x = self.c_fc(x)
        x = self.gelu(x)
        x = self.c_proj(x)
        x = self.dropout(x)
        return x


class Block(nn.Module):
    """One Transformer layer: the tokens communicate (attention), then compute (MLP)."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        h = self.ln_1(x)
        x = h + self.attn(h)
        x = x + self.mlp(self.ln_2(x))
        return x
