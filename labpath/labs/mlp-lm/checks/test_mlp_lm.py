"""Checks for the mlp-lm lab: the dataset, the split, the model against a torch
reference with the same weights, the loss, the learning-rate finder and a short
training run measured on the dev split.

Sizes in the model checks are distinct (V=11, block=4, E=5, H=7, B=13) so a swapped
axis or a wrong concatenation cannot pass by accident.
"""

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from mlplm_ref import (
    call_build_dataset,
    double_softmax_loss,
    param_layout,
    ref_dataset,
    ref_forward,
    ref_vocab,
)

from labpath.checks import kit

V, BLOCK, E, H, B = 11, 4, 5, 7, 13

# Measured on solution/ (shipped names, 1500 steps, batch 32, lr 0.1 -> 0.01 at 1000,
# seeds 0-7): dev loss 2.174-2.224. The threshold leaves ~0.1 of margin.
TRAIN_STEPS, DECAY_AT, DEV_THRESHOLD = 1500, 1000, 2.32


def _layout(mlp):
    layout, ps = param_layout(mlp, V, BLOCK, E, H)
    if layout is None:
        kit.fail(
            f"init_params({V}, {BLOCK}, {E}, {H}) returned shapes {[tuple(p.shape) for p in ps]}",
            expected=f"[C (V, E), W1 (block*E, H), b1 (H,), W2 (H, V), b2 (V,)] = "
            f"[{(V, E)}, {(BLOCK * E, H)}, {(H,)}, {(H, V)}, {(V,)}] (W1, W2 may be transposed)",
            hint="init_params(vocab_size, block_size, n_embd, n_hidden) returns [C, W1, b1, W2, b2]",
        )
    return layout


def _ref_params(dtype=torch.float64):
    g = torch.Generator().manual_seed(kit.seed())
    C = torch.randn(V, E, generator=g, dtype=dtype)
    W1 = torch.randn(BLOCK * E, H, generator=g, dtype=dtype) * 0.4
    b1 = torch.randn(H, generator=g, dtype=dtype) * 0.5
    W2 = torch.randn(H, V, generator=g, dtype=dtype)
    b2 = torch.randn(V, generator=g, dtype=dtype) * 0.5
    X = torch.randint(0, V, (B, BLOCK), generator=g)
    Y = torch.randint(0, V, (B,), generator=g)
    return [C, W1, b1, W2, b2], X, Y


def _as_learner(params, layout):
    C, W1, b1, W2, b2 = [p.detach().clone() for p in params]
    if layout == "out_in":
        W1, W2 = W1.T.contiguous(), W2.T.contiguous()
    out = [C, W1, b1, W2, b2]
    for p in out:
        p.requires_grad_(True)
    return out


def _data(mlp, words, block_size=3):
    stoi = ref_vocab(words)
    tr, dv, te = mlp.split_words(list(words))
    Xtr, Ytr = ref_dataset(tr, stoi, block_size)
    Xdv, Ydv = ref_dataset(dv, stoi, block_size)
    return stoi, Xtr, Ytr, Xdv, Ydv


# ---- data ---------------------------------------------------------------------------


def test_vocab_puts_dot_at_index_0(mlp, words):
    """build_vocab: '.' is 0 and the letters follow in sorted order from 1."""
    kit.skip_unless(mlp, "build_vocab", "build_vocab()")
    out = mlp.build_vocab(words)
    stoi = out[0] if isinstance(out, tuple) else out
    expected = ref_vocab(words)
    if dict(stoi) != expected:
        wrong = sorted(k for k in expected if stoi.get(k) != expected[k])[:5]
        kit.fail("stoi from build_vocab(words)",
                 yours={k: stoi.get(k) for k in wrong}, expected={k: expected[k] for k in wrong},
                 hint="stoi = {ch: i + 1 for i, ch in enumerate(sorted(set(''.join(words))))}; stoi['.'] = 0")


