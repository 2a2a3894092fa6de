"""
GPT-2 as a decoder-only Transformer, written to nanoGPT's interface so that the same
state_dict keys, the same config and the same (logits, loss) convention work unchanged.

Goal: token + position embeddings, n_layer pre-norm blocks (causal self-attention,
then an MLP, each inside a residual connection), a final LayerNorm and a language
model head that reuses the token embedding matrix.

References:
- Radford et al. 2019, "Language Models are Unsupervised Multitask Learners" (GPT-2),
  section 2.3: LayerNorm moved to the input of each sub-block, an extra LayerNorm after
  the last block, residual weights scaled by 1/sqrt(N) at init.
- Vaswani et al. 2017, "Attention Is All You Need" (scaled dot-product attention).
- karpathy/nanoGPT model.py (the interface and module names this file follows) and
  lecture 7 of Neural Networks: Zero to Hero ("Let's build GPT").
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 1024  # longest context the model can see (rows of wpe)
    vocab_size: int = 50304  # GPT-2's 50257 tokens, padded to a multiple of 64
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in the Linears and LayerNorms, as in GPT-2


class LayerNorm(nn.Module):
    """LayerNorm whose bias can be switched off (nn.LayerNorm's bias flag is newer)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    """n_head attention heads in parallel; position t may only look at positions <= t."""

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must split evenly into heads"
        # one Linear computes queries, keys and values of every head at once: (C -> 3C)
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        # mixes the heads' outputs back into the residual stream
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd

    def forward(self, x):
        B, T, C = x.size()
        hs = C // self.n_head  # head size
        # split the fused projection in the order q, k, v (GPT-2 checkpoints use it)
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        # give every head its own slice of channels and move heads next to the batch
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)

        # Causal attention, written out, is five lines:
        #   att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))      # (B, nh, T, T)
        #   mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
        #   att = att.masked_fill(~mask, float("-inf"))  # the future: weight 0
        #   att = self.attn_dropout(F.softmax(att, dim=-1))  # over the keys
        #   y = att @ v                                  # (B, nh, T, hs)
        # Dividing by sqrt(head size) keeps the scores' variance near 1, so softmax
        # does not saturate into a one-hot at init. scaled_dot_product_attention
        # computes exactly this in one fused kernel (nanoGPT uses it too); the checks
        # accept either form, and the lab does not forbid it.
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.attn_dropout.p if self.training else 0.0,
            is_causal=True,
        )
        # put the heads side by side again: (B, T, nh * hs) = (B, T, C)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward network: widen 4x, GELU, project back."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()  # exact (erf) GELU; GPT-2's tanh approximation differs < 5e-4
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """One Transformer layer: communicate (attention), then compute (MLP)."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        # pre-norm: normalise the input of each sub-block, never the residual stream
        # itself, so an identity path runs from the embeddings to ln_f untouched.
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.vocab_size is not None and config.block_size is not None
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # token -> vector
            wpe=nn.Embedding(config.block_size, config.n_embd),  # position -> vector
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying: reading a token in and writing it out use one (V, C) matrix.
        # Assign the Parameter itself (copying values would leave two tensors).
        self.transformer.wte.weight = self.lm_head.weight

        # GPT-2 init: N(0, 0.02) everywhere, zero biases ...
        self.apply(self._init_weights)
        # ... and the projections that write into the residual stream scaled down by
        # sqrt(2 * n_layer): each layer adds two of them, so the sum stays O(1).
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def get_num_params(self, non_embedding=True):
        """Parameter count; parameters() yields the tied matrix once.

        non_embedding leaves out the position embeddings only: the token embeddings
        double as the output layer's weights, so they are counted.
        """
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward(self, idx, targets=None):
        B, T = idx.size()
        # wpe has block_size rows: a longer sequence has no position vectors to use
        assert T <= self.config.block_size, f"sequence of length {T} > block_size {self.config.block_size}"
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)  # (T,)

        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C), broadcast over the batch
        x = self.transformer.drop(tok_emb + pos_emb)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)  # the extra LayerNorm GPT-2 added after the last block

        if targets is not None:
            logits = self.lm_head(x)  # (B, T, V)
            # targets are already the inputs shifted by one (the data gives x and y), so
            # position t is scored against targets[:, t]; -1 marks positions to ignore.
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        else:
            # sampling only needs the next token: project the last position alone
            logits = self.lm_head(x[:, [-1], :])  # (B, 1, V); the list keeps the T axis
            loss = None
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """Extend idx (B, T) by max_new_tokens sampled tokens; call model.eval() first."""
        for _ in range(max_new_tokens):
            # the model has never seen more than block_size positions: keep the latest
            bs = self.config.block_size
            idx_cond = idx if idx.size(1) <= bs else idx[:, -bs:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature  # (B, V) at the last position
            if top_k is not None:
                # keep the k largest logits; the rest get probability 0
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)  # (B, V)
            idx_next = torch.multinomial(probs, num_samples=1)  # (B, 1)
            idx = torch.cat((idx, idx_next), dim=1)  # (B, T + 1)
        return idx
