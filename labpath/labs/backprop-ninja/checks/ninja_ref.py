"""Reference machinery for the backprop-ninja checks: the lecture's chunked forward pass,
autograd's gradients, and the autograd of each single step fed with the learner's own
upstream gradients (so one mistake is reported once, where it happens)."""

from __future__ import annotations

import torch

from labpath.checks import kit

BLOCK, N_EMBD, N_HIDDEN, BATCH = 3, 10, 64, 32  # with vocab 27: every size distinct
DTYPE = torch.float64
RTOL, ATOL = 1e-9, 1e-12  # float64: a correct formula is off by rounding (~1e-16) only
RTOL32, ATOL32 = 1e-5, 1e-7  # when the learner's tensor came out float32

# The 26 gradients of the lecture, in the order they are computed (output to input).
NAMES = [
    "dlogprobs", "dprobs", "dcounts_sum_inv", "dcounts_sum", "dcounts", "dnorm_logits",
    "dlogit_maxes", "dlogits", "dh", "dW2", "db2", "dhpreact", "dbngain", "dbnbias",
    "dbnraw", "dbnvar_inv", "dbnvar", "dbndiff2", "dbndiff", "dbnmeani", "dhprebn",
    "dembcat", "dW1", "db1", "demb", "dC",
]
PARAMS = ["C", "W1", "b1", "W2", "b2", "bngain", "bnbias"]

# The forward pass as steps: (output, inputs, function). The same code builds the
# autograd graph for the expected gradients and the one-step graphs for local checks.
STEPS = [
    ("emb", ["C"], lambda c, C: C[c["Xb"]]),
    ("embcat", ["emb"], lambda c, emb: emb.view(emb.shape[0], -1)),
    ("hprebn", ["embcat", "W1", "b1"], lambda c, x, W1, b1: x @ W1 + b1),
    ("bnmeani", ["hprebn"], lambda c, x: 1 / c["n"] * x.sum(0, keepdim=True)),
    ("bndiff", ["hprebn", "bnmeani"], lambda c, x, m: x - m),
    ("bndiff2", ["bndiff"], lambda c, d: d**2),
    ("bnvar", ["bndiff2"], lambda c, d2: 1 / (c["n"] - 1) * d2.sum(0, keepdim=True)),
    ("bnvar_inv", ["bnvar"], lambda c, v: (v + 1e-5) ** -0.5),
    ("bnraw", ["bndiff", "bnvar_inv"], lambda c, d, vi: d * vi),
    ("hpreact", ["bngain", "bnraw", "bnbias"], lambda c, g, r, b: g * r + b),
    ("h", ["hpreact"], lambda c, x: torch.tanh(x)),
    ("logits", ["h", "W2", "b2"], lambda c, h, W2, b2: h @ W2 + b2),
    ("logit_maxes", ["logits"], lambda c, x: x.max(1, keepdim=True).values),
    ("norm_logits", ["logits", "logit_maxes"], lambda c, x, m: x - m),
    ("counts", ["norm_logits"], lambda c, x: x.exp()),
    ("counts_sum", ["counts"], lambda c, x: x.sum(1, keepdim=True)),
    ("counts_sum_inv", ["counts_sum"], lambda c, x: x**-1),
    ("probs", ["counts", "counts_sum_inv"], lambda c, x, s: x * s),
    ("logprobs", ["probs"], lambda c, p: p.log()),
    ("loss", ["logprobs"], lambda c, lp: -lp[range(c["n"]), c["Yb"]].mean()),
]

GROUPS = {
    "softmax": ["dlogprobs", "dprobs", "dcounts_sum_inv", "dcounts_sum", "dcounts"],
    "logits": ["dnorm_logits", "dlogit_maxes", "dlogits"],
    "second layer": ["dh", "dW2", "db2"],
    "tanh": ["dhpreact"],
    "batchnorm scale and shift": ["dbngain", "dbnbias", "dbnraw"],
    "batchnorm statistics": ["dbnvar_inv", "dbnvar", "dbndiff2", "dbndiff", "dbnmeani", "dhprebn"],
    "first layer": ["dembcat", "dW1", "db1"],
    "embedding": ["demb", "dC"],
}


def dataset(words, block=BLOCK):
    """makemore's (context, next character) pairs, '.' (index 0) padding and ending words."""
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    X, Y = [], []
    for w in words:
        context = [0] * block
        for ch in w + ".":
            ix = stoi.get(ch, 0)
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y), len(chars) + 1