def test_build_dataset_for_emma(mlp):
    """'emma' with block_size 3 gives ... -> e, ..e -> m, .em -> m, emm -> a, mma -> ."""
    stoi = ref_vocab([chr(c) for c in range(ord("a"), ord("z") + 1)])
    X, Y = call_build_dataset(mlp, ["emma"], stoi, 3)
    eX, eY = ref_dataset(["emma"], stoi, 3)
    lagX, _ = ref_dataset(["emma"], stoi, 3, lag=True)

    def lagging(yours):
        if torch.equal(torch.as_tensor(yours), lagX):
            return "your contexts already contain their own target: record (context, ix) before sliding"
        return None

    if not isinstance(X, torch.Tensor) or X.dtype != torch.long:
        kit.fail("X from build_dataset", yours=f"{type(X).__name__} {getattr(X, 'dtype', '')}",
                 expected="a torch.long (int64) tensor", hint="torch.tensor(X) of Python ints is int64")
    kit.close(X, eX, "X (contexts) for ['emma']", dims="N block_size", diagnose=lagging,
              hint="start from [0] * block_size and slide after recording each example; "
              "each word ends with the target '.' (index 0)")
    kit.close(Y, eY, "Y (targets) for ['emma']", dims="N",
              hint="targets are the characters of w + '.'")


@pytest.mark.parametrize("block_size", [3, 5])
def test_build_dataset_matches_reference(mlp, words, block_size):
    """Every word: shapes (N, block_size) and (N,), dtype long, exact contexts and targets."""
    stoi = ref_vocab(words)
    sub = words[:400]
    X, Y = call_build_dataset(mlp, sub, stoi, block_size)
    eX, eY = ref_dataset(sub, stoi, block_size)
    for name, t in (("X", X), ("Y", Y)):
        if not isinstance(t, torch.Tensor) or t.dtype != torch.long:
            kit.fail(f"{name} from build_dataset", yours=str(getattr(t, "dtype", type(t).__name__)),
                     expected="torch.int64", hint="indices must be long to index C and for cross_entropy")
    kit.close(X, eX, f"X for the first 400 words, block_size {block_size}", dims="N block_size")
    kit.close(Y, eY, f"Y for the first 400 words, block_size {block_size}", dims="N")


def test_split_is_80_10_10_of_shuffled_words(mlp, words):
    """split_words: 80/10/10 of a shuffled word list, disjoint, complete and reproducible."""
    tr, dv, te = mlp.split_words(list(words))
    n = len(words)
    n1, n2 = int(0.8 * n), int(0.9 * n)
    sizes = (len(tr), len(dv), len(te))
    if sizes != (n1, n2 - n1, n - n2):
        kit.fail(f"split sizes of {n} words", yours=sizes, expected=(n1, n2 - n1, n - n2),
                 hint="n1 = int(0.8 * len(words)), n2 = int(0.9 * len(words)): "
                 "words[:n1], words[n1:n2], words[n2:]")
    if sorted(list(tr) + list(dv) + list(te)) != sorted(words):
        kit.fail("the three splits together are not exactly the words given (a word lost, repeated "
                 "or in two splits)", hint="slice one shuffled list at n1 and n2")
    if list(tr) == list(words[:n1]):
        kit.fail("the train split is the first 80% of the words in their original (alphabetical) "
                 "order", hint="shuffle (random.seed(42); random.shuffle(words)) before splitting")
    mine = list(words)
    mlp.split_words(mine)
    if mine != list(words):
        kit.fail("split_words shuffled the list it was given in place",
                 hint="shuffle a copy (words = list(words)) and leave the caller's list alone")
    again = mlp.split_words(list(words))
    if [list(s) for s in again] != [list(tr), list(dv), list(te)]:
        kit.fail("two calls of split_words on the same list give different splits",
                 hint="seed the shuffle (random.seed(42) or random.Random(seed)) so the split is reproducible")


# ---- model ----------------------------------------------------------------------------


