"""
LoRA from scratch: fine-tune a frozen network by learning a low-rank update.

Goal: wrap a frozen nn.Linear (weight W0, shape (out, in)) so that its output becomes
h = W0 x + b + (alpha / r) * B A x, where A is (r, in) and B is (out, r) with r much
smaller than in and out. Only A and B are trained: for a 768 -> 2304 layer and r = 8
that is 24,576 numbers instead of 1,769,472. Because B starts at zero, the wrapped
model computes exactly what the pretrained one did until the first update.

References:
- Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models",
  https://arxiv.org/abs/2106.09685 (section 4.1: the update, its init and alpha / r).
- microsoft/LoRA loralib/layers.py (A as (r, in), B as (out, r), kaiming-uniform A,
  zero B, dropout on the LoRA input, merge into the frozen weight).
- huggingface/peft src/peft/tuners/lora (target-module suffix matching, the same
  init, merge/unmerge, the parameter counts it prints).
"""

import math

import torch
import torch.nn as nn


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable rank-r update scaled by alpha / r."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base  # the very same module: its weight stays shared (tied) if it was
        self.r = r
        self.alpha = alpha
        # alpha / r keeps the size of the update roughly independent of r, so changing
        # the rank does not mean re-tuning the learning rate (paper, section 4.1)
        self.scaling = alpha / r
        # the pretrained weights never change: no gradients, no optimizer state
        base.weight.requires_grad_(False)
        if base.bias is not None:
            base.bias.requires_grad_(False)

        w = base.weight
        kw = dict(dtype=w.dtype, device=w.device)
        # A reads the input, B writes the output: delta W = B @ A is (out, in) like W0
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **kw))  # (r, in)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **kw))  # (out, r)
        # A random, B zero: delta W = 0 at the start, yet the gradient of B is not zero
        # (it is dL/dh times A x). A's gradient is B^T times that, zero until B moves.
        # If both started at zero, neither would ever move. nn.Linear's default init
        # (uniform in +-1/sqrt(in)) is what loralib and peft use for A.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        # dropout regularises the LoRA path only; the frozen path sees the clean input
        self.dropout = nn.Dropout(dropout)
        self.merged = False

    def delta_weight(self):
        """The update in the frozen weight's layout: scaling * B @ A, (out, in)."""
        return (self.lora_B @ self.lora_A) * self.scaling  # (out, r) @ (r, in)

    def forward(self, x):
        y = self.base(x)  # (..., out), the pretrained layer unchanged
        if self.merged:
            return y  # the update already lives inside base.weight
        # go through the rank-r bottleneck: never build the (out, in) matrix here
        z = self.dropout(x) @ self.lora_A.T  # (..., in) @ (in, r) -> (..., r)
        return y + (z @ self.lora_B.T) * self.scaling  # (..., r) @ (r, out) -> (..., out)

    @torch.no_grad()
    def merge(self):
        """Fold the update into base.weight: inference then costs nothing extra."""
        if self.merged:
            return  # merging twice would add the update twice
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self):
        """Take the update out of base.weight again (up to rounding), e.g. to train on."""
        if not self.merged:
            return
        self.base.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self):
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:g}, merged={self.merged}"


def _matches(name, targets):
    # peft's list semantics: the full name, or a suffix that starts at a dot, so that
    # "c_proj" hits "attn.c_proj" and "mlp.c_proj" but never "mlp.xc_proj"
    return any(name == t or name.endswith("." + t) for t in targets)


def apply_lora(model, target_names, r, alpha, dropout=0.0):
    """Wrap every nn.Linear named by target_names in a LoRALinear and freeze the rest."""
    # collect first, replace afterwards: changing modules while iterating over them
    # would also visit the freshly made wrappers (and their .base)
    found = [(n, m) for n, m in model.named_modules() if n and _matches(n, target_names)]
    if not found:
        raise ValueError(f"no module of the model matches {list(target_names)}")
    for name, module in found:
        if not isinstance(module, nn.Linear):
            raise ValueError(f"{name} is a {type(module).__name__}, not an nn.Linear")
    # everything pretrained is frozen: embeddings, LayerNorms, untargeted Linears
    for p in model.parameters():
        p.requires_grad_(False)
    for name, module in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(module, r, alpha, dropout))
    return model


def count_parameters(model):
    """(trainable, total) numbers of parameters, each tensor counted once.

    model.parameters() already yields a shared tensor once (the tied wte / lm_head
    matrix of GPT-2); the state_dict instead lists it under both names.
    """
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    return trainable, total


def lora_state_dict(model):
    """Only the LoRA tensors: what a fine-tune has to save (megabytes, not gigabytes)."""
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}
