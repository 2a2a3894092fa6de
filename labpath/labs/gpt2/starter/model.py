"""
Lab - gpt2: a GPT-2 model to nanoGPT's interface.

Build a decoder-only Transformer whose module names, config and forward convention are
nanoGPT's, so a nanoGPT state_dict (and GPT-2's weights) would load into it unchanged.
Read README.md in this folder first; check your work with `labpath check gpt2`, then
train it with labpath's labs/gpt2/run.py (see the README).

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import math  # noqa: F401  (1 / math.sqrt(head size), the init of c_proj)
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F  # noqa: F401


@dataclass
class GPTConfig:
    block_size: int = 1024  # longest context (rows of the position embedding)
    vocab_size: int = 50304  # GPT-2's 50257 tokens padded to a multiple of 64
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in Linears and LayerNorms, as in GPT-2


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (weight starts at 1, bias at 0, eps 1e-5)."""

    def __init__(self, ndim, bias):
        super().__init__()
        # TODO: a weight Parameter of ones and, if bias, a bias Parameter of zeros
        # (else self.bias = None).
        raise NotImplementedError("LayerNorm.__init__")

    def forward(self, x):
        # TODO: F.layer_norm over the last axis.
        raise NotImplementedError("LayerNorm.forward")


class CausalSelfAttention(nn.Module):
    """n_head heads of masked self-attention computed together."""

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        # TODO: c_attn = Linear(n_embd, 3 * n_embd) for q, k, v of all heads at once,
        # c_proj = Linear(n_embd, n_embd), both with bias=config.bias; attn_dropout and
        # resid_dropout; keep n_head and n_embd; and a lower-triangular causal mask of
        # size (block_size, block_size) as a buffer (register_buffer, persistent=False
        # keeps it out of the state_dict).
        raise NotImplementedError("CausalSelfAttention.__init__")

    def forward(self, x):
        B, T, C = x.size()
        # TODO: q, k, v = self.c_attn(x).split(C, dim=2) (in that order); reshape each to
        # (B, n_head, T, head size); scores q @ k^T / sqrt(head size); hide the future
        # with -inf; softmax over the keys; dropout; weights @ v; heads back to (B, T, C);
        # c_proj and resid_dropout.
        raise NotImplementedError("CausalSelfAttention.forward")


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        # TODO: c_fc (n_embd -> 4 * n_embd), GELU, c_proj (4 * n_embd -> n_embd), dropout.
        raise NotImplementedError("MLP.__init__")

    def forward(self, x):
        raise NotImplementedError("MLP.forward")


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        # TODO: ln_1, attn, ln_2, mlp (these names: they are nanoGPT's state_dict keys).
        raise NotImplementedError("Block.__init__")

    def forward(self, x):
        # TODO: pre-norm residual blocks: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
        raise NotImplementedError("Block.forward")


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        # TODO: self.transformer = nn.ModuleDict(dict(wte=..., wpe=..., drop=...,
        # h=nn.ModuleList([...]), ln_f=...)) and a bias-free lm_head; tie lm_head's
        # weight to wte's (assign the Parameter, do not copy it); then GPT-2's init:
        # N(0, 0.02) for Linear and Embedding weights, zero biases, and
        # N(0, 0.02 / sqrt(2 * n_layer)) for every c_proj.weight.
        raise NotImplementedError("GPT.__init__")

    def get_num_params(self, non_embedding=True):
        # TODO: count parameters (the tied matrix once); non_embedding subtracts wpe only.
        raise NotImplementedError("GPT.get_num_params")

    def forward(self, idx, targets=None):
        # TODO: refuse T > block_size; token + position embeddings, dropout, the blocks,
        # ln_f. With targets: logits (B, T, V) and
        # F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1);
        # without: logits of the last position only, (B, 1, V), and loss None.
        raise NotImplementedError("GPT.forward")

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        # TODO: max_new_tokens times: crop idx to the last block_size tokens, forward,
        # take the last position's logits / temperature, keep the top_k largest if
        # given (-inf elsewhere), softmax, sample with torch.multinomial, append.
        raise NotImplementedError("GPT.generate")
