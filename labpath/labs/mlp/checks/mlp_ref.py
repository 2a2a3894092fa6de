"""Reference machinery for the mlp checks: structure adapters, a torch twin, two moons."""

import math
import random

import numpy as np
import torch

from labpath.checks import kit

# The lecture's four examples (MLP(3, [4, 4, 1]) fits them with squared error).
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]

# Activation layouts a correct MLP may use: (hidden layers, last layer).
VARIANTS = {
    ("relu", "linear"): "ReLU hidden layers, linear output (the micrograd repository)",
    ("tanh", "tanh"): "tanh on every layer (the lecture)",
    ("tanh", "linear"): "tanh hidden layers, linear output",
}
# Layouts that are mistakes, for diagnoses.
WRONG = {
    ("relu", "relu"): "ReLU on the output layer too: the output can never be negative; "
    "make the last layer linear (nonlin=False)",
    ("linear", "linear"): "no nonlinearity anywhere: the network is one linear map",
    ("linear", "relu"): "the nonlinearity is only on the last layer",
    ("linear", "tanh"): "the nonlinearity is only on the last layer",
}


def build(nn, cls, *args, seed_offset=0):
    """Construct the learner's class with Python's random seeded (the repo uses random)."""
    random.seed(kit.seed() + seed_offset)
    return getattr(nn, cls)(*args)


def structure(model):
    """[[ (w_list, b), ... per neuron ] per layer] from .layers / .neurons / .w / .b."""
    layers = getattr(model, "layers", None)
    if layers is None:
        kit.fail("your MLP has no .layers attribute (a list of Layer objects)")
    out = []
    for i, layer in enumerate(layers):
        neurons = getattr(layer, "neurons", None)
        if neurons is None:
            kit.fail(f"layer {i} has no .neurons attribute (a list of Neuron objects)")
        out.append([neuron_wb(n, f"layer {i} neuron {j}") for j, n in enumerate(neurons)])
    return out


def neuron_wb(neuron, where="the neuron"):
    w, b = getattr(neuron, "w", None), getattr(neuron, "b", None)
    if w is None or b is None:
        kit.fail(f"{where} needs .w (a list of Values) and .b (a Value)")
    return list(w), b


def all_params(struct):
    return [p for layer in struct for w, b in layer for p in w + [b]]


def set_weights(struct, seed, fan_in=False):
    """Overwrite every weight and bias with seeded uniform numbers; returns torch twins.

    fan_in=True: weights uniform in +-sqrt(3 / nin) and zero biases (for training);
    otherwise weights and biases uniform in +-1 (nonzero biases, so they are tested).
    """
    g = torch.Generator().manual_seed(seed)
    Ws, bs = [], []
    for layer in struct:
        nin = len(layer[0][0])
        W = torch.rand(len(layer), nin, generator=g, dtype=torch.float64) * 2 - 1
        b = torch.rand(len(layer), generator=g, dtype=torch.float64) * 2 - 1
        if fan_in:
            W, b = W * math.sqrt(3 / nin), b * 0
        for j, (w, bv) in enumerate(layer):
            for k, wi in enumerate(w):
                wi.data = W[j, k].item()
            bv.data = b[j].item()
        Ws.append(W)
        bs.append(b)
    return Ws, bs


def read_weights(struct):
    Ws = [torch.tensor([[wi.data for wi in w] for w, _ in layer], dtype=torch.float64) for layer in struct]
    bs = [torch.tensor([b.data for _, b in layer], dtype=torch.float64) for layer in struct]
    return Ws, bs


def act(x, name):
    return torch.relu(x) if name == "relu" else torch.tanh(x) if name == "tanh" else x


def torch_forward(Ws, bs, X, layout, bias_scale=1.0):
    """X (B, nin) through the layers; layout = (hidden activation, last activation)."""
    h = X
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = act(h @ W.T + bias_scale * b, layout[0] if i < len(Ws) - 1 else layout[1])
    return h  # (B, nout)


def outputs(model, X):
    """The learner's model on each row of X, as a (B, nout) tensor of floats."""
    rows = []
    for x in X.tolist():
        y = model(x)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        rows.append([float(v.data) for v in ys])
    return torch.tensor(rows, dtype=torch.float64)


def inputs(seed, n=6, nin=3):
    g = torch.Generator().manual_seed(seed)
    extra = torch.rand(n, nin, generator=g, dtype=torch.float64) * 4 - 2
    return torch.cat([torch.tensor(XS, dtype=torch.float64), extra])


def detect_variant(nn, tol=1e-9):
    """The accepted layout whose torch twin matches the learner's MLP(3, [5, 4, 2])."""
    try:
        model = build(nn, "MLP", 3, [5, 4, 2])
        struct = structure(model)
        Ws, bs = set_weights(struct, kit.seed())
        X = inputs(kit.seed())
        got = outputs(model, X)
    except NotImplementedError:
        raise  # reported as "not started"
    except Exception:
        return None
    for layout in VARIANTS:
        want = torch_forward(Ws, bs, X, layout)
        if got.shape == want.shape and torch.allclose(got, want, rtol=tol, atol=tol):
            return layout
    return None


def closest(got, Ws, bs, X):
    """Name the layout (right or wrong) and bias use that explains got, or None."""
    for table in (VARIANTS, WRONG):
        for layout, name in table.items():
            for bias_scale, what in ((1.0, ""), (0.0, " and the bias is never added"),
                                     (2.0, " and the bias is added twice")):
                want = torch_forward(Ws, bs, X, layout, bias_scale)
                if got.shape == want.shape and torch.allclose(got, want, rtol=1e-9, atol=1e-9):
                    return name + what
    return None


def lecture_loss(model, xs=XS, ys=YS):
    """Sum of squared errors built with + and * only (both engines have them)."""
    loss = None
    for x, y in zip(xs, ys):
        out = model(x)
        d = out - y
        term = d * d
        loss = term if loss is None else loss + term
    return loss


def torch_lecture_grads(Ws, bs, layout, xs=XS, ys=YS):
    Ws = [W.clone().requires_grad_() for W in Ws]
    bs = [b.clone().requires_grad_() for b in bs]
    out = torch_forward(Ws, bs, torch.tensor(xs, dtype=torch.float64), layout)[:, 0]
    loss = ((out - torch.tensor(ys, dtype=torch.float64)) ** 2).sum()
    loss.backward()
    return loss.item(), [W.grad for W in Ws], [b.grad for b in bs]


def flat(Ws, bs):
    """Per-layer (W, b) into the parameter order: layer, neuron, weights then bias."""
    return torch.cat([torch.cat([W, b[:, None]], 1).reshape(-1) for W, b in zip(Ws, bs)])


def moons(n, seed, noise=0.1):
    """Two interleaving half circles, labels -1 / +1, centred near the origin."""
    rng = np.random.default_rng(seed)
    n1, n2 = n // 2, n - n // 2
    t1, t2 = rng.uniform(0, math.pi, n1), rng.uniform(0, math.pi, n2)
    X = np.concatenate([np.stack([np.cos(t1), np.sin(t1)], 1),
                        np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)])
    X = X + rng.normal(0, noise, X.shape) - np.array([0.5, 0.25])
    y = np.concatenate([-np.ones(n1), np.ones(n2)])
    return X.tolist(), y.tolist()


def has_pow(model):
    """Whether the learner's Value has ** (optional in the micrograd lab)."""
    w, _ = structure(model)[0][0]
    return kit.has(type(w[0]), "__pow__")
