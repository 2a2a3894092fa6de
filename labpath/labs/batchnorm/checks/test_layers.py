"""Checks for the batchnorm lab: Linear, BatchNorm1d and Tanh against torch, the running
statistics, eval mode, and the health of a deep tanh network at init and in training.

BatchNorm checks use a batch of 32 with 7 features of very different scales (feature 0
has variance 1e-6, so where eps goes matters) in float64. Both variance conventions pass:
torch's biased one and the lecture's unbiased x.var(0).
"""

import math

import torch
import torch.nn.functional as F
from batchnorm_ref import (
    affine,
    as_float64,
    bn_variants,
    call_layers,
    flat,
    ref_bn,
    set_eval,
)

from labpath.checks import kit

N, D = 32, 7
# Measured on solution/ (seeds 0-3): the 5-layer BatchNorm stack at init has tanh std
# 0.627-0.638 and saturation 2.3-3.4% per layer, loss 3.28-3.33; 200 training steps
# (lr 0.1, batch 32) give dev loss 2.59-2.62 and update/data ratios of 10^-3.3 to 10^-2.0.
BN_STD_BAND, BN_SAT_MAX = (0.58, 0.69), 0.06
TRAIN_STEPS, DEV_THRESHOLD, UD_BAND = 200, 2.75, (-4.0, -1.3)


def _batch(seed_offset=0):
    g = torch.Generator().manual_seed(kit.seed() + seed_offset)
    scale = torch.tensor([1e-3, 0.5, 1.0, 2.0, 3.0, 0.2, 5.0], dtype=torch.float64)
    shift = torch.tensor([0.1, -1.0, 0.0, 2.0, -3.0, 0.5, 1.5], dtype=torch.float64)
    return torch.randn(N, D, generator=g, dtype=torch.float64) * scale + shift


def _gamma_beta(seed_offset=100):
    g = torch.Generator().manual_seed(kit.seed() + seed_offset)
    return (1 + 0.5 * torch.randn(D, generator=g, dtype=torch.float64),
            0.5 * torch.randn(D, generator=g, dtype=torch.float64))


def _convention(y, x, gamma, beta, eps):
    """'biased' or 'unbiased' if y matches that reference, else None."""
    y = torch.as_tensor(y).detach()
    for unbiased in (False, True):
        ref = ref_bn(x, gamma, beta, eps, unbiased=unbiased)
        if y.shape == ref.shape and torch.allclose(y, ref, rtol=1e-6, atol=1e-8):
            return "unbiased" if unbiased else "biased"
    return None


def _note_convention(conv):
    try:
        text = {
            "biased": "Your BatchNorm1d normalises with the biased batch variance (divide by N), "
            "like torch.nn.BatchNorm1d in training mode.\n",
            "unbiased": "Your BatchNorm1d normalises with the unbiased batch variance (divide by "
            "N - 1), like the lecture's x.var(0). torch.nn.BatchNorm1d uses the biased one; the "
            "outputs differ by a factor sqrt(N / (N - 1)), 1.6% at N = 32. Both are accepted.\n",
        }[conv]
        kit.artifact_path("test_batchnorm_training_output_matches_torch", "batchnorm-variance.txt").write_text(text)
    except Exception:
        pass


# ---- Linear and Tanh ------------------------------------------------------------------


def _linear_layout(lin, fan_in, fan_out):
    shape = tuple(lin.weight.shape)
    if shape == (fan_in, fan_out):
        return "in_out"
    if shape == (fan_out, fan_in):
        return "out_in"
    kit.fail(f"Linear({fan_in}, {fan_out}).weight shape", yours=shape,
             expected=f"({fan_in}, {fan_out}) (lecture, x @ W) or ({fan_out}, {fan_in}) (nn.Linear, x @ W.T)")


