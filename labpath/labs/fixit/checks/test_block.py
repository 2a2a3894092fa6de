"""The block's wiring, probed with stand-ins for its four sub-modules, and its gradients."""

import torch
from probes import B, C, T, build, same, stub

from labpath.checks import kit


def _wired(blk, ln_1, ln_2):
    """The learner's Block with recording stand-ins for ln_1, attn, ln_2 and mlp."""
    g = torch.Generator().manual_seed(41)
    Ra = torch.randn(C, C, generator=g, dtype=torch.float64) * 0.5
    Rm = torch.randn(C, C, generator=g, dtype=torch.float64) * 0.5
    block = build(blk.Block, n_head=2)
    parts = {"ln_1": stub(ln_1), "attn": stub(lambda z: torch.tanh(z @ Ra)),
             "ln_2": stub(ln_2), "mlp": stub(lambda z: torch.sin(z @ Rm))}
    for name, module in parts.items():
        setattr(block, name, module)
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    with torch.no_grad():
        out = block(x)
    for name, module in parts.items():
        if not module.calls:
            kit.fail(f"your Block.forward never calls self.{name}",
                     hint="a pre-norm block calls ln_1, attn, ln_2 and mlp once each")
    return x, out, parts


def _affine(a, b):
    return lambda z: a * z + b


def test_each_sub_block_reads_its_layernorm(blk):
    x, out, p = _wired(blk, _affine(2.0, 1.0), _affine(-3.0, 0.5))
    for sub, ln in (("attn", "ln_1"), ("mlp", "ln_2")):
        got = p[sub].calls[0][0]
        if not any(same(got, o) for _, o in p[ln].calls):
            kit.fail(f"the input of self.{sub} is not the output of self.{ln}",
                     hint="pre-norm: each sub-block reads a normalised copy of the stream")


def test_the_attention_adds_to_the_raw_stream(blk):
    # x + attn(...) must be formed from the block's own input x (and then go on).
    x, out, p = _wired(blk, _affine(2.0, 1.0), _affine(-3.0, 0.5))
    want = x + p["attn"].calls[0][1]
    seen = [z for ln in ("ln_1", "ln_2") for z, _ in p[ln].calls] + [out]
    if not any(same(z, want) for z in seen):
        kit.fail("the attention's output is never added to the block's input x",
                 hint="the residual stream is x itself, not a normalised copy of it")


def test_the_mlp_adds_to_the_stream(blk):
    # With identity LayerNorms the block must be x1 + mlp(x1), x1 = x + attn(x).
    x, out, p = _wired(blk, lambda z: z, lambda z: z)
    x1 = x + p["attn"].calls[0][1]
    kit.close(out, x1 + p["mlp"].calls[0][1], "the block's output with identity LayerNorms "
              "(x1 + mlp(x1), x1 = x + attn(x))", rtol=1e-10, atol=1e-12, dims="B T C",
              hint="each sub-block's output is added to the stream")


CANONICAL = ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
             "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
             "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")


def test_every_weight_gets_a_gradient(blk):
    g = torch.Generator().manual_seed(43)
    block = build(blk.Block, n_head=2)
    block.train()
    have = dict(block.named_parameters())
    with torch.no_grad():
        for name in CANONICAL:
            if name not in have:
                if name.endswith("bias"):
                    continue
                kit.fail(f"your Block has no parameter {name}", hint="keep nanoGPT's names")
            p = have[name]
            p.copy_(0.4 * torch.randn(p.shape, generator=g, dtype=torch.float64)
                    + (1.0 if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") else 0.0))
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    R = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    (block(x).double() * R).sum().backward()
    dead = [n for n in CANONICAL if n in have
            and (have[n].grad is None or not bool((have[n].grad != 0).any()))]
    if dead:
        kit.fail("after one backward pass, parameters with no gradient", yours=dead,
                 expected="[]", hint="follow the graph back from the output: where is it cut?")
