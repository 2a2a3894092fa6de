"""Checks for the wavenet lab: Embedding, FlattenConsecutive, Sequential, BatchNorm1d on
3-D input, the hierarchical model's parameter count and layer shapes, and a short
seeded training run measured on the dev split.
"""

import math

import torch
import torch.nn.functional as F
from wavenet_ref import (
    affine,
    as_float64,
    dataset,
    expected_shapes,
    flat,
    hierarchical_params,
    matches_bn,
    ref_bn,
)

from labpath.checks import kit

# Measured on solution/ (shipped names, E 24, H 128, 1000 steps, batch 32, lr 0.1 then
# 0.01 from step 666, seeds 0-4): dev loss 2.105-2.125, loss at init 3.27-3.31.
TRAIN_STEPS, DEV_THRESHOLD = 1000, 2.22


def _rand(*shape, offset=0):
    g = torch.Generator().manual_seed(kit.seed() + offset)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _set_linear(lin, W, fan_in, fan_out, b=None):
    """Load (fan_in, fan_out) weights into the learner's Linear, in its own layout."""
    shape = tuple(lin.weight.shape)
    if shape == (fan_in, fan_out):
        lin.weight = W.clone()
    elif shape == (fan_out, fan_in):
        lin.weight = W.T.contiguous()
    else:
        kit.fail(
            f"Linear({fan_in}, {fan_out}).weight shape",
            yours=shape,
            expected=(fan_in, fan_out),
        )
    if b is not None:
        lin.bias = b.clone()


def test_embedding_lookup(wn):
    """Embedding(11, 5): weight (11, 5); emb(IX) is weight[IX] for IX of shape (3, 4); parameters()."""
    emb = wn.Embedding(11, 5)
    if tuple(emb.weight.shape) != (11, 5):
        kit.fail(
            "Embedding(11, 5).weight shape",
            yours=tuple(emb.weight.shape),
            expected=(11, 5),
        )
    emb.weight = _rand(11, 5)
    IX = torch.randint(
        0, 11, (3, 4), generator=torch.Generator().manual_seed(kit.seed())
    )
    kit.close(emb(IX), emb.weight[IX], "Embedding(11, 5) of a (3, 4) index tensor", dims="B T C",
              hint="one row of the table per index: self.weight[IX]")
    ps = emb.parameters()
    if len(ps) != 1 or ps[0] is not emb.weight:
        kit.fail("Embedding.parameters() should be [weight]", yours=len(ps), expected=1)