def test_init_params_shapes_and_count(mlp):
    """init_params: [C, W1, b1, W2, b2] of the right shapes; 11,897 numbers for 27/3/10/200."""
    _layout(mlp)
    ps = list(mlp.init_params(27, 3, 10, 200))
    n = sum(p.numel() for p in ps)
    if n != 11897:
        kit.fail("parameter count of init_params(27, 3, 10, 200)", yours=n, expected=11897,
                 hint="27*10 + 30*200 + 200 + 200*27 + 27")
    if not all(p.requires_grad for p in ps):
        kit.fail("every parameter needs requires_grad=True",
                 yours=[bool(p.requires_grad) for p in ps], expected=[True] * 5)


def test_initial_loss_is_near_ln_vocab(mlp, words):
    """At init the train loss is close to ln(vocab) (3.30 for 27): no confident wrong guesses."""
    stoi, Xtr, Ytr, _, _ = _data(mlp, words)
    g = torch.Generator().manual_seed(kit.seed())
    params = mlp.init_params(len(stoi), 3, 10, 200, generator=g)
    layout = _layout(mlp)
    C, W1, b1, W2, b2 = [p.detach() for p in params]
    if layout == "out_in":
        W1, W2 = W1.T, W2.T
    loss = F.cross_entropy(ref_forward(C, W1, b1, W2, b2, Xtr), Ytr).item()
    uniform = math.log(len(stoi))
    if not abs(loss - uniform) < 0.3:
        kit.fail("train loss with init_params' weights", yours=round(loss, 4),
                 expected=f"{uniform:.4f} +- 0.3 (ln {len(stoi)}; reference 3.30)",
                 hint="scale W2 by ~0.01 and b2 to 0 so the first logits are near-uniform, "
                 "and W1 by (5/3)/sqrt(fan_in) so tanh is not saturated (lecture 4)")


def test_init_keeps_tanh_units_out_of_saturation(mlp, words):
    """At init the hidden tanh units work in their sensitive range: W1 is scaled by gain/sqrt(fan_in)."""
    stoi, Xtr, _, _, _ = _data(mlp, words)
    g = torch.Generator().manual_seed(kit.seed())
    params = mlp.init_params(len(stoi), 3, 10, 200, generator=g)
    C, W1, b1 = [p.detach().double() for p in params[:3]]
    if _layout(mlp) == "out_in":
        W1 = W1.T
    X = Xtr[:2000]
    h = torch.tanh(C[X].reshape(X.shape[0], -1) @ W1 + b1)  # (N, H)
    saturated = (h.abs() > 0.99).double().mean().item()
    spread = torch.atanh(h.clamp(-1 + 1e-12, 1 - 1e-12)).std().item()  # of the pre-activations
    # Measured: gain 5/3 leaves ~11% of the outputs beyond 0.99, the lecture's 0.2 scale ~1%,
    # plain randn ~63%, and W1 * sqrt(fan_in) instead of / sqrt(fan_in) ~97%.
    if saturated > 0.4:
        fan_in, std = W1.shape[0], W1.std().item()
        diag = None
        if 0.8 <= std / fan_in**0.5 <= 2.2:
            diag = "W1 is multiplied by sqrt(fan_in) instead of divided by it"
        elif 0.8 <= std <= 1.25:
            diag = "W1 is plain randn: scale it by (5/3) / sqrt(fan_in)"
        kit.fail("fraction of hidden tanh outputs beyond +-0.99 at init (train contexts)",
                 yours=round(saturated, 3), expected="below 0.4 (reference 0.11)", diagnosis=diag,
                 hint="W1 = torch.randn((fan_in, n_hidden)) * (5/3) / fan_in**0.5 (lecture 4)")
    # Measured: std of the pre-activations 1.7 for the reference, 1.1 for the lecture's 0.2
    # scale, 0.3 for W1 divided by fan_in instead of sqrt(fan_in).
    if spread < 0.45:
        fan_in = W1.shape[0]
        diag = None
        if abs(W1.std().item() * fan_in - 5 / 3) < 0.5:
            diag = "W1 is divided by fan_in instead of sqrt(fan_in): the units barely leave 0"
        kit.fail("std of the hidden pre-activations at init (train contexts)", yours=round(spread, 3),
                 expected="at least 0.45 (reference 1.7)", diagnosis=diag,
                 hint="W1 = torch.randn((fan_in, n_hidden)) * (5/3) / fan_in**0.5 (lecture 4)")


