"""The MLP: its activation, its shapes, its dropout."""

import math

import torch
from probes import B, C, T, build

from labpath.checks import kit


def test_mlp_activation_is_gelu(blk):
    # c_fc and c_proj set to pass channel c through hidden unit c: the MLP then applies
    # its activation to each input value alone (whatever its hidden width).
    mlp = build(blk.MLP, n_head=2)
    have = dict(mlp.named_parameters())
    for name in ("c_fc.weight", "c_proj.weight"):
        if name not in have:
            kit.fail(f"your MLP has no {name}", hint="keep nanoGPT's names c_fc and c_proj")
    with torch.no_grad():
        for p in have.values():
            p.zero_()
        H = have["c_fc.weight"].shape[0]
        if H < C or tuple(have["c_fc.weight"].shape) != (H, C) or \
                tuple(have["c_proj.weight"].shape) != (C, H):
            kit.fail("your MLP's c_fc / c_proj shapes", yours=[tuple(have["c_fc.weight"].shape),
                     tuple(have["c_proj.weight"].shape)], expected="(H, C) and (C, H), H >= C")
        have["c_fc.weight"][:C, :C] = torch.eye(C)
        have["c_proj.weight"][:, :C] = torch.eye(C)
        x = torch.linspace(-4, 4, B * T * C).reshape(B, T, C)
        y = mlp(x).double()
    gelu = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    kit.close(y, gelu, "the MLP's activation on inputs from -4 to 4", rtol=0, atol=1e-3,
              dims="B T C", hint="GPT-2 uses GELU (the tanh approximation is fine too)")


def test_mlp_has_gpt2_shapes(blk):
    mlp = build(blk.MLP, n_head=2)
    want = {"c_fc.weight": (4 * C, C), "c_fc.bias": (4 * C,),
            "c_proj.weight": (C, 4 * C), "c_proj.bias": (C,)}
    have = {n: tuple(p.shape) for n, p in mlp.named_parameters()}
    for name, shape in want.items():
        if name not in have and name.endswith("bias"):
            continue
        if have.get(name) != shape:
            kit.fail(f"the shape of your MLP's {name} (n_embd = 12)", yours=have.get(name),
                     expected=shape, hint="count the MLP's parameters against GPT-2's")


def test_mlp_dropout_follows_train_and_eval(blk):
    # dropout 0.5: two eval forwards are identical; two train forwards differ.
    g = torch.Generator().manual_seed(31)
    mlp = build(blk.MLP, n_head=2, dropout=0.5)
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    with torch.no_grad():
        mlp.eval()
        a, b = mlp(x), mlp(x)
        if not torch.equal(a, b):
            kit.fail("two forwards of your MLP in eval mode (dropout 0.5) differ",
                     yours=float((a - b).abs().max()), expected=0.0,
                     hint="module.eval() must switch dropout off")
        mlp.train()
        c, d = mlp(x), mlp(x)
        if torch.equal(c, d):
            kit.fail("two forwards of your MLP in train mode (dropout 0.5) are identical",
                     hint="the MLP has a dropout that acts in train mode (config.dropout)")