def test_flatten_consecutive(wn):
    """FlattenConsecutive(n): (4, 8, 10) -> (4, 8/n, 10n) joining neighbours; (4, 2, 10) -> (4, 20)."""
    x = torch.arange(4 * 8 * 10, dtype=torch.float64).view(4, 8, 10)
    for n in (2, 4):
        y = wn.FlattenConsecutive(n)(x)
        # out[b, k] = cat(x[b, n*k], ..., x[b, n*k + n - 1])
        expected = torch.stack(
            [
                torch.cat([x[:, n * k + j] for j in range(n)], dim=1)
                for k in range(8 // n)
            ],
            dim=1,
        )

        def interleave(yours, n=n, expected=expected):
            yours = torch.as_tensor(yours)
            halves = torch.cat(
                [x[:, j * (8 // n) : (j + 1) * (8 // n)] for j in range(n)], dim=2
            )
            if yours.shape == expected.shape and torch.equal(
                yours, x.transpose(1, 2).reshape(4, 8 // n, 10 * n)
            ):
                return "you transposed before the view, so channels and time are mixed"
            if yours.shape == expected.shape and torch.equal(yours, halves):
                return "you join positions T/n apart (e.g. first half with second half), not neighbours"
            return None

        kit.close(y, expected, f"FlattenConsecutive({n}) of (B, T, C) = (4, 8, 10)", dims="B T C",
                  diagnose=interleave, hint="x.view(B, T // n, C * n) joins n consecutive time steps")
    y = wn.FlattenConsecutive(2)(x[:, :2])
    kit.close(y, x[:, :2].reshape(4, 20), "FlattenConsecutive(2) of (4, 2, 10): a single group left",
              dims="B C", hint="when T // n == 1, squeeze the time dim: (B, 1, C*n) -> (B, C*n)")


def test_sequential_chains_layers_and_collects_parameters(wn):
    """Sequential([Linear(5, 7), Tanh(), Linear(7, 3)]): the chained output and every parameter in order."""
    l1, t, l2 = wn.Linear(5, 7), wn.Tanh(), wn.Linear(7, 3)
    W1, b1, W2, b2 = (
        _rand(5, 7, offset=1),
        _rand(7, offset=2),
        _rand(7, 3, offset=3),
        _rand(3, offset=4),
    )
    _set_linear(l1, W1, 5, 7, b1)
    _set_linear(l2, W2, 7, 3, b2)
    seq = wn.Sequential([l1, t, l2])
    x = _rand(9, 5, offset=5)
    try:
        out = seq(x)
    except RuntimeError as exc:
        kit.fail(f"Sequential([Linear(5, 7), Tanh(), Linear(7, 3)]) on a (9, 5) input raised: {exc}",
                 hint="feed each layer's output into the next: for layer in self.layers: x = layer(x)")
    kit.close(out, torch.tanh(x @ W1 + b1) @ W2 + b2, "Sequential([Linear(5, 7), Tanh(), Linear(7, 3)]) output",
              rtol=1e-10, atol=1e-12, dims="B C", hint="feed each layer's output into the next: x = layer(x)")
    ps, expected = seq.parameters(), l1.parameters() + l2.parameters()
    if len(ps) != len(expected) or any(
        p is not q for p, q in zip(ps, expected, strict=False)
    ):
        kit.fail("Sequential.parameters() should list every layer's parameters in order",
                 yours=[tuple(p.shape) for p in ps], expected=[tuple(p.shape) for p in expected],
                 hint="[p for layer in self.layers for p in layer.parameters()]")


def test_linear_init_is_scaled_by_fan_in(wn):
    """Linear(300, 200).weight has std 1/sqrt(300) (up to the tanh gain 5/3), as in the batchnorm lab."""
    torch.manual_seed(kit.seed())
    kit.fan_in_scaled(wn.Linear(300, 200).weight, 300, "Linear(300, 200).weight",
                      hint="torch.randn((fan_in, fan_out)) / fan_in**0.5, as in the batchnorm lab")


def test_batchnorm_2d_still_matches_torch(wn):
    """BatchNorm1d on (B, C) = (9, 6): statistics over the batch (either variance convention)."""
    x = _rand(9, 6, offset=6) * torch.linspace(0.5, 3, 6, dtype=torch.float64) + 1
    gamma, beta = 1 + 0.5 * _rand(6, offset=7), 0.5 * _rand(6, offset=8)
    bn = as_float64(wn.BatchNorm1d(6), gamma, beta)
    y = bn(x)
    if matches_bn(y, x, gamma, beta, (0,)) is None:
        kit.close(y, ref_bn(x, gamma, beta, (0,), False), "BatchNorm1d(6) training output on (9, 6)",
                  rtol=1e-6, atol=1e-8, dims="B C", hint="2-D input: mean and variance over dim 0")


def test_batchnorm_3d_normalises_over_batch_and_time(wn):
    """BatchNorm1d on (B, T, C) = (4, 5, 6): statistics over dims (0, 1); running stats of shape C, after one batch and two."""
    x = _rand(4, 5, 6, offset=9) * torch.linspace(0.5, 3, 6, dtype=torch.float64) - 0.5
    gamma, beta = 1 + 0.5 * _rand(6, offset=10), 0.5 * _rand(6, offset=11)
    bn = as_float64(wn.BatchNorm1d(6), gamma, beta)
    try:
        y = bn(x)
    except RuntimeError as exc:
        kit.fail(f"BatchNorm1d(6) on a (B, T, C) = (4, 5, 6) input raised RuntimeError: {exc}",
                 hint="for 3-D input take mean and var over dim=(0, 1): one statistic per channel, so "
                 "they match the (C,) running buffers")
    if matches_bn(y, x, gamma, beta, (0, 1)) is None:
        per_step = matches_bn(y, x, gamma, beta, (0,))
        kit.close(y, ref_bn(x, gamma, beta, (0, 1), False), "BatchNorm1d(6) training output on (B, T, C) = (4, 5, 6)",
                  rtol=1e-6, atol=1e-8, dims="B T C",
                  diagnose=lambda _: "you normalise over dim 0 only: separate statistics per time step "
                  "(lecture 6's bug); use dims (0, 1)" if per_step else None,
                  hint="for 3-D input take mean and var over dim=(0, 1) with keepdim=True")
    rm, rv = flat(bn.running_mean), flat(bn.running_var)
    if rm.numel() != 6 or rv.numel() != 6:
        kit.fail("running_mean / running_var sizes after a (4, 5, 6) batch",
                 yours=(tuple(bn.running_mean.shape), tuple(bn.running_var.shape)), expected="6 numbers each",
                 diagnosis="statistics per time step: with dims (0, 1) there is one mean per channel"
                 if rm.numel() == 5 * 6 else None)
    kit.close(rm, 0.1 * x.mean((0, 1)), "running_mean after one (4, 5, 6) batch (flattened)", rtol=1e-9,
              atol=1e-12, dims="C", hint="running = 0.9 * running + 0.1 * batch mean over (0, 1)")
    kit.close(rv, 0.9 + 0.1 * x.var((0, 1)), "running_var after one (4, 5, 6) batch (flattened)", rtol=1e-9,
              atol=1e-12, dims="C", hint="running_var tracks the unbiased variance over (0, 1)")
    bn.training = False
    with torch.no_grad():
        ye = bn(x)
    g, b = affine(bn)
    expected = flat(getattr(bn, g)) * (x - rm) / torch.sqrt(rv + 1e-5) + flat(getattr(bn, b))
    kit.close(ye, expected, "eval-mode output on (4, 5, 6) with the running statistics", rtol=1e-9,
              atol=1e-10, dims="B T C")
    # a second training batch: from buffers that are no longer 0 and 1, the update
    # (1 - m) * running + m * batch is the only one that gives these numbers
    bn.training = True
    rm, rv = rm.clone(), rv.clone()  # a buffer updated in place must not move the target
    x2 = _rand(4, 5, 6, offset=12) * 2 + 0.3
    bn(x2)
    kit.close(flat(bn.running_mean), 0.9 * rm + 0.1 * x2.mean((0, 1)),
              "running_mean after a second (4, 5, 6) batch", rtol=1e-9, atol=1e-12, dims="C",
              hint="running = (1 - momentum) * running + momentum * batch mean, momentum 0.1")
    kit.close(flat(bn.running_var), 0.9 * rv + 0.1 * x2.var((0, 1)),
              "running_var after a second (4, 5, 6) batch", rtol=1e-9, atol=1e-12, dims="C",
              hint="running_var = (1 - momentum) * running_var + momentum * batch variance")


def test_model_parameter_count(wn):
    """build_model: 76,579 parameters for V 27, E 24, H 128 (and with no arguments); 22,397 for E 10, H 68; all trainable."""
    for V, E, H in ((27, 24, 128), (27, 10, 68)):
        model = wn.build_model(V, 8, E, H)
        ps = model.parameters()
        n, expected = sum(p.numel() for p in ps), hierarchical_params(V, E, H)
        if n != expected:
            kit.fail(f"parameter count of build_model({V}, 8, {E}, {H})", yours=n, expected=expected,
                     hint="V*E + (2E*H + 2H) + 2 * (2H*H + 2H) + (H*V + V): the Linear layers before "
                     "BatchNorm have no bias; BatchNorm has gamma and beta")
        if not all(p.requires_grad for p in ps):
            kit.fail(
                f"{sum(not p.requires_grad for p in ps)} of the model's parameters have requires_grad False"
            )
    # the documented defaults: build_model(vocab_size=27, block_size=8, n_embd=24, n_hidden=128)
    n = sum(p.numel() for p in wn.build_model().parameters())
    if n != hierarchical_params(27, 24, 128):
        kit.fail("parameter count of build_model() with its default arguments", yours=n,
                 expected=hierarchical_params(27, 24, 128),
                 hint="the defaults are vocab_size=27, block_size=8, n_embd=24, n_hidden=128")


def test_layer_shapes(wn):
    """Output shape of every layer for 3 contexts of 8 (V 11, E 5, H 7): 8 -> 4 -> 2 -> 1 groups."""
    torch.manual_seed(kit.seed())
    V, E, H, B = 11, 5, 7, 3
    model = wn.build_model(V, 8, E, H)
    x = torch.randint(0, V, (B, 8), generator=torch.Generator().manual_seed(kit.seed()))
    shapes = []
    expected = expected_shapes(B, V, E, H)
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            try:
                x = layer(x)
            except Exception as exc:
                kit.fail(f"layer {i} ({type(layer).__name__}) failed on an input of shape {tuple(x.shape)}: "
                         f"{type(exc).__name__}: {exc}", yours=shapes, expected=expected,
                         hint="Embedding, then 3 x (FlattenConsecutive(2), Linear(bias=False), BatchNorm1d, "
                         "Tanh), then Linear(H, V)")
            shapes.append(tuple(x.shape))
    if shapes != expected:
        first = next(
            (
                i
                for i, (a, b) in enumerate(zip(shapes, expected, strict=False))
                if a != b
            ),
            min(len(shapes), len(expected)),
        )
        kit.fail(f"layer output shapes (first difference at layer {first}: "
                 f"{type(model.layers[first]).__name__ if first < len(model.layers) else 'missing layer'})",
                 yours=shapes, expected=expected,
                 hint="Embedding, then 3 x (FlattenConsecutive(2), Linear(bias=False), BatchNorm1d, Tanh), "
                 "then Linear(H, V)")


def test_initial_loss_is_near_ln_vocab(wn, words):
    """At init (last layer's weight x 0.1) the loss on 1,000 train contexts is within 0.08 of ln V."""
    V, (Xtr, Ytr), _ = dataset(words)
    torch.manual_seed(kit.seed())
    model = wn.build_model(V, 8, 24, 128)
    ix = torch.randint(
        0, Xtr.shape[0], (1000,), generator=torch.Generator().manual_seed(kit.seed())
    )
    with torch.no_grad():
        loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix]).item()
    # Measured (seeds 0-5): 3.298-3.303 with the 0.1 scale, 3.47-3.53 without it.
    if abs(loss - math.log(V)) > 0.08:
        kit.fail("loss of build_model at init on 1,000 contexts", yours=round(loss, 4),
                 expected=f"{math.log(V):.4f} +- 0.08 (reference 3.298-3.303; 3.47-3.53 without the 0.1 scale)",
                 hint="scale the last Linear's weight by 0.1 in build_model so the first predictions are near-uniform")


def test_training_reaches_dev_loss(wn, words):
    """1000 seeded SGD steps of the 76,579-parameter model bring the eval-mode dev loss under 2.22."""
    V, (Xtr, Ytr), (Xdv, Ydv) = dataset(words)
    torch.manual_seed(kit.seed())
    model = wn.build_model(V, 8, 24, 128)
    params = model.parameters()
    g = torch.Generator().manual_seed(kit.seed())
    losses = []
    for i in range(TRAIN_STEPS):
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix])
        for p in params:
            p.grad = None
        loss.backward()
        if i == 0:
            missing = [tuple(p.shape) for p in params if p.grad is None]
            if missing:
                kit.fail(f"{len(missing)} parameter(s) of model.parameters() got no gradient after "
                         f"loss.backward(): shapes {missing}",
                         hint="a parameter must be a leaf tensor used in the forward pass: scale weights "
                         "in place under torch.no_grad() (w *= 0.1), not with w = w * 0.1, which "
                         "makes w the result of an operation whose .grad stays None")
        lr = 0.1 if i < TRAIN_STEPS * 2 // 3 else 0.01
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        losses.append(loss.item())
    for layer in model.layers:
        if hasattr(layer, "training"):
            layer.training = False
    with torch.no_grad():
        dev = F.cross_entropy(model(Xdv), Ydv).item()
    _plot(losses)
    kit.figure("dev loss", dev, "<", DEV_THRESHOLD)
    if not dev < DEV_THRESHOLD:
        kit.fail(f"dev loss (eval mode) after {TRAIN_STEPS} steps", yours=round(dev, 4),
                 expected=f"< {DEV_THRESHOLD} (reference 2.105-2.125 over 5 seeds)",
                 hint="every trainable tensor must be in model.parameters(); BatchNorm in eval mode uses "
                 "the running statistics")


def _plot(losses):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        t = torch.tensor(losses)
        k = 50
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(t.tolist(), lw=0.4, alpha=0.5, label="batch loss")
        ax.plot(
            range(k - 1, len(t)),
            t.unfold(0, k, 1).mean(1).tolist(),
            label=f"mean of {k}",
        )
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        fig.savefig(
            kit.artifact_path("test_training_reaches_dev_loss", "wavenet-training.png")
        )
        plt.close(fig)
    except Exception:
        pass