def test_documented_defaults(mlp, words):
    """The README's defaults: init_params() is 27/3/10/200, block_size=3, split seed=42, lr_sweep -3..0 in 1000."""
    ps = [tuple(p.shape) for p in mlp.init_params()]
    if sorted(ps) != sorted([(27, 10), (30, 200), (200,), (200, 27), (27,)]) and sorted(ps) != sorted(
            [(27, 10), (200, 30), (200,), (27, 200), (27,)]):
        kit.fail("shapes from init_params() with its defaults", yours=ps,
                 expected="vocab_size=27, block_size=3, n_embd=10, n_hidden=200: "
                 "[(27, 10), (30, 200), (200,), (200, 27), (27,)]")
    stoi = ref_vocab(words)
    params = inspect.signature(mlp.build_dataset).parameters
    with_stoi = "stoi" in params or len(params) >= 3  # a global stoi is accepted too
    X, Y = mlp.build_dataset(words[:40], stoi) if with_stoi else mlp.build_dataset(words[:40])
    eX, eY = ref_dataset(words[:40], stoi, 3)
    kit.close(X, eX, "X from build_dataset(words, stoi) (default block_size=3)", dims="N block_size")
    if [list(s) for s in mlp.split_words(list(words))] != [
            list(s) for s in mlp.split_words(list(words), seed=42)]:
        kit.fail("split_words(words) differs from split_words(words, seed=42)",
                 hint="the documented default is seed=42")
    g = torch.Generator().manual_seed(kit.seed())
    params = mlp.init_params(len(stoi), 3, 10, 200, generator=g)
    Xtr, Ytr = ref_dataset(words[:200], stoi, 3)
    exps, losses = mlp.lr_sweep(params, Xtr, Ytr, generator=g)
    exps = [float(e) for e in exps]
    if len(exps) != 1000 or len(losses) != 1000 or abs(exps[0] + 3) > 1e-6 or abs(exps[-1]) > 1e-6:
        kit.fail("lr_sweep(params, X, Y) with its defaults (steps=1000, lo=-3.0, hi=0.0)",
                 yours=f"{len(exps)} exponents from {exps[0]:g} to {exps[-1]:g}" if exps else "none",
                 expected="1000 exponents from -3 to 0")


def test_forward_matches_torch_reference(mlp):
    """forward(params, X) equals tanh(C[X].view(B, -1) @ W1 + b1) @ W2 + b2."""
    layout = _layout(mlp)
    params, X, _ = _ref_params()
    logits = mlp.forward(_as_learner(params, layout), X)
    expected = ref_forward(*params, X)
    C, W1, b1, W2, b2 = params

    def variants(yours):
        y = torch.as_tensor(yours).detach().double()
        emb = C[X]
        cands = {
            "your concatenation interleaves the characters (C[X] transposed before view): "
            "view (B, block, E) as (B, block*E) directly":
                torch.tanh(emb.transpose(1, 2).reshape(B, -1) @ W1 + b1) @ W2 + b2,
            "no tanh on the hidden layer": (emb.reshape(B, -1) @ W1 + b1) @ W2 + b2,
            "b1 is missing": torch.tanh(emb.reshape(B, -1) @ W1) @ W2 + b2,
            "b2 is missing": torch.tanh(emb.reshape(B, -1) @ W1 + b1) @ W2,
            "your forward returns softmax probabilities, not logits":
                F.softmax(expected, dim=1),
        }
        for text, cand in cands.items():
            if y.shape == cand.shape and torch.allclose(y, cand, rtol=1e-6, atol=1e-8):
                return text
        return None

    kit.close(logits, expected, f"logits for B={B}, block={BLOCK}, E={E}, H={H}, V={V} (float64)",
              rtol=1e-9, atol=1e-10, dims="B V", diagnose=variants,
              hint="emb = C[X] (B, block, E); h = tanh(emb.view(B, -1) @ W1 + b1); logits = h @ W2 + b2")