def make_batch(seed):
    """A batch of BATCH examples from the names, built to reuse rows of C on purpose."""
    X, Y, vocab = dataset(kit.words())
    g = torch.Generator().manual_seed(seed)
    ix = torch.randint(0, X.shape[0], (BATCH,), generator=g)
    Xb, Yb = X[ix].clone(), Y[ix].clone()
    # Example 0 is the start of a word: row 0 of C used three times in one example.
    # Example 1 repeats a letter inside its context ("ann" in anna) when the data has one.
    Xb[0], Yb[0] = X[0], Y[0]
    repeats = [i for i in range(X.shape[0]) if X[i, 1] != 0 and len(set(X[i].tolist())) < BLOCK]
    if repeats:
        j = repeats[int(torch.randint(0, len(repeats), (1,), generator=g))]
        Xb[1], Yb[1] = X[j], Y[j]
    return Xb, Yb, vocab


def init_params(vocab, seed):
    """The lecture's deliberately non-standard init: no zeros that could hide a bug."""
    g = torch.Generator().manual_seed(seed)
    fan_in = N_EMBD * BLOCK
    C = torch.randn((vocab, N_EMBD), generator=g, dtype=DTYPE)
    W1 = torch.randn((fan_in, N_HIDDEN), generator=g, dtype=DTYPE) * (5 / 3) / fan_in**0.5
    b1 = torch.randn(N_HIDDEN, generator=g, dtype=DTYPE) * 0.1
    W2 = torch.randn((N_HIDDEN, vocab), generator=g, dtype=DTYPE) * 0.1
    b2 = torch.randn(vocab, generator=g, dtype=DTYPE) * 0.1
    bngain = torch.randn((1, N_HIDDEN), generator=g, dtype=DTYPE) * 0.1 + 1.0
    bnbias = torch.randn((1, N_HIDDEN), generator=g, dtype=DTYPE) * 0.1
    return dict(C=C, W1=W1, b1=b1, W2=W2, b2=b2, bngain=bngain, bnbias=bnbias)


def forward_and_backward(seed):
    """The chunked forward pass and autograd's gradient of the loss for every tensor."""
    Xb, Yb, vocab = make_batch(seed)
    params = init_params(vocab, seed + 1)
    c = {"Xb": Xb, "Yb": Yb, "n": Xb.shape[0]}
    for name, p in params.items():
        c[name] = p.clone().requires_grad_(True)
    for out, inputs, fn in STEPS:
        c[out] = fn(c, *[c[i] for i in inputs])
        c[out].retain_grad()
    c["loss"].backward()
    grads = {"d" + k: c[k].grad.detach().clone() for k in [n[1:] for n in NAMES]}
    cache = {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in c.items()}
    return cache, grads


def fresh(cache):
    """A copy of the cache for the learner (in-place edits cannot reach the checks)."""
    return {k: (v.clone() if torch.is_tensor(v) else v) for k, v in cache.items()}


def local_expected(name, cache, yours, true):
    """d loss/d name from autograd of the steps that use `name`, each fed with the
    learner's gradient of that step's output (autograd's when theirs is unusable)."""
    target = name[1:]
    total = None
    for out, inputs, fn in STEPS:
        if target not in inputs:
            continue
        leaves = [cache[i].clone().requires_grad_(True) for i in inputs]
        result = fn(cache, *leaves)
        if out == "loss":
            upstream = torch.ones_like(result)
        else:
            upstream = true["d" + out]
            theirs = yours.get("d" + out)
            if torch.is_tensor(theirs) and theirs.numel() == upstream.numel():
                upstream = theirs.detach().to(DTYPE).reshape(upstream.shape)
        (g,) = torch.autograd.grad(result, leaves[inputs.index(target)], upstream)
        total = g if total is None else total + g
    return total


def learner_grads(module, cache):
    """Call manual_backward and return its dict with d-prefixed keys."""
    result = module.manual_backward(fresh(cache))
    if not isinstance(result, dict):
        kit.fail(f"manual_backward returned {type(result).__name__}, not a dict",
                 hint='return {"dlogprobs": dlogprobs, ..., "dC": dC}')
    out = {}
    for name in NAMES:
        value = result.get(name, result.get(name[1:]))
        if value is not None:
            out[name] = value
    return out


