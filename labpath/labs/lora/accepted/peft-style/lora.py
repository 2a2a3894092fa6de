"""LoRA laid out the way peft lays it out: adapters in per-name dicts, peft's names.

The frozen layer is `base_layer`; `lora_A` and `lora_B` are ModuleDicts of bias-free
nn.Linear keyed by adapter name ("default"), so the factors are `lora_A["default"].weight`
(r, in) and `lora_B["default"].weight` (out, r); r, lora_alpha and scaling are kept per
adapter name too, and apply_lora takes peft's argument names.
"""

import math

import torch
import torch.nn as nn

ADAPTER = "default"


class LoRALinear(nn.Module):
    """A frozen nn.Linear (base_layer) plus one adapter named "default"."""

    def __init__(self, base, r, lora_alpha, lora_dropout=0.0):
        super().__init__()
        self.base_layer = base
        for p in base.parameters():
            p.requires_grad_(False)
        kw = dict(dtype=base.weight.dtype, device=base.weight.device)
        self.r = {ADAPTER: r}
        self.lora_alpha = {ADAPTER: lora_alpha}
        self.scaling = {ADAPTER: lora_alpha / r}
        # peft puts an Identity in place of a dropout of probability 0
        drop = nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
        self.lora_dropout = nn.ModuleDict({ADAPTER: drop})
        down = nn.Linear(base.in_features, r, bias=False, **kw)  # weight (r, in)
        up = nn.Linear(r, base.out_features, bias=False, **kw)  # weight (out, r)
        nn.init.kaiming_uniform_(down.weight, a=math.sqrt(5))
        nn.init.zeros_(up.weight)
        self.lora_A = nn.ModuleDict({ADAPTER: down})
        self.lora_B = nn.ModuleDict({ADAPTER: up})
        self.merged = False

    def get_delta_weight(self):
        up, down = self.lora_B[ADAPTER].weight, self.lora_A[ADAPTER].weight
        return (up @ down) * self.scaling[ADAPTER]  # (out, in)

    def forward(self, x):
        result = self.base_layer(x)
        if self.merged:
            return result
        h = self.lora_A[ADAPTER](self.lora_dropout[ADAPTER](x))  # (..., r)
        return result + self.lora_B[ADAPTER](h) * self.scaling[ADAPTER]

    def merge(self):
        if not self.merged:
            with torch.no_grad():
                self.base_layer.weight.data += self.get_delta_weight()
            self.merged = True

    def unmerge(self):
        if self.merged:
            with torch.no_grad():
                self.base_layer.weight.data -= self.get_delta_weight()
            self.merged = False


def _is_target(name, target_modules):
    for t in target_modules:
        if name == t or name[-(len(t) + 1) :] == "." + t:
            return True
    return False


def apply_lora(model, target_modules, r, lora_alpha, lora_dropout=0.0):
    """Wrap the named nn.Linear layers; freeze everything else."""
    names = [n for n, _ in model.named_modules() if n and _is_target(n, target_modules)]
    if not names:
        raise ValueError(f"target modules {target_modules} not found in the model")
    for n in names:
        if not isinstance(model.get_submodule(n), nn.Linear):
            raise ValueError(f"target {n} is not an nn.Linear")
    model.requires_grad_(False)
    for n in names:
        *path, leaf = n.split(".")
        parent = model.get_submodule(".".join(path))
        setattr(parent, leaf, LoRALinear(getattr(parent, leaf), r, lora_alpha, lora_dropout))
    return model


def count_parameters(model):
    unique = {id(p): p for p in model.parameters()}.values()
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    return trainable, sum(p.numel() for p in unique)