def test_loss_matches_f_cross_entropy(mlp):
    """loss_fn(logits, Y) equals F.cross_entropy, also for large float32 logits (no overflow)."""
    g = torch.Generator().manual_seed(kit.seed())
    # float64 at scale 1; float32 at scale 100, where exp() of a raw logit overflows
    for scale, dtype in ((1.0, torch.float64), (100.0, torch.float32)):
        logits = (torch.randn(B, V, generator=g, dtype=torch.float64) * scale).to(dtype)
        Y = torch.randint(0, V, (B,), generator=g)
        yours = mlp.loss_fn(logits, Y)
        expected = F.cross_entropy(logits, Y)

        def variants(y, logits=logits, Y=Y):
            y = float(torch.as_tensor(y))
            if math.isclose(y, F.cross_entropy(logits, Y, reduction="sum").item(), rel_tol=1e-6):
                return "your loss is the sum over the batch; use the mean"
            if math.isclose(y, double_softmax_loss(logits, Y).item(), rel_tol=1e-6):
                return "softmax applied before cross_entropy (which applies its own)"
            if math.isnan(y) or math.isinf(y):
                return "exp of large logits overflowed: subtract the row max first (or use F.cross_entropy)"
            return None

        tol = 1e-7 if dtype == torch.float64 else 1e-5
        kit.close(yours, expected, f"loss for {dtype} logits of scale {scale:g}", rtol=tol, atol=tol,
                  diagnose=variants, hint="mean over the batch of -log softmax(logits)[i, Y[i]]")


def test_gradients_match_autograd_of_reference(mlp):
    """Backward through forward + loss_fn gives torch autograd's gradients for every parameter."""
    layout = _layout(mlp)
    params, X, Y = _ref_params()
    mine = _as_learner(params, layout)
    mlp.loss_fn(mlp.forward(mine, X), Y).backward()
    ref = [p.detach().clone().requires_grad_(True) for p in params]
    F.cross_entropy(ref_forward(*ref, X), Y).backward()
    for name, p, r in zip(["C", "W1", "b1", "W2", "b2"], mine, ref, strict=False):
        if p.grad is None:
            kit.fail(f"{name}.grad is None after backward()",
                     hint="compute with the parameters themselves (not .data or a copy) so autograd reaches them")
        g = p.grad.T if layout == "out_in" and name in ("W1", "W2") else p.grad
        kit.close(g, r.grad, f"gradient of {name}", rtol=1e-8, atol=1e-10)


# ---- learning rate and training ------------------------------------------------------


