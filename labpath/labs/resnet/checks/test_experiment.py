"""Checks for the experiment: a deep plain stack and its residual twin, gradients at init.

Toy task (generated here): 8x8 grayscale noise images with a bright 3x3 blob; the label
is the quadrant that holds the blob. Both networks use PyTorch's default initialization
and no normalization, so the only difference is the skip connection.
"""

import contextlib

import torch
import torch.nn as nn
from resnet_ref import blob_quadrants, conv_grad_norms

from labpath.checks import kit

DEPTH, WIDTH, SIZE, BATCH = 20, 8, 8, 32
# Measured over seeds 1-10 and 1337 (depth 20, width 8, batch 32 of 8x8 images): ratio
# >= 7.9e9 for the reference's x + relu(conv x), >= 1.5e9 for the relu(x + conv x) form.
MIN_RATIO = 1e4
MAX_PLAIN_DECAY = 1e-3  # plain net: first-conv grad / last-conv grad (measured <= 1e-8)


@contextlib.contextmanager
def tiny_model_settings():
    """Single-threaded, denormals flushed: tiny convs run fast even on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)


def build_pair(builders):
    plain_fn, residual_fn = builders
    torch.manual_seed(kit.seed())
    plain = plain_fn(DEPTH, WIDTH)
    torch.manual_seed(kit.seed())
    residual = residual_fn(DEPTH, WIDTH)
    return plain, residual


def test_plain_and_residual_nets_have_the_same_layers(builders):
    """deep_plain_net / deep_residual_net(20, 8): 21 convs each, equal parameter counts, (N, 4) logits."""
    plain, residual = build_pair(builders)
    x = torch.randn(
        3, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(kit.seed())
    )
    for name, net in (("deep_plain_net", plain), ("deep_residual_net", residual)):
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        if len(convs) != DEPTH + 1:
            kit.fail(
                f"number of Conv2d layers in {name}({DEPTH}, {WIDTH})",
                yours=len(convs),
                expected=DEPTH + 1,
                hint="a stem conv (in_channels -> width) plus `depth` hidden 3x3 convs",
            )
        # every conv is the documented Conv2d(c_in, width, 3, padding=1): the map keeps
        # its size, and the twins differ only in the skip connections
        shapes = [
            (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
            for m in convs
        ]
        wanted = [(1, WIDTH, (3, 3), (1, 1), (1, 1))] + [
            (WIDTH, WIDTH, (3, 3), (1, 1), (1, 1))
        ] * DEPTH
        bad = next((i for i, (a, b) in enumerate(zip(shapes, wanted)) if a != b), None)
        if bad is not None:
            kit.fail(
                f"conv {bad} of {name}({DEPTH}, {WIDTH}): (in, out, kernel, stride, padding)",
                yours=shapes[bad],
                expected=wanted[bad],
                hint="Conv2d(in_channels, width, 3, padding=1), then depth x "
                "Conv2d(width, width, 3, padding=1); in_channels defaults to 1",
            )
        with tiny_model_settings(), torch.no_grad():
            out = net(x)
        kit.close(
            torch.zeros(out.shape),
            torch.zeros(3, 4),
            f"{name} logits for a (3, 1, 8, 8) batch",
            dims="N classes",
            hint="global average pool, then Linear(width, num_classes=4)",
        )
    n_plain = sum(p.numel() for p in plain.parameters())
    n_res = sum(p.numel() for p in residual.parameters())
    if n_plain != n_res:
        kit.fail(
            "parameters of the residual twin vs the plain net",
            yours=n_res,
            expected=n_plain,
            hint="the skip connection adds no parameters: same layers, only x + ... differs",
        )


def test_residual_twin_keeps_first_layer_gradient(builders):
    """At init, the residual twin's first-conv gradient is >= 1e4 x the plain net's (which vanishes)."""
    plain, residual = build_pair(builders)
    x, y = blob_quadrants(BATCH, SIZE, torch.Generator().manual_seed(kit.seed()))
    with tiny_model_settings():
        g_plain = conv_grad_norms(plain, x, y)
        g_res = conv_grad_norms(residual, x, y)
    plot(g_plain, g_res)
    if not g_plain[-1] > 0:
        kit.fail(
            "the plain net's last conv got no gradient",
            yours=g_plain[-1],
            hint="every conv must be used in forward()",
        )
    decay = g_plain[0] / g_plain[-1]
    if decay > MAX_PLAIN_DECAY:
        kit.fail(
            "plain net: first-conv gradient norm / last-conv gradient norm",
            yours=decay,
            expected=f"<= {MAX_PLAIN_DECAY:g} (reference: 1e-8 or less)",
            hint="deep_plain_net must have no skip connections and PyTorch's default init "
            "(no BatchNorm, no custom init): its gradient should vanish with depth",
        )
    ratio = g_res[0] / max(g_plain[0], 1e-300)
    kit.figure("first-conv gradient norm, residual / plain", ratio, ">=", MIN_RATIO, fmt=".3g")
    if ratio < MIN_RATIO:
        kit.fail(
            "first-conv gradient norm, residual twin / plain net",
            yours=ratio,
            expected=f">= {MIN_RATIO:g} (reference: 1e9 or more)",
            hint="each hidden layer of deep_residual_net computes x + relu(conv(x)): "
            "the added x lets the gradient skip the layer",
        )


def plot(g_plain, g_res):
    """Gradient norm per conv layer, both nets, log scale (a figure for the learner)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.semilogy(
            range(len(g_plain)), [max(g, 1e-30) for g in g_plain], "o-", label="plain"
        )
        ax.semilogy(
            range(len(g_res)), [max(g, 1e-30) for g in g_res], "s-", label="residual"
        )
        ax.set_xlabel("conv layer (0 = first)")
        ax.set_ylabel("gradient norm at init")
        ax.set_title(f"depth {DEPTH}, width {WIDTH}: the gradient reaching each layer")
        ax.legend()
        fig.tight_layout()
        fig.savefig(
            kit.artifact_path(
                "test_residual_twin_keeps_first_layer_gradient",
                "resnet-gradient-norms.png",
            ),
            dpi=100,
        )
        plt.close(fig)
    except Exception:  # a figure is a bonus; never fail a check because of it
        pass