def test_linear_matches_torch(layers):
    """Linear(5, 7): x @ W + b with the learner's weights, with and without bias; parameters()."""
    g = torch.Generator().manual_seed(kit.seed())
    x = torch.randn(3, 5, generator=g, dtype=torch.float64)
    W = torch.randn(5, 7, generator=g, dtype=torch.float64)
    b = torch.randn(7, generator=g, dtype=torch.float64)
    lin = layers.Linear(5, 7)
    layout = _linear_layout(lin, 5, 7)
    lin.weight = (W if layout == "in_out" else W.T.contiguous()).clone()
    lin.bias = b.clone()
    kit.close(lin(x), x @ W + b, "Linear(5, 7) output", rtol=1e-10, atol=1e-12, dims="B fan_out",
              hint="out = x @ self.weight + self.bias")
    ps = lin.parameters()
    if len(ps) != 2 or ps[0] is not lin.weight or ps[1] is not lin.bias:
        kit.fail("Linear(5, 7).parameters() should be [weight, bias] (the tensors themselves)",
                 yours=[tuple(p.shape) for p in ps], expected=[tuple(lin.weight.shape), (7,)])
    nob = layers.Linear(5, 7, bias=False)
    if getattr(nob, "bias", None) is not None:
        kit.fail("Linear(5, 7, bias=False).bias", yours="a tensor", expected="None")
    nob.weight = lin.weight.clone()
    kit.close(nob(x), x @ W, "Linear(5, 7, bias=False) output", rtol=1e-10, atol=1e-12, dims="B fan_out")
    if len(nob.parameters()) != 1:
        kit.fail("Linear(5, 7, bias=False).parameters() length", yours=len(nob.parameters()), expected=1)


def test_linear_init_is_scaled_by_fan_in(layers):
    """Linear(300, 200).weight has std 1/sqrt(300) (up to the tanh gain 5/3), not 1."""
    torch.manual_seed(kit.seed())
    kit.fan_in_scaled(layers.Linear(300, 200).weight, 300, "Linear(300, 200).weight",
                      hint="torch.randn((fan_in, fan_out)) / fan_in**0.5")


def test_tanh_layer(layers):
    """Tanh()(x) equals torch.tanh(x) and has no parameters."""
    x = torch.linspace(-4, 4, 21, dtype=torch.float64).view(3, 7)
    t = layers.Tanh()
    kit.close(t(x), torch.tanh(x), "Tanh output", rtol=1e-12, atol=1e-12, dims="B D")
    if list(t.parameters()) != []:
        kit.fail("Tanh().parameters()", yours=len(t.parameters()), expected=0)


# ---- BatchNorm1d ----------------------------------------------------------------------