def test_lr_sweep_covers_the_exponent_range(mlp, words):
    """lr_sweep: one step per lr = 10**e for e from -3 to 0; the loss falls and then rises."""
    stoi, Xtr, Ytr, _, _ = _data(mlp, words)
    g = torch.Generator().manual_seed(kit.seed())
    params = mlp.init_params(len(stoi), 3, 10, 200, generator=g)
    steps = 300
    exps, losses = mlp.lr_sweep(params, Xtr, Ytr, steps=steps, lo=-3.0, hi=0.0, generator=g)
    exps = [float(e) for e in exps]
    losses = [float(x) for x in losses]
    if len(exps) != steps or len(losses) != steps:
        kit.fail("lengths of (exponents, losses) from lr_sweep(steps=300)",
                 yours=(len(exps), len(losses)), expected=(steps, steps))
    if abs(exps[0] + 3) > 1e-6 or abs(exps[-1]) > 1e-6 or any(b <= a for a, b in zip(exps, exps[1:], strict=False)):
        kit.fail("exponents should rise evenly from -3 to 0", yours=[round(e, 3) for e in exps[:3] + exps[-2:]],
                 expected="[-3.0, -2.99, -2.98, ..., -0.003, 0.0]", hint="torch.linspace(lo, hi, steps)")
    t = torch.tensor(losses).nan_to_num(nan=1e9)
    best = t.unfold(0, 25, 1).mean(1).min().item()
    _plot_sweep(exps, losses)
    # init_params starts near ln V (checked above); a working sweep goes well below it
    if not best < math.log(len(stoi)) - 0.3:
        kit.fail("the lowest 25-step average loss of the sweep",
                 yours=round(best, 3), expected=f"< ln {len(stoi)} - 0.3 = {math.log(len(stoi)) - 0.3:.3f} "
                 "(reference about 2.5)",
                 hint="the step is p -= 10**e * p.grad (the lr is 10 to the exponent, not the exponent); "
                 "reset p.grad each step")


def _plot_sweep(exps, losses):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(exps, losses, lw=0.8)
        ax.set_xlabel("log10(learning rate)")
        ax.set_ylabel("mini-batch loss")
        ax.set_title("learning-rate sweep")
        fig.tight_layout()
        fig.savefig(kit.artifact_path("test_lr_sweep_covers_the_exponent_range", "mlp-lm-lr-sweep.png"))
        plt.close(fig)
    except Exception:
        pass


def test_lr_sweep_steps_with_ten_to_the_exponent(mlp):
    """lr_sweep: the loss before step i is recorded, then one SGD step with lr = 10**exponents[i]."""
    layout = _layout(mlp)
    params, X, Y = _ref_params(torch.float32)
    X1, Y1 = X[:1].repeat(50, 1), Y[:1].repeat(50)  # every mini-batch is this one example
    mine = _as_learner(params, layout)
    exps, losses = mlp.lr_sweep(mine, X1, Y1, steps=4, lo=-2.0, hi=-0.5,
                                generator=torch.Generator().manual_seed(0))
    ps = [p.detach().clone().requires_grad_(True) for p in params]
    expected = []
    for e in torch.linspace(-2.0, -0.5, 4).tolist():
        loss = F.cross_entropy(ref_forward(*ps, X1[:32]), Y1[:32])
        for p in ps:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in ps:
                p -= 10**e * p.grad
        expected.append(loss.item())
    kit.close([float(v) for v in losses], expected, "losses of lr_sweep(steps=4, lo=-2, hi=-0.5) "
              "on one repeated example", rtol=1e-4, atol=1e-6, dims="step",
              hint="for each e: loss on a mini-batch, backward, p -= 10**e * p.grad; record the loss")


class _Rows(torch.Tensor):
    """X that remembers which rows were looked up (X[ix] or index_select), for batch checks."""

    drawn: list = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.__getitem__, torch.index_select) and len(args) > 1:
            index = args[1] if func is torch.Tensor.__getitem__ else args[2]
            if isinstance(index, list):
                index = torch.tensor(index)
            if torch.is_tensor(index) and index.dim() == 1 and index.dtype == torch.long:
                cls.drawn.append(index.detach().clone())
        out = super().__torch_function__(func, types, args, kwargs or {})
        return out.as_subclass(torch.Tensor) if isinstance(out, torch.Tensor) else out


