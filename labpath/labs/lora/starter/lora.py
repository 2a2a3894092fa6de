"""
Lab - lora: LoRA from scratch over a frozen nn.Linear.

Wrap a pretrained Linear so that its output becomes base(x) + (alpha / r) * B A x with
two small trainable matrices A (r, in) and B (out, r), put such wrappers into your
GPT from the gpt2 lab, and fine-tune only them. Read README.md in this folder first;
check your work with `labpath check lora`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
peft and loralib are off limits here: this file is the mechanism they implement.
"""

import math  # noqa: F401  (kaiming_uniform_(..., a=math.sqrt(5)) for A)

import torch
import torch.nn as nn


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable rank-r update scaled by alpha / r."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        # TODO: keep base itself as self.base (no copy), and r, alpha and
        # self.scaling = alpha / r. Freeze base.weight and base.bias
        # (requires_grad_(False)). Make self.lora_A, an nn.Parameter of shape
        # (r, base.in_features), initialised at random (nn.init.kaiming_uniform_ with
        # a=math.sqrt(5), as nn.Linear does), and self.lora_B, (base.out_features, r),
        # of zeros, both with base.weight's dtype and device. self.dropout: an
        # nn.Dropout(dropout) for the LoRA input only. self.merged = False.
        raise NotImplementedError("LoRALinear.__init__")

    def forward(self, x):
        # TODO: x is (..., in). Return base(x), plus, unless merged,
        # (dropout(x) @ A^T @ B^T) * scaling, without ever forming the (out, in) matrix.
        raise NotImplementedError("LoRALinear.forward")

    @torch.no_grad()
    def merge(self):
        # TODO: unless already merged, add scaling * B @ A to base.weight (shape
        # (out, in)) and set self.merged = True.
        raise NotImplementedError("LoRALinear.merge")

    @torch.no_grad()
    def unmerge(self):
        # TODO: if merged, subtract the same update again and set self.merged = False.
        raise NotImplementedError("LoRALinear.unmerge")


def apply_lora(model, target_names, r, alpha, dropout=0.0):
    """Wrap every nn.Linear named by target_names in a LoRALinear; freeze everything else."""
    # TODO: a module matches when its qualified name (from model.named_modules()) equals
    # a target or ends with "." + target. Raise ValueError when nothing matches or a
    # match is not an nn.Linear. Set requires_grad_(False) on every parameter of the
    # model, then replace each match on its parent (model.get_submodule, setattr) with
    # LoRALinear(module, r, alpha, dropout). Return the model.
    raise NotImplementedError("apply_lora")


def count_parameters(model):
    """(trainable, total) numbers of parameters, a shared (tied) tensor counted once."""
    # TODO: sum p.numel() over model.parameters() (it yields a shared tensor once), all
    # of them and those with requires_grad.
    raise NotImplementedError("count_parameters")


def lora_state_dict(model):
    """Optional: only the LoRA tensors of model.state_dict()."""
    # TODO: keep the entries whose name contains "lora_".
    raise NotImplementedError("lora_state_dict")