def row(name, yours, expected):
    """The lecture's cmp(): exact, allclose, max difference (plus what the table needs)."""
    if yours is None:
        return {"tensor": name, "status": "missing", "exact": False, "close": False, "maxdiff": None}
    if not torch.is_tensor(yours):
        return {"tensor": name, "status": f"not a tensor ({type(yours).__name__})",
                "exact": False, "close": False, "maxdiff": None}
    y = yours.detach()
    shape_ok = tuple(y.shape) == tuple(expected.shape) or (
        y.numel() == expected.numel() and y.squeeze().shape == expected.squeeze().shape
    )
    if not shape_ok:
        return {"tensor": name, "status": "shape", "shape": list(y.shape),
                "expected_shape": list(expected.shape), "exact": False, "close": False,
                "maxdiff": None}
    y = y.reshape(expected.shape)
    low = y.dtype != DTYPE
    rtol, atol = (RTOL32, ATOL32) if low else (RTOL, ATOL)
    y = y.to(DTYPE)
    diff = (y - expected).abs()
    r = {
        "tensor": name, "status": "ok", "shape": list(expected.shape),
        "exact": bool(torch.equal(y, expected)),
        "close": bool(torch.allclose(y, expected, rtol=rtol, atol=atol)),
        "maxdiff": float(diff.max()) if diff.numel() else 0.0,
        "mismatched": int((diff > atol + rtol * expected.abs()).sum()), "total": expected.numel(),
        "dtype": str(yours.dtype).replace("torch.", ""),
    }
    if not r["close"]:
        r["status"] = "wrong"
        flat = int(torch.argmax(diff - rtol * expected.abs()))
        idx = torch.unravel_index(torch.tensor(flat), expected.shape)
        r["worst_index"] = [int(i) for i in idx]
        r["yours"] = float(y.reshape(-1)[flat])
        r["expected"] = float(expected.reshape(-1)[flat])
    return r


def format_rows(rows):
    """Rows as the lecture prints them, one line each, indented under the report's label."""
    lines = []
    for r in rows:
        if r["status"] in ("ok", "wrong"):
            md = f"{r['maxdiff']:.1e}"
            lines.append(f"{r['tensor']:<15} exact {str(r['exact']):<5}  "
                         f"approx {str(r['close']):<5}  maxdiff {md}")
        elif r["status"] == "shape":
            lines.append(f"{r['tensor']:<15} wrong shape {tuple(r['shape'])}, "
                         f"expected {tuple(r['expected_shape'])}")
        else:
            lines.append(f"{r['tensor']:<15} {r['status']}")
    return ("\n" + " " * 15).join(lines)


def fingerprint(name, yours, expected, n):
    """Name a known mistake when yours is a simple variant of the expected gradient."""
    if not torch.is_tensor(yours):
        return None
    y = yours.detach().to(DTYPE)
    e = expected
    if e.dim() == 2 and tuple(y.shape) == tuple(reversed(e.shape)) and e.shape[0] != e.shape[1]:
        return (f"your {name} is transposed: {tuple(y.shape)}, but its tensor is "
                f"{tuple(e.shape)}; swap the operands of the matrix product (and their .T)")
    if y.numel() != e.numel():
        if y.dim() == e.dim() and e.dim() == 2 and y.shape[0] != e.shape[0] and e.shape[0] == 1:
            return (f"your {name} has one row per example {tuple(y.shape)}, but its tensor has "
                    f"shape {tuple(e.shape)}: it was broadcast over the batch (dim 0) in the "
                    "forward pass, so sum over dim 0 with keepdim=True")
        if y.dim() == e.dim() and e.dim() == 2 and y.shape[1] != e.shape[1] and e.shape[1] == 1:
            return (f"your {name} has shape {tuple(y.shape)}, its tensor {tuple(e.shape)}: it was "
                    "broadcast across each row, so sum over dim 1 with keepdim=True")
        if y.shape == tuple(reversed(e.shape)):
            return f"your {name} is transposed: it must have the shape of its tensor {tuple(e.shape)}"
        return f"your {name} must have the shape of its tensor, {tuple(e.shape)}"
    y = y.reshape(e.shape)
    if e.dim() == 2 and e.shape[0] == e.shape[1] and torch.allclose(y, e.T, rtol=1e-6, atol=1e-10):
        return f"your {name} is the transpose of the right one"
    denom = float((e * e).sum())
    if denom > 0:
        ratio = float((y * e).sum()) / denom
        if abs(ratio - 1) > 1e-6 and torch.allclose(y, ratio * e, rtol=1e-6, atol=1e-12):
            known = {
                -1.0: "the sign is flipped",
                float(n): f"it is n = {n} times too large: the loss is a mean over the batch, divide by n",
                1.0 / n: f"it is n = {n} times too small: the 1/n of the mean is applied twice",
                (n - 1) / n: "it uses 1/n where bnvar divides by n-1 (Bessel's correction)",
                n / (n - 1): "it uses 1/(n-1) where the step divides by n",
                2.0: "it is twice too large", 0.5: "it is half of what it should be",
            }
            for value, text in known.items():
                if abs(ratio - value) < 1e-6 * max(1.0, abs(value)):
                    return f"your {name} is {ratio:.6g} x the right one: {text}"
            return f"your {name} is {ratio:.6g} x the right one (a wrong constant factor)"
    return None