def test_minibatches_are_drawn_from_every_row(mlp):
    """train and lr_sweep draw batches of 32 by default (batch_size=32) from all N rows of X."""
    layout = _layout(mlp)
    params, X, Y = _ref_params(torch.float32)
    g = torch.Generator().manual_seed(kit.seed())
    X = torch.randint(0, V, (300, BLOCK), generator=g)
    Y = torch.randint(0, V, (300,), generator=g)
    for name, call in (
        ("train(params, X, Y, 3)", lambda p, x: mlp.train(p, x, Y, 3, generator=torch.Generator().manual_seed(1))),
        ("lr_sweep(params, X, Y, steps=3)", lambda p, x: mlp.lr_sweep(p, x, Y, steps=3, generator=torch.Generator().manual_seed(1))),
    ):
        _Rows.drawn = []
        call(_as_learner(params, layout), X.as_subclass(_Rows))
        if not _Rows.drawn:
            pytest.skip(f"{name} reads X without indexing it (X[ix]); the batch check needs that")
        sizes = sorted({len(ix) for ix in _Rows.drawn})
        if sizes != [32]:
            kit.fail(f"mini-batch sizes drawn by {name} (default batch_size=32)", yours=sizes, expected=[32])
        rows = torch.cat(_Rows.drawn)
        if rows.max().item() < 150 or rows.min().item() >= 150:
            kit.fail(f"rows of X (N=300) drawn by {name}", yours=f"{rows.min().item()}..{rows.max().item()}",
                     expected="rows from all of 0..299", hint="ix = torch.randint(0, X.shape[0], (batch_size,))")


def test_pick_lr_finds_the_valley(mlp):
    """pick_lr on a sweep whose loss bottoms out at lr 0.16 and explodes after 0.5 returns a
    learning rate between 0.005 and 0.7 (not an exponent, not an edge of the sweep)."""
    g = torch.Generator().manual_seed(kit.seed())
    exps = torch.linspace(-3, 0, 300)
    base = 2.5 + 0.35 * (exps + 0.8) ** 2
    blow = torch.where(exps > -0.3, 40.0 * (exps + 0.3) ** 2, torch.zeros_like(exps))
    losses = (base + blow + 0.08 * torch.randn(300, generator=g)).tolist()
    lr = mlp.pick_lr(exps.tolist(), losses)
    lr = float(lr)
    if not 0.005 <= lr <= 0.7:
        diag = None
        if lr < 0:
            diag = "you returned the exponent; the learning rate is 10**exponent"
        elif lr >= 0.9:
            diag = "you picked the end of the sweep, where the loss explodes"
        kit.fail("learning rate picked from a sweep with its valley at 10**-0.8 = 0.16",
                 yours=lr, expected="between 0.005 and 0.7", diagnosis=diag,
                 hint="smooth the noisy losses, find the exponent of the lowest loss, return 10**that")


def test_pick_lr_returns_ten_to_the_valley_exponent(mlp):
    """pick_lr on a sweep whose sharp valley sits at exponent -2.5 returns a learning rate
    within 4x of 10**-2.5 = 0.0032 (far from 0, a wrong base for the power shows)."""
    g = torch.Generator().manual_seed(kit.seed())
    exps = torch.linspace(-3, 0, 300)
    losses = (2.5 + 6.0 * (exps + 2.5) ** 2 + 0.08 * torch.randn(300, generator=g)).tolist()
    lr = float(mlp.pick_lr(exps.tolist(), losses))
    lo, hi = 10**-2.5 / 4, 10**-2.5 * 4
    if not lo <= lr <= hi:
        diag = None
        if lr < 0:
            diag = "you returned the exponent; the learning rate is 10**exponent"
        kit.fail("learning rate picked from a sweep with its valley at 10**-2.5 = 0.0032",
                 yours=lr, expected=f"between {lo:.5f} and {hi:.4f}", diagnosis=diag,
                 hint="the exponents are powers of ten: return 10**e for the e of the smoothed minimum")


def _ref_train(params, X, Y, steps, lr, decay_at, late=False):
    ps = [p.detach().clone().requires_grad_(True) for p in params]
    losses = []
    for i in range(steps):
        loss = F.cross_entropy(ref_forward(*ps, X[:32]), Y[:32])
        for p in ps:
            p.grad = None
        loss.backward()
        drop = decay_at is not None and (i > decay_at if late else i >= decay_at)
        with torch.no_grad():
            for p in ps:
                p -= (lr / 10 if drop else lr) * p.grad
        losses.append(loss.item())
    return losses, ps


