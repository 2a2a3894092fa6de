"""Parity with peft: your LoRA and peft's on one tiny Hugging Face GPT-2, with the same A and B.

Runs only when `peft` and `transformers` are installed (`pip install 'labpath[hf]'`);
otherwise it is skipped. The model is built from a GPT2Config (random weights, nothing
downloaded). GPT-2 on the Hub stores c_attn as a Conv1D whose weight is (in, out), the
transpose of nn.Linear's; peft handles it with fan_in_fan_out=True, and the check hands
your apply_lora the same layer as an nn.Linear (weight transposed), which is what your
GPT from the gpt2 lab uses.
"""

import copy

import torch
from lora_ref import factors, set_factors, uniform
from torch import nn

from labpath.checks import kit

R, ALPHA = 3, 6.0
CFG = dict(vocab_size=67, n_positions=16, n_embd=24, n_layer=2, n_head=2,
           resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


def _libraries():
    return kit.optional("peft", "transformers", extra="hf")


def _linear_c_attn(model):
    """Replace every Conv1D c_attn by the nn.Linear computing the same function."""
    from transformers.pytorch_utils import Conv1D

    for name, mod in list(model.named_modules()):
        if isinstance(mod, Conv1D) and name.endswith("c_attn"):
            inn, out = mod.weight.shape  # Conv1D stores (in, out)
            lin = nn.Linear(inn, out).to(mod.weight.dtype)
            with torch.no_grad():
                lin.weight.copy_(mod.weight.T)
                lin.bias.copy_(mod.bias)
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, lin)
    return model


def test_matches_peft_on_a_tiny_hf_gpt2(lora):
    """Same A and B in your LoRA and peft's (r=3, alpha=6 on c_attn): equal logits, counts and merged logits."""
    peft, transformers = _libraries()
    torch.manual_seed(kit.seed())
    config = transformers.GPT2Config(**CFG)
    config._attn_implementation = "eager"
    hf = transformers.GPT2LMHeadModel(config).double().eval()
    ours = _linear_c_attn(copy.deepcopy(hf))
    ours = lora.apply_lora(ours, ["c_attn"], R, ALPHA).double().train()  # eval() after setting A, B
    theirs = peft.get_peft_model(hf, peft.LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0,
                                                     target_modules=["c_attn"], fan_in_fan_out=True))
    theirs = theirs.double().eval()
    gen = torch.Generator().manual_seed(kit.seed() + 1)
    for i in range(CFG["n_layer"]):
        mine, peft_layer = (
            ours.transformer.h[i].attn.c_attn,
            theirs.base_model.model.transformer.h[i].attn.c_attn,
        )
        inn, out = 24, 72
        A = uniform((R, inn), gen) * 0.5
        B = uniform((out, R), gen) * 0.5
        set_factors(mine, A, B)
        with torch.no_grad():
            peft_layer.lora_A["default"].weight.copy_(A)
            peft_layer.lora_B["default"].weight.copy_(B)
        factors(mine)  # a layout the adapter cannot read fails here, clearly
    ours.eval()
    idx = torch.randint(0, CFG["vocab_size"], (3, 11), generator=gen)
    with torch.no_grad():
        want = theirs(input_ids=idx).logits
        kit.close(ours(input_ids=idx).logits, want, "logits of the HF GPT-2 with your LoRA vs with peft's",
                  rtol=1e-10, atol=1e-10, dims="B T V",
                  hint="same A, B and alpha / r must give the same model as peft")
    mine_counts = tuple(int(c) for c in lora.count_parameters(ours))
    peft_counts = tuple(int(c) for c in theirs.get_nb_trainable_parameters())
    if mine_counts != peft_counts:
        kit.fail("(trainable, total) parameters: yours vs peft's get_nb_trainable_parameters()",
                 yours=mine_counts, expected=peft_counts)
    with torch.no_grad():
        for i in range(CFG["n_layer"]):
            ours.transformer.h[i].attn.c_attn.merge()
        merged = theirs.merge_and_unload()
        kit.close(ours(input_ids=idx).logits, merged(input_ids=idx).logits,
                  "logits after your merge() vs peft's merge_and_unload()", rtol=1e-10, atol=1e-10,
                  dims="B T V")