def test_batchnorm_starts_as_identity_with_unit_buffers(layers):
    """BatchNorm1d(7): gamma 1, beta 0, running_mean 0, running_var 1, training True, eps, momentum."""
    bn = layers.BatchNorm1d(D)
    g, b = affine(bn)
    for name, value in ((g, 1.0), (b, 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
        t = getattr(bn, name, None)
        if t is None:
            kit.fail(f"BatchNorm1d has no attribute {name}")
        kit.close(flat(t).double(), torch.full((D,), value, dtype=torch.float64),
                  f"BatchNorm1d(7).{name} at construction (flattened)", dims="D")
    if getattr(bn, "training", None) is not True:
        kit.fail("BatchNorm1d(7).training at construction", yours=getattr(bn, "training", None), expected=True)
    if getattr(bn, "eps", None) != 1e-5 or getattr(bn, "momentum", None) != 0.1:
        kit.fail("BatchNorm1d(7) defaults (eps, momentum)",
                 yours=(getattr(bn, "eps", None), getattr(bn, "momentum", None)), expected=(1e-5, 0.1))
    ps = bn.parameters()
    if len(ps) != 2 or not (ps[0] is getattr(bn, g) and ps[1] is getattr(bn, b)):
        kit.fail(f"BatchNorm1d.parameters() should be [{g}, {b}] (the tensors themselves)",
                 yours=len(ps), expected=2, hint="the buffers are not parameters: backprop never updates them")


def test_batchnorm_training_output_matches_torch(layers):
    """Training mode: gamma * (x - mean) / sqrt(var + eps) + beta over the batch (either variance)."""
    x = _batch()
    gamma, beta = _gamma_beta()
    bn = as_float64(layers.BatchNorm1d(D), gamma, beta)
    y = bn(x)
    conv = _convention(y, x, gamma, beta, 1e-5)
    if conv is None:
        torch_bn = torch.nn.BatchNorm1d(D).double()
        with torch.no_grad():
            torch_bn.weight.copy_(gamma)
            torch_bn.bias.copy_(beta)

        def variants(yours):
            yours = torch.as_tensor(yours).detach()
            for text, cand in bn_variants(x, gamma, beta).items():
                if yours.shape == cand.shape and torch.allclose(yours, cand, rtol=1e-6, atol=1e-8):
                    return text
            return None

        kit.close(y, torch_bn(x), f"BatchNorm1d({D}) training output on a ({N}, {D}) batch (float64)",
                  rtol=1e-6, atol=1e-8, dims="N D", diagnose=variants,
                  hint="xhat = (x - x.mean(0)) / sqrt(x.var(0) + eps); out = gamma * xhat + beta "
                  "(the unbiased var of the lecture passes too)")
        conv = "biased"
    _note_convention(conv)


def test_batchnorm_gradients_match_autograd(layers):
    """Gradients wrt x, gamma and beta through BatchNorm1d equal autograd of the reference."""
    x = _batch().requires_grad_(True)
    gamma, beta = _gamma_beta()
    bn = as_float64(layers.BatchNorm1d(D), gamma, beta)
    y = bn(x)
    conv = _convention(y, x.detach(), gamma, beta, 1e-5) or "biased"
    w = torch.randn(N, D, generator=torch.Generator().manual_seed(kit.seed() + 7), dtype=torch.float64)
    (y * w).sum().backward()
    rx = x.detach().clone().requires_grad_(True)
    rg, rb = gamma.clone().requires_grad_(True), beta.clone().requires_grad_(True)
    (ref_bn(rx, rg, rb, 1e-5, unbiased=conv == "unbiased") * w).sum().backward()
    g, b = affine(bn)
    for name, mine, ref in (("x", x.grad, rx.grad), (g, getattr(bn, g).grad, rg.grad), (b, getattr(bn, b).grad, rb.grad)):
        if mine is None:
            kit.fail(f"no gradient reached {name} through BatchNorm1d",
                     hint="compute with the tensors themselves; only the running buffers go under no_grad")
        kit.close(flat(mine), flat(ref), f"gradient wrt {name} ({conv} variance)", rtol=1e-6, atol=1e-9)


def test_running_stats_update_with_momentum(layers):
    """running = (1 - m) * running + m * batch, with the unbiased batch variance, m = 0.1."""
    bn = as_float64(layers.BatchNorm1d(D))
    rm, rv = torch.zeros(D, dtype=torch.float64), torch.ones(D, dtype=torch.float64)
    for step in range(2):
        x = _batch(seed_offset=10 + step)
        bn(x)
        mean, var = x.mean(0), x.var(0)
        old_rm, old_rv = rm, rv
        rm, rv = 0.9 * rm + 0.1 * mean, 0.9 * rv + 0.1 * var

        def mean_variants(yours, old=old_rm, mean=mean):
            y = flat(yours)
            if torch.allclose(y, 0.1 * old + 0.9 * mean):
                return "momentum is inverted: running = (1 - m) * running + m * batch, m = 0.1"
            if torch.allclose(y, old):
                return "running_mean was not updated in training mode"
            return None

        def var_variants(yours, old=old_rv, x=x):
            y = flat(yours)
            if torch.allclose(y, 0.9 * old + 0.1 * x.var(0, unbiased=False)):
                return "running_var tracks the biased variance; torch (and the lecture) track the unbiased x.var(0)"
            if torch.allclose(y, 0.9 * old + 0.1 * x.std(0)):
                return "running_var tracks the standard deviation, not the variance"
            if torch.allclose(y, 0.1 * old + 0.9 * x.var(0)):
                return "momentum is inverted: running = (1 - m) * running + m * batch, m = 0.1"
            return None

        kit.close(flat(bn.running_mean), rm, f"running_mean after {step + 1} training call(s) (flattened)",
                  rtol=1e-9, atol=1e-12, dims="D", diagnose=mean_variants)
        kit.close(flat(bn.running_var), rv, f"running_var after {step + 1} training call(s) (flattened)",
                  rtol=1e-9, atol=1e-12, dims="D", diagnose=var_variants,
                  hint="running_var = 0.9 * running_var + 0.1 * x.var(0) (unbiased, whatever you normalise with)")


def test_running_stats_carry_no_graph(layers):
    """After a training call on x with requires_grad, the buffers have no grad_fn and no requires_grad."""
    bn = as_float64(layers.BatchNorm1d(D))
    x = _batch().requires_grad_(True)
    bn(x).sum().backward()
    for name in ("running_mean", "running_var"):
        t = getattr(bn, name)
        if t.requires_grad or t.grad_fn is not None:
            kit.fail(f"BatchNorm1d.{name} is part of the autograd graph",
                     yours=f"requires_grad={t.requires_grad}, grad_fn={type(t.grad_fn).__name__ if t.grad_fn else None}",
                     expected="requires_grad=False, grad_fn=None",
                     hint="update the buffers inside `with torch.no_grad():` (or from detached batch statistics); "
                     "otherwise every step keeps the graph of all earlier steps alive")


def test_eval_uses_running_stats(layers):
    """training=False: the output uses the running buffers, leaves them alone and works for one example."""
    bn = as_float64(layers.BatchNorm1d(D), *_gamma_beta())
    for step in range(3):
        bn(_batch(seed_offset=20 + step))
    bn.training = False
    rm, rv = flat(bn.running_mean).clone(), flat(bn.running_var).clone()
    g, b = affine(bn)
    gamma, beta = flat(getattr(bn, g)), flat(getattr(bn, b))
    x = _batch(seed_offset=30)[:5]
    expected = gamma * (x - rm) / torch.sqrt(rv + 1e-5) + beta
    with torch.no_grad():
        y = bn(x)

    def batch_stats(yours):
        yours = torch.as_tensor(yours).detach()
        for unbiased in (False, True):
            if torch.allclose(yours, ref_bn(x, gamma, beta, 1e-5, unbiased=unbiased), rtol=1e-6, atol=1e-8):
                return "in eval mode you still normalise with the batch's own statistics"
        return None

    kit.close(y, expected, "eval-mode output on 5 examples", rtol=1e-9, atol=1e-10, dims="N D",
              diagnose=batch_stats, hint="if not self.training: use self.running_mean and self.running_var")
    kit.close(flat(bn.running_mean), rm, "running_mean after an eval-mode call (must not change)", dims="D",
              hint="update the buffers only when self.training is True")
    kit.close(flat(bn.running_var), rv, "running_var after an eval-mode call (must not change)", dims="D")
    with torch.no_grad():
        one = bn(x[:1])
    kit.close(one, expected[:1], "eval-mode output for a batch of one example", rtol=1e-9, atol=1e-10, dims="N D")


# ---- deep networks --------------------------------------------------------------------


def _deep_bn_net(layers, vocab, n_hidden=100, n_embd=10, block=3):
    torch.manual_seed(kit.seed())
    C = torch.randn(vocab, n_embd)
    dims = [n_embd * block] + [n_hidden] * 5
    net = []
    for a, b in zip(dims, dims[1:], strict=False):
        net += [layers.Linear(a, b, bias=False), layers.BatchNorm1d(b), layers.Tanh()]
    net += [layers.Linear(n_hidden, vocab, bias=False), layers.BatchNorm1d(vocab)]
    g, _ = affine(net[-1])
    with torch.no_grad():
        setattr(net[-1], g, getattr(net[-1], g) * 0.1)  # the lecture's less confident output
    params = [C] + [p for layer in net for p in layer.parameters()]
    for p in params:
        p.requires_grad = True
    return C, net, params


def _dataset(words, block=3):
    import random

    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    ws = list(words)
    random.Random(42).shuffle(ws)
    n1, n2 = int(0.8 * len(ws)), int(0.9 * len(ws))

    def build(part):
        xs, ys = [], []
        for w in part:
            ctx = [0] * block
            for ch in w + ".":
                xs.append(ctx)
                ys.append(stoi[ch])
                ctx = ctx[1:] + [stoi[ch]]
        return torch.tensor(xs), torch.tensor(ys)

    return len(stoi), build(ws[:n1]), build(ws[n1:n2])


def test_fan_in_init_keeps_a_plain_tanh_stack_alive(layers):
    """5 x (Linear, Tanh) without BatchNorm at default init: mean tanh saturation under 20%, last std over 0.2."""
    torch.manual_seed(kit.seed())
    x = torch.randn(1000, 30)
    sats, stds, fan = [], [], 30
    with torch.no_grad():
        for _ in range(5):
            x = layers.Tanh()(layers.Linear(fan, 100)(x))
            fan = 100
            sats.append((x.abs() > 0.97).float().mean().item())
            stds.append(x.std().item())
    table = ", ".join(f"{100 * s:.1f}% / {d:.2f}" for s, d in zip(sats, stds, strict=False))
    if sum(sats) / 5 >= 0.20:
        kit.fail("mean tanh saturation (|t| > 0.97) of a 5-layer Linear+Tanh stack",
                 yours=f"{100 * sum(sats) / 5:.1f}% (per layer saturation / std: {table})",
                 expected="< 20% (reference: 0.8% with 1/sqrt(fan_in), 10% with gain 5/3, 80% with plain randn)",
                 hint="scale the weights by 1/sqrt(fan_in)")
    if stds[-1] <= 0.2:
        kit.fail("std of the 5th tanh output in a Linear+Tanh stack", yours=f"{stds[-1]:.3f} ({table})",
                 expected="> 0.2 (reference 0.31 with 1/sqrt(fan_in), 0.65 with gain 5/3)",
                 hint="weights too small: the signal dies layer by layer; use 1/sqrt(fan_in), not 1/fan_in")


def test_deep_batchnorm_net_is_healthy_at_init(layers, words):
    """5 x (Linear, BatchNorm1d, Tanh) at init: tanh std 0.58-0.69, saturation < 6%, loss near ln V."""
    vocab, (Xtr, Ytr), _ = _dataset(words)
    C, net, _ = _deep_bn_net(layers, vocab)
    g = torch.Generator().manual_seed(kit.seed())
    ix = torch.randint(0, Xtr.shape[0], (N,), generator=g)
    x = C[Xtr[ix]].view(N, -1)
    outs = []
    with torch.no_grad():
        for layer in net:
            x = layer(x)
            if isinstance(layer, layers.Tanh):
                outs.append(x)
        loss = F.cross_entropy(x, Ytr[ix]).item()
    for i, t in enumerate(outs):
        std, sat = t.std().item(), (t.abs() > 0.97).float().mean().item()
        if not (BN_STD_BAND[0] <= std <= BN_STD_BAND[1] and sat < BN_SAT_MAX):
            kit.fail(f"tanh layer {i + 1} of the BatchNorm stack at init (std, saturation)",
                     yours=f"std {std:.3f}, saturation {100 * sat:.1f}%",
                     expected=f"std in [{BN_STD_BAND[0]}, {BN_STD_BAND[1]}], saturation < {100 * BN_SAT_MAX:.0f}% "
                     "(reference 0.63, 2-3%)",
                     hint="after BatchNorm the pre-activations have mean 0 and std 1 per feature")
    if abs(loss - math.log(vocab)) > 0.15:
        kit.fail("loss of the BatchNorm stack at init (output gamma x 0.1)", yours=round(loss, 4),
                 expected=f"{math.log(vocab):.4f} +- 0.15 (reference 3.28-3.33)")


def test_deep_net_trains_with_proportionate_updates(layers, words):
    """200 SGD steps of the BatchNorm stack: eval-mode dev loss < 2.75, update/data ratios 1e-4..1e-1.3."""
    vocab, (Xtr, Ytr), (Xdv, Ydv) = _dataset(words)
    C, net, params = _deep_bn_net(layers, vocab)
    weights = [layer.weight for layer in net if isinstance(layer, layers.Linear)]
    g = torch.Generator().manual_seed(kit.seed())
    lr, ud, last_acts = 0.1, [], None
    for step in range(TRAIN_STEPS):
        ix = torch.randint(0, Xtr.shape[0], (N,), generator=g)
        x, acts = C[Xtr[ix]].view(N, -1), []
        for layer in net:
            x = layer(x)
            if isinstance(layer, layers.Tanh):
                x.retain_grad()
                acts.append(x)
        loss = F.cross_entropy(x, Ytr[ix])
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
            ud.append([math.log10((lr * w.grad).std().item() / w.std().item()) for w in weights])
        if step == 0:
            last_acts = [(a.detach().clone(), a.grad.clone()) for a in acts]
    set_eval(net)
    with torch.no_grad():
        dev = F.cross_entropy(call_layers(net, C[Xdv].view(Xdv.shape[0], -1)), Ydv).item()
    _plots(last_acts, ud)
    kit.figure("dev loss", dev, "<", DEV_THRESHOLD)
    if not dev < DEV_THRESHOLD:
        kit.fail(f"dev loss (eval mode) after {TRAIN_STEPS} steps of the BatchNorm stack", yours=round(dev, 4),
                 expected=f"< {DEV_THRESHOLD} (reference 2.59-2.62)",
                 hint="every layer's parameters() must list its trainable tensors, and eval mode must use "
                 "the running statistics")
    tail = torch.tensor(ud[-50:]).mean(0)
    for i, r in enumerate(tail.tolist()):
        if not UD_BAND[0] <= r <= UD_BAND[1]:
            kit.fail(f"log10 update/data ratio of Linear layer {i + 1} (mean of the last 50 steps)",
                     yours=round(r, 2), expected=f"between {UD_BAND[0]} and {UD_BAND[1]} (reference -3.3 to -2.0)",
                     hint="a ratio far below -3 means the layer barely learns; far above, it is thrashed")


def _plots(acts, ud):
    """Activation and gradient histograms per tanh layer (step 0), update/data ratio per step."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        name = "test_deep_net_trains_with_proportionate_updates"
        for kind, idx, fname in (("activation", 0, "batchnorm-activations.png"),
                                 ("gradient", 1, "batchnorm-gradients.png")):
            fig, ax = plt.subplots(figsize=(7, 3.5))
            for i, pair in enumerate(acts):
                t = pair[idx].flatten()
                hy, hx = torch.histogram(t.double(), bins=50, density=True)
                ax.plot(((hx[:-1] + hx[1:]) / 2).tolist(), hy.tolist(),
                        label=f"tanh {i + 1}: std {t.std():.2e}")
            ax.set_title(f"{kind} distribution per layer (step 0)")
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(kit.artifact_path(name, fname))
            plt.close(fig)
        fig, ax = plt.subplots(figsize=(7, 3.5))
        series = torch.tensor(ud)
        for i in range(series.shape[1]):
            ax.plot(series[:, i].tolist(), lw=0.8, label=f"Linear {i + 1}")
        ax.axhline(-3, color="k", ls="--", lw=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("log10(update std / data std)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(kit.artifact_path(name, "batchnorm-update-ratio.png"))
        plt.close(fig)
    except Exception:
        pass