def test_train_drops_lr_tenfold_at_decay_at(mlp):
    """train(): steps 0..decay_at-1 use lr (default 0.1), steps from decay_at on lr / 10."""
    layout = _layout(mlp)
    params, X, Y = _ref_params(torch.float32)
    # Every row is the same example, so every mini-batch is too, however it is drawn.
    X1, Y1 = X[:1].repeat(50, 1), Y[:1].repeat(50)
    for steps, decay_at in ((5, 2), (4, None)):
        mine = _as_learner(params, layout)
        got = mlp.train(mine, X1, Y1, steps, decay_at=decay_at, generator=torch.Generator().manual_seed(0))
        expected, ref_ps = _ref_train(params, X1, Y1, steps, 0.1, decay_at)
        late, _ = _ref_train(params, X1, Y1, steps, 0.1, decay_at, late=True)
        never, _ = _ref_train(params, X1, Y1, steps, 0.1, None)

        def diagnose(yours, late=late, never=never, decay_at=decay_at):
            y = torch.tensor([float(v) for v in yours], dtype=torch.float64)
            if decay_at is not None and torch.allclose(y, torch.tensor(late, dtype=torch.float64), rtol=1e-5):
                return f"the lr drops one step late: step decay_at={decay_at} itself must use lr / 10 (i >= decay_at)"
            if decay_at is not None and torch.allclose(y, torch.tensor(never, dtype=torch.float64), rtol=1e-5):
                return "the lr never drops: from step decay_at on use lr / 10"
            return None

        kit.close([float(v) for v in got], expected, f"losses of train(params, X, Y, {steps}, decay_at={decay_at}) "
                  "(default lr=0.1; one repeated example)", rtol=1e-4, atol=1e-6, dims="step",
                  diagnose=diagnose, hint="step_lr = lr if decay_at is None or i < decay_at else lr / 10")
        if layout == "out_in":
            mine = [mine[0], mine[1].T, mine[2], mine[3].T, mine[4]]
        kit.close([p.detach() for p in mine][1], ref_ps[1].detach(), "W1 after training", rtol=1e-4, atol=1e-6)


def test_training_reaches_dev_loss(mlp, words):
    """train(): 1500 seeded steps of batch 32 bring the dev loss under 2.32."""
    stoi, Xtr, Ytr, Xdv, Ydv = _data(mlp, words)
    g = torch.Generator().manual_seed(kit.seed())
    params = mlp.init_params(len(stoi), 3, 10, 200, generator=g)
    losses = mlp.train(params, Xtr, Ytr, TRAIN_STEPS, batch_size=32, lr=0.1, decay_at=DECAY_AT, generator=g)
    with torch.no_grad():
        dev = mlp.loss_fn(mlp.forward(params, Xdv), Ydv).item()
    _plot_training(losses)
    kit.figure("dev loss", dev, "<", DEV_THRESHOLD)
    if not dev < DEV_THRESHOLD:
        kit.fail(f"dev loss after {TRAIN_STEPS} steps (batch 32, lr 0.1, 0.01 from step {DECAY_AT})",
                 yours=round(dev, 4), expected=f"< {DEV_THRESHOLD} (reference 2.17-2.22 over 8 seeds)",
                 hint="each step: sample a mini-batch, forward, loss, set every p.grad = None, "
                 "backward, p -= lr * p.grad; lr drops to lr/10 from step decay_at")


def _plot_training(losses):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([float(x) for x in losses], lw=0.5)
        ax.set_xlabel("step")
        ax.set_ylabel("mini-batch loss")
        fig.tight_layout()
        fig.savefig(kit.artifact_path("test_training_reaches_dev_loss", "mlp-lm-training.png"))
        plt.close(fig)
    except Exception:
        pass
