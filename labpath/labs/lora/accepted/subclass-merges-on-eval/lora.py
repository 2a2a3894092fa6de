"""LoRA as a subclass of nn.Linear that shares the wrapped layer's weight and bias.

eval() folds the update into the weight and train() takes it out again, so inference
in eval mode costs one plain matmul; merge() and unmerge() do the same by hand.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LoRALinear(nn.Linear):
    def __init__(self, base, r, alpha, dropout=0.0):
        nn.Module.__init__(self)  # nn.Linear's own __init__ would allocate a new weight
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight  # the very tensor: a tied weight stays tied
        self.bias = base.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.r, self.lora_alpha, self.scaling = r, alpha, alpha / r
        kw = dict(dtype=self.weight.dtype, device=self.weight.device)
        self.lora_A = nn.Parameter(torch.empty(r, self.in_features, **kw))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, **kw))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_dropout = nn.Dropout(dropout)
        self.merged = False

    def _delta(self):
        return self.lora_B @ self.lora_A * self.scaling

    @torch.no_grad()
    def merge(self):
        if not self.merged:
            self.weight += self._delta()
            self.merged = True

    @torch.no_grad()
    def unmerge(self):
        if self.merged:
            self.weight -= self._delta()
            self.merged = False

    def train(self, mode=True):
        # Module.eval() calls train(False) on every child, so the merge lives here
        super().train(mode)
        if mode:
            self.unmerge()
        else:
            self.merge()
        return self

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.merged:
            return y
        return y + self.lora_dropout(x) @ self.lora_A.T @ self.lora_B.T * self.scaling


def apply_lora(model, target_names, r, alpha, dropout=0.0):
    targets = tuple(target_names)
    found = {
        n: m for n, m in model.named_modules()
        if n and (n in targets or n.endswith(tuple("." + t for t in targets)))
    }
    if not found:
        raise ValueError(f"nothing in the model is named {targets}")
    for n, m in found.items():
        if not isinstance(m, nn.Linear):
            raise ValueError(f"{n} is a {type(m).__name__}")
    for p in model.parameters():
        p.requires_grad_(False)
    for n, m in found.items():
        parent, _, child = n.rpartition(".")
        setattr(model.get_submodule(parent), child, LoRALinear(m, r, alpha, dropout))
    return model


def count_parameters(model):
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
