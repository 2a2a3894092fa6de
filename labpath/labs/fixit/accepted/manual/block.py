"""
A correct GPT-2 block written by hand another way: the mask made on the fly with -1e9
instead of -inf, heads kept as (B, T, nh, hs) and contracted with einsum, separate q, k, v
Linears' worth of slicing done by chunk, LayerNorm with torch.var(unbiased=False), a
functional dropout that honours self.training, and the config's bias flag.
"""

import math

import torch
import torch.nn as nn
from torch.nn import functional as F


class LayerNorm(nn.Module):
    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        mu = x.mean(-1, keepdim=True)
        sigma2 = torch.var(x, -1, unbiased=False, keepdim=True)
        y = (x - mu) * torch.rsqrt(sigma2 + 1e-5) * self.weight
        return y if self.bias is None else y + self.bias


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head

    def forward(self, x):
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        q, k, v = (t.reshape(B, T, nh, hs) for t in self.c_attn(x).chunk(3, dim=-1))
        att = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(hs)  # (B, nh, T, T)
        future = torch.ones(T, T, device=x.device).triu(1).bool()  # made on the fly
        att = att.masked_fill(future, -1e9)
        att = self.attn_dropout(att.softmax(-1))
        y = torch.einsum("bhqk,bkhd->bqhd", att, v).reshape(B, T, C)  # (B, T, nh, hs) -> (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)
        self.p = config.dropout

    def forward(self, x):
        return F.dropout(self.c_proj(F.gelu(self.c_fc(x))), self.p, training=self.training)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        h = x + self.attn(self.ln_1(x))
        out = h + self.mlp(self.ln_2(h))
        return out
