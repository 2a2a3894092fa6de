"""LoRA in the transposed layout: A is (in, r), B is (r, out) and the path is x @ A @ B.

The wrapped layer is kept as `linear`, the factors are called A and B, and A starts
Gaussian (std 1 / r) instead of kaiming-uniform: every random init of A is correct.
"""

import torch
import torch.nn as nn


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.linear = base
        self.linear.weight.requires_grad = False
        if self.linear.bias is not None:
            self.linear.bias.requires_grad = False
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        w = base.weight
        # A reads the input, B writes the output; B = 0, so the layer starts as base
        self.A = nn.Parameter(torch.randn(base.in_features, r, dtype=w.dtype, device=w.device) / r)
        self.B = nn.Parameter(torch.zeros(r, base.out_features, dtype=w.dtype, device=w.device))
        self.drop = nn.Dropout(p=dropout)
        self.merged = False

    def forward(self, x):
        out = self.linear(x)
        if not self.merged:
            out = out + self.scaling * (self.drop(x) @ self.A @ self.B)  # (..., out)
        return out

    @torch.no_grad()
    def merge(self):
        if self.merged:
            return
        # (in, r) @ (r, out) is the update in x's layout; nn.Linear's weight is (out, in)
        self.linear.weight.add_((self.A @ self.B).T, alpha=self.scaling)
        self.merged = True

    @torch.no_grad()
    def unmerge(self):
        if not self.merged:
            return
        self.linear.weight.sub_((self.A @ self.B).T, alpha=self.scaling)
        self.merged = False


def apply_lora(model, target_names, r, alpha, dropout=0.0):
    # a target matches the last dotted parts of a name: "c_proj" is ["c_proj"],
    # "attn.c_proj" is ["attn", "c_proj"]; "xc_proj" is another part altogether
    hits = []
    for name, mod in model.named_modules():
        parts = name.split(".")
        for t in target_names:
            k = len(t.split("."))
            if name and ".".join(parts[-k:]) == t:
                hits.append((name, mod))
                break
    if not hits:
        raise ValueError("no target found")
    bad = [n for n, mod in hits if not isinstance(mod, nn.Linear)]
    if bad:
        raise ValueError(f"not nn.Linear: {bad}")
    for p in model.parameters():
        p.requires_grad = False
    for name, mod in hits:
        owner = model
        parts = name.split(".")
        for part in parts[:-1]:
            owner = getattr(owner, part)
        setattr(owner, parts[-1], LoRALinear(mod, r, alpha, dropout))
    return model


def count_parameters(model):
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total
