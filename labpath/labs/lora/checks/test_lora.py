"""Checks for the lora lab: LoRALinear against labpath's reference, apply_lora, the counts.

Sizes are distinct (in 12, out 20, r 3, inputs (5, 7, 12)) and alpha 6 gives a scaling
of 2 that no common mistake reproduces; everything runs in float64 unless stated. The
checks set B to random values themselves wherever a zero B would hide a mistake.
"""

import copy
import itertools

import pytest
import torch
from lora_ref import (
    ALPHA,
    IN,
    LEAD,
    OUT,
    R,
    base_of,
    factors,
    forward,
    lora_path,
    make_base,
    one_adapter,
    rank,
    scaling_mistake,
    set_factors,
    standard,
    uniform,
)
from torch import nn

from labpath.checks import kit

TOL64 = dict(rtol=1e-12, atol=1e-12)
TOL32 = dict(rtol=1e-5, atol=1e-5)


# --- helpers -----------------------------------------------------------------------


def gen(offset=0):
    return torch.Generator().manual_seed(kit.seed() + offset)


def inputs(offset=0, dtype=torch.float64, lead=LEAD):
    return torch.randn((*lead, IN), generator=gen(100 + offset), dtype=dtype)


def wrap(lora, base, r=R, alpha=ALPHA, dropout=0.0, dtype=torch.float64):
    """The learner's LoRALinear around base, cast to dtype (factors made in any dtype)."""
    # dropout=None: leave it out, so the contract's default (0.0) is what runs
    m = (
        lora.LoRALinear(base, r, alpha)
        if dropout is None
        else lora.LoRALinear(base, r, alpha, dropout)
    )
    if not isinstance(m, nn.Module):
        kit.fail(f"LoRALinear(...) returned a {type(m).__name__}, not an nn.Module")
    return m.to(dtype)


def randomise(m, offset=0):
    """Give A and B random values U(-0.5, 0.5) of the module's dtype; returns them (standard layout)."""
    g = gen(200 + offset)
    r = rank(m)
    A = uniform((r, IN), g, torch.float64)
    B = uniform((OUT, r), g, torch.float64)
    # in train mode: a layer that merges itself on eval() (loralib) re-merges the new
    # factors when it is switched back
    was = m.training
    m.train()
    set_factors(m, A, B)
    m.train(was)
    A, B = standard(m)
    return A.clone(), B.clone()


def frozen(m):
    """(W0, b0) copies of the frozen weight and bias, as they are now."""
    base = base_of(m)
    b = base.bias.detach().clone() if base.bias is not None else None
    return base.weight.detach().clone(), b


def note_layout(m):
    """Record which accepted layout the learner's module uses (listed with the artifacts)."""
    _, _, layout = factors(m)
    if layout != "transposed":
        return
    try:
        path = kit.artifact_path(
            "test_factors_have_the_contract_shapes_and_the_base_is_frozen",
            "lora-layout.txt",
        )
        path.write_text("transposed layout, accepted: A is (in, r) and B is (r, out); "
                        "the checks transpose them to (r, in) and (out, r)\n", encoding="utf-8")
    except OSError:
        pass


def dropout_mistake(y, base_out):
    """With B = 0 the LoRA path adds nothing: a train-mode change comes from dropout."""
    ratio = y.detach() / base_out
    if bool(((ratio.abs() < 1e-9) | ((ratio - 2).abs() < 1e-9)).all()):
        return "dropout is applied to the whole output, not to the LoRA input"
    return "the base path changed under dropout: base(x) must see the clean x; dropout belongs on the LoRA input only"


# --- LoRALinear --------------------------------------------------------------------


def test_factors_have_the_contract_shapes_and_the_base_is_frozen(lora):
    """A (r, in), B (out, r) trainable; base is the Linear passed in, its weight and bias frozen."""
    torch.manual_seed(kit.seed())
    base = make_base(kit.seed())
    m = lora.LoRALinear(base, R, ALPHA, 0.0)
    inner = base_of(m)
    # a wrapper keeps base itself; a subclass of nn.Linear (loralib) shares its weight
    if inner.weight is not base.weight:
        copied = inner.weight.shape == base.weight.shape and torch.equal(
            inner.weight.detach(), base.weight.detach()
        )
        kit.fail("the frozen Linear inside LoRALinear is not the module passed in",
                 diagnosis="a copy of the Linear: a weight shared with another layer (tied "
                 "embeddings) would no longer be shared" if copied else None,
                 hint="keep the Linear itself: self.base = base (no copy.deepcopy, no new Linear)")
    A, B, layout = factors(m)
    note_layout(m)
    if rank(m) != R:
        kit.fail(
            "rank of the factors of LoRALinear(Linear(12, 20), r=3)",
            yours=rank(m),
            expected=R,
        )
    if not isinstance(A, nn.Parameter) or not isinstance(B, nn.Parameter):
        kit.fail("lora_A and lora_B are not nn.Parameters, so optimizers never see them",
                 hint="self.lora_A = nn.Parameter(torch.empty(r, in_features))")
    for name, t in (("lora_A", A), ("lora_B", B)):
        if not t.requires_grad:
            kit.fail(f"{name}.requires_grad is False: the factors are what LoRA trains")
    if inner.weight.requires_grad:
        kit.fail("base.weight.requires_grad is True: the pretrained weight would be trained too",
                 hint="base.weight.requires_grad_(False) in __init__")
    if inner.bias is not None and inner.bias.requires_grad:
        kit.fail("base.bias requires grad while the weight is frozen",
                 hint="freeze the wrapped layer's bias as well: base.bias.requires_grad_(False)")
    for attr, want in (("r", R), ("alpha", ALPHA), ("scaling", ALPHA / R)):
        if attr == "alpha" and not kit.has(m, "alpha") and kit.has(m, "lora_alpha"):
            attr = "lora_alpha"  # loralib's and peft's name
        if not kit.has(m, attr):
            kit.fail(
                f"LoRALinear has no attribute {attr}",
                hint="store r, alpha and scaling = alpha / r",
            )
        value = float(one_adapter(getattr(m, attr)))
        if abs(value - want) > 1e-12:
            kit.fail(f"LoRALinear(base, r=3, alpha=6).{attr}", yours=value, expected=want,
                     diagnosis=scaling_mistake(torch.tensor(value), torch.tensor(1.0), R, ALPHA)
                     if attr == "scaling" else None)
    trainable = {id(p) for p in m.parameters() if p.requires_grad}
    if trainable != {id(A), id(B)}:
        kit.fail(
            "trainable parameters of LoRALinear",
            yours=len(trainable),
            expected="exactly 2 (A and B)",
        )


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_output_equals_the_base_layer_at_init(lora, mode):
    """Freshly wrapped (dropout 0.5 included), the output equals base(x): delta W = B A = 0."""
    torch.manual_seed(kit.seed())
    base = make_base(kit.seed())
    m = wrap(lora, base, dropout=0.5)
    getattr(m, mode)()
    W0, b0 = frozen(m)
    x = inputs()
    y = m(x)
    expected = x @ W0.T + b0

    def diagnose(_):
        A, B = standard(m)
        if float(B.abs().max()) > 0 and float(A.abs().max()) > 0:
            return "both A and B start random, so delta W = B A is not zero: B must start at zero"
        if mode == "train" and float(B.abs().max()) == 0:
            return dropout_mistake(y, expected)  # with B = 0 only dropout can change the output
        return None

    kit.close(y, expected, f"output at init ({mode} mode, dropout 0.5) vs base(x)", **TOL64,
              dims="B T out", diagnose=diagnose,
              hint="initialise A at random and B with zeros, so the wrapped layer starts as the "
              "pretrained one")


@pytest.mark.parametrize("r, alpha", [(R, ALPHA), (5, 2.0)])
def test_update_is_alpha_over_r_times_B_A_x(lora, r, alpha):
    """With B != 0 set by the check: y = base(x) + (alpha / r) x A^T B^T, for 3-D and 2-D inputs."""
    torch.manual_seed(kit.seed())
    base = make_base(kit.seed() + 1)
    m = wrap(
        lora, base, r=r, alpha=alpha, dropout=None
    ).train()  # default dropout: none
    A, B = randomise(m)
    W0, b0 = frozen(m)  # read in train mode: a self-merging eval() changes base.weight
    for mode, x in (
        ("train", inputs(1)),
        ("eval", inputs(1)),
        ("eval", inputs(2, lead=(4,))),
    ):
        getattr(m, mode)()
        y = m(x)
        expected = forward(x, W0, b0, A, B, alpha / r)
        kit.close(y, expected, f"{mode}-mode output (r={r}, alpha={alpha}, default dropout) vs base(x) + alpha / r * x A^T B^T",
                  **TOL64, dims=" ".join(["B", "T", "out"][3 - x.dim():]),
                  diagnose=lambda y, x=x: scaling_mistake(y.detach() - (x @ W0.T + b0),
                                                     lora_path(x, A, B), r, alpha),
                  hint="forward: base(x) + (dropout(x) @ A.T @ B.T) * (alpha / r)")


def test_dropout_is_on_the_lora_input_only(lora):
    """Train mode, p=0.5: y - base(x) is the LoRA path of a dropout mask on x; eval mode is exact."""
    torch.manual_seed(kit.seed())
    base = make_base(kit.seed() + 2)
    m = wrap(lora, base, dropout=0.5).train()
    W0, b0 = frozen(m)
    x = inputs(3)
    with torch.no_grad():
        y0 = m(x)  # B is still zero: whatever dropout does, only the base path shows
    kit.close(y0, x @ W0.T + b0, "train-mode output with B = 0 vs base(x)", **TOL64,
              dims="B T out", diagnose=lambda y: dropout_mistake(y, x @ W0.T + b0)
              if float(standard(m)[1].abs().max()) == 0 else None,
              hint="base(x) + lora_B(lora_A(dropout(x))) * scaling")
    A, B = randomise(m, 1)
    s = ALPHA / R
    with torch.no_grad():
        delta = (m(x) - (x @ W0.T + b0)).reshape(-1, OUT)  # (N, out)
    rows = x.reshape(-1, IN)  # (N, in)
    masks = torch.tensor(list(itertools.product((0.0, 2.0), repeat=IN)),
                         dtype=torch.float64)  # (4096, in), 1/(1-p) = 2
    # every way of dropping inputs, for every row: (N, 4096, out)
    candidates = s * lora_path(rows[:, None, :] * masks[None], A, B)
    gap = (candidates - delta[:, None, :]).abs().amax(dim=-1)  # (N, 4096)
    best = gap.min(dim=1).values  # (N,)
    if float(best.max()) > 1e-9:
        worst = int(best.argmax())
        full = s * lora_path(x, A, B).reshape(-1, OUT)
        out_masked = ((delta + (x @ W0.T + b0).reshape(-1, OUT)) /
                      (full + (x @ W0.T + b0).reshape(-1, OUT)))
        diagnosis = None
        if bool(((out_masked.abs() < 1e-9) | ((out_masked - 2).abs() < 1e-9)).all()):
            diagnosis = "dropout is applied to the whole output, not to the LoRA input"
        elif torch.allclose(delta, full, rtol=1e-9, atol=1e-10):
            diagnosis = "dropout is never applied in train mode"
        kit.fail("train-mode update y - base(x) is not the LoRA path of any dropout mask on x",
                 yours=float(best[worst]), expected="< 1e-9 for some mask",
                 where=f"row {worst} of the flattened (B*T, out) update", diagnosis=diagnosis,
                 hint="drop inputs of the LoRA path: (dropout(x) @ A.T @ B.T) * scaling, with "
                 "nn.Dropout(p) (it rescales kept values by 1 / (1 - p))")
    full = s * lora_path(rows, A, B)
    if torch.allclose(delta, full, rtol=1e-9, atol=1e-10):
        kit.fail("train-mode output with dropout 0.5 equals the output without dropout",
                 hint="apply the dropout module to x in the LoRA path; register it in __init__")
    m.eval()
    with torch.no_grad():
        y_eval = m(x)
    kit.close(y_eval, forward(x, W0, b0, A, B, s), "eval-mode output with dropout 0.5 (no dropout then)",
              **TOL64, dims="B T out")


def test_only_B_gets_a_gradient_at_init(lora):
    """After one backward at init: base.weight.grad is None, B.grad != 0 and A.grad == 0 exactly."""
    torch.manual_seed(kit.seed())
    base = make_base(kit.seed() + 3)
    m = wrap(lora, base).train()
    A, B, _ = factors(m)
    x = inputs(4)
    g = torch.randn((*LEAD, OUT), generator=gen(5), dtype=torch.float64)
    (m(x) * g).sum().backward()
    inner = base_of(m)
    if inner.weight.grad is not None:
        kit.fail("base.weight.grad is not None after backward: the frozen weight receives gradients",
                 hint="base.weight.requires_grad_(False) (and the bias) when wrapping")
    if B.grad is None or float(B.grad.abs().max()) == 0:
        kit.fail("lora_B.grad after one backward at init", yours="all zero" if B.grad is not None else None,
                 expected="non-zero (dL/dh times A x)",
                 diagnosis="A starts at zero: then B's gradient is zero. Start A at random and B at zero"
                 if float(A.detach().abs().max()) == 0 else None,
                 hint="A random (kaiming-uniform or Gaussian), B zeros; use both in forward")
    if A.grad is None:
        kit.fail("lora_A.grad is None after backward: A is not used in forward")
    if float(A.grad.abs().max()) != 0:
        kit.fail("lora_A.grad at init", yours=float(A.grad.abs().max()), expected=0.0,
                 diagnosis="B does not start at zero" if float(B.detach().abs().max()) else None,
                 hint="A's gradient is B^T times the upstream gradient, exactly zero while B = 0; "
                 "that is LoRA working as intended")


def test_A_is_drawn_from_torchs_generator_at_init(lora):
    """A is initialised at random from torch's generator: the same seed gives the same A,
    another seed another A. torch.empty alone leaves whatever memory held, which may be
    zeros, leftovers or NaN, and differs from run to run."""
    def A_after(seed):
        base = make_base(kit.seed() + 3)
        torch.manual_seed(seed)
        return factors(wrap(lora, base))[0].detach().clone()

    first, again, other = A_after(11), A_after(11), A_after(12)
    if not torch.isfinite(first).all() or float(first.abs().max()) == 0:
        kit.fail("lora_A after __init__", yours="all zero" if torch.isfinite(first).all() else "not finite",
                 expected="random values (kaiming-uniform or Gaussian)",
                 hint="nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5)) after creating it")
    if not torch.equal(first, again) or torch.equal(first, other):
        kit.fail("lora_A is not drawn from torch's generator: the same seed gave "
                 + ("different values" if not torch.equal(first, again) else "the same values as another seed"),
                 hint="initialise it: nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5)); "
                 "torch.empty alone leaves uninitialised memory")


def test_both_factors_learn_within_two_steps(lora):
    """SGD on a regression target: the first step moves B, the second moves A."""
    torch.manual_seed(kit.seed())
    base = make_base(kit.seed() + 4)
    m = wrap(lora, base).train()
    A, B, _ = factors(m)
    x = inputs(5)
    target = torch.randn((*LEAD, OUT), generator=gen(6), dtype=torch.float64)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.05)
    moved = []
    for _ in range(2):
        a0, b0 = A.detach().clone(), B.detach().clone()
        loss = ((m(x) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        moved.append(
            (float((A.detach() - a0).abs().max()), float((B.detach() - b0).abs().max()))
        )
    if moved[0][1] <= 1e-12:
        both_zero = (
            float(A.detach().abs().max()) == 0 and float(B.detach().abs().max()) == 0
        )
        kit.fail("lora_B did not move in the first SGD step", yours=moved[0][1], expected="> 1e-12",
                 diagnosis="no parameter moves: with A = B = 0 both gradients are zero forever"
                 if both_zero else None, hint="initialise A at random; only B starts at zero")
    if moved[1][0] <= 1e-12:
        kit.fail("lora_A did not move in the second SGD step (B is no longer zero then)",
                 yours=moved[1][0], expected="> 1e-12")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_merge_matches_unmerged_and_unmerge_restores(lora, dtype):
    """merge() folds scaling * B A into base.weight: same output; merge twice is a no-op; unmerge restores."""
    dt = getattr(torch, dtype)
    tol, wtol = (
        (TOL64, dict(rtol=1e-12, atol=1e-12))
        if dt == torch.float64
        else (TOL32, dict(rtol=1e-6, atol=1e-6))
    )
    torch.manual_seed(kit.seed())
    m = wrap(lora, make_base(kit.seed() + 5, dt), dtype=dt).train()
    for name in ("merge", "unmerge"):
        if not callable(getattr(m, name, None)):
            kit.fail(f"LoRALinear has no {name}() method")
    A, B = randomise(m, 2)
    W0, b0 = frozen(m)
    s = ALPHA / R
    x = inputs(6, dtype=dt)
    with torch.no_grad():
        y0 = m(x)
        kit.close(y0, forward(x.double(), W0.double(), b0.double(), A.double(), B.double(), s),
                  f"unmerged output ({dtype})", **tol, dims="B T out")
        m.merge()
        if getattr(m, "merged", None) is not True:
            kit.fail(
                "merged after merge()",
                yours=getattr(m, "merged", "no attribute"),
                expected=True,
            )
        W = base_of(m).weight.detach()
        delta = (B @ A).double() * s

        def weight_mistake(w):
            d = w.double() - W0.double()
            for c, name in ((0.0, "merge() left base.weight unchanged"),
                            (2 * s, "merge() adds the update twice (scaling applied twice)"),
                            (1.0, "merge() forgets the scaling: it adds B @ A, not scaling * B @ A"),
                            (s * s, "merge() scales by (alpha / r)^2"),
                            (-s, "merge() subtracts the update")):
                if torch.allclose(d, c * (B @ A).double(), rtol=1e-5, atol=1e-6):
                    return name
            return None

        kit.close(W, W0.double() + delta, f"base.weight after merge() vs W0 + scaling * B @ A ({dtype})",
                  **wtol, dims="out in", diagnose=weight_mistake)

        def double_count(y):
            if torch.allclose(y.double(),
                              x.double() @ W.double().T + b0.double()
                              + s * lora_path(x.double(), A.double(), B.double()),
                              rtol=1e-4, atol=1e-5):
                return "forward still adds the LoRA path after merge: output = base + 2 delta W"
            return None

        kit.close(m(x), y0, f"merged output vs unmerged output ({dtype})", **tol, dims="B T out",
                  diagnose=double_count,
                  hint="when merged, forward returns base(x) only: the update is inside base.weight")
        m.merge()  # a second merge must not add the update again
        kit.close(base_of(m).weight, W0.double() + delta, f"base.weight after a second merge() ({dtype})",
                  **wtol, dims="out in",
                  diagnose=lambda w: "the second merge() added the update again: check self.merged first"
                  if torch.allclose(w.double() - W0.double(), 2 * delta, rtol=1e-5, atol=1e-6) else None)
        m.unmerge()
        if getattr(m, "merged", None) is not False:
            kit.fail(
                "merged after unmerge()",
                yours=getattr(m, "merged", "no attribute"),
                expected=False,
            )
        kit.close(base_of(m).weight, W0, f"base.weight after unmerge() vs the original ({dtype})",
                  **wtol, dims="out in")
        kit.close(
            m(x),
            y0,
            f"output after unmerge() vs before merge() ({dtype})",
            **tol,
            dims="B T out",
        )


def test_train_eval_train_keeps_the_output(lora):
    """train -> eval -> train never changes the output (auto-merge on eval() is fine if train() unmerges)."""
    torch.manual_seed(kit.seed())
    m = wrap(lora, make_base(kit.seed() + 6)).train()
    A, B = randomise(m, 3)
    W0, b0 = frozen(m)
    x = inputs(7)
    expected = forward(x, W0, b0, A, B, ALPHA / R)
    with torch.no_grad():
        for step, mode in enumerate(("train", "eval", "train", "eval")):
            getattr(m, mode)()
            kit.close(m(x), expected, f"output in {mode} mode (step {step + 1} of train/eval/train/eval)",
                      **TOL64, dims="B T out",
                      diagnose=lambda y: "the update is counted twice: base + 2 delta W" if torch.allclose(
                          y - expected, ALPHA / R * lora_path(x, A, B), rtol=1e-9, atol=1e-10) else None,
                      hint="if eval() merges, set merged and make train() unmerge; forward adds "
                      "the path only while unmerged")


# --- apply_lora and the counts -----------------------------------------------------

TINY = dict(
    block_size=16, vocab_size=67, n_layer=2, n_head=2, n_embd=24, dropout=0.0, bias=True
)


def tiny_gpt(gpt, seed):
    torch.manual_seed(seed)
    return gpt.GPT(gpt.GPTConfig(**TINY))


def wrapped_names(lora, model):
    return sorted(
        n for n, mod in model.named_modules() if isinstance(mod, lora.LoRALinear)
    )


def apply(lora, model, targets, r=R, alpha=ALPHA, *dropout):
    out = lora.apply_lora(model, targets, r, alpha, *dropout)
    if not isinstance(out, nn.Module):
        kit.fail(f"apply_lora returned {type(out).__name__}, not the model",
                 hint="replace the Linears in place and return model")
    return out


def toy_model():
    """Names that tell suffix matching from substring matching."""
    return nn.ModuleDict({
        "c_proj": nn.Linear(4, 6),
        "xc_proj": nn.Linear(4, 6),
        "c_projection": nn.Linear(4, 6),
        "block": nn.ModuleDict({"c_proj": nn.Linear(6, 5), "norm": nn.LayerNorm(6)}),
    })


@pytest.mark.parametrize(
    "targets, expected",
    [
        (["c_attn"], [f"transformer.h.{i}.attn.c_attn" for i in range(2)]),
        (
            ["c_proj"],
            sorted(
                f"transformer.h.{i}.{s}.c_proj"
                for i in range(2)
                for s in ("attn", "mlp")
            ),
        ),
        (["attn.c_proj"], [f"transformer.h.{i}.attn.c_proj" for i in range(2)]),
        (
            ["c_attn", "c_fc"],
            sorted(
                [f"transformer.h.{i}.attn.c_attn" for i in range(2)]
                + [f"transformer.h.{i}.mlp.c_fc" for i in range(2)]
            ),
        ),
    ],
    ids=["c_attn", "c_proj", "attn.c_proj", "c_attn+c_fc"],
)
def test_apply_lora_matches_module_names_like_peft(lora, gpt, targets, expected):
    """A target matches a full name or a suffix after a dot ("c_proj" hits attn.c_proj and mlp.c_proj)."""
    model = apply(lora, tiny_gpt(gpt, kit.seed()), targets)
    got = wrapped_names(lora, model)
    if got != expected:
        kit.fail(f"modules wrapped by apply_lora(model, {targets})", yours=got, expected=expected,
                 hint="match like peft: name == target or name.endswith('.' + target); wrap every match")


def test_apply_lora_uses_suffixes_not_substrings(lora):
    """On names c_proj, xc_proj, c_projection, block.c_proj: ["c_proj"] wraps c_proj and block.c_proj only."""
    model = apply(lora, toy_model(), ["c_proj"])
    got = wrapped_names(lora, model)
    expected = ["block.c_proj", "c_proj"]
    if got != expected:
        extra = sorted(set(got) - set(expected))
        kit.fail("modules wrapped by apply_lora(model, ['c_proj'])", yours=got, expected=expected,
                 diagnosis=("you match substrings ('c_proj' in name): c_projection is another layer"
                            if "c_projection" in extra else
                            "you match name.endswith(target) without the dot: xc_proj is another layer"
                            if "xc_proj" in extra else None),
                 hint="name == target or name.endswith('.' + target)")


@pytest.mark.parametrize(
    "targets", [["wte"], ["no_such_layer"]], ids=["embedding", "unknown"]
)
def test_apply_lora_refuses_what_it_cannot_wrap(lora, gpt, targets):
    """ValueError when a target names an Embedding (not an nn.Linear) or matches nothing."""
    model = tiny_gpt(gpt, kit.seed())
    try:
        lora.apply_lora(model, targets, R, ALPHA)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as exc:
        kit.fail(
            f"apply_lora(model, {targets}) raised {type(exc).__name__}, not ValueError: {str(exc)[:100]}"
        )
    kit.fail(f"apply_lora(model, {targets}) returned without an error",
             hint="raise ValueError when no module matches, or when a match is not an nn.Linear")


def test_apply_lora_freezes_everything_but_the_factors(lora, gpt):
    """After apply_lora(["c_attn"]), the trainable parameters are exactly the wrapped modules' A and B."""
    model = apply(lora, tiny_gpt(gpt, kit.seed()), ["c_attn"])
    want = set()
    for _, mod in model.named_modules():
        if isinstance(mod, lora.LoRALinear):
            A, B, _ = factors(mod)
            want |= {id(A), id(B)}
    names = {id(p): n for n, p in model.named_parameters()}
    have = {id(p) for p in model.parameters() if p.requires_grad}
    if have != want:
        extra = sorted(names[i] for i in have - want)
        missing = sorted(names.get(i, "?") for i in want - have)
        kit.fail("trainable parameters after apply_lora(model, ['c_attn'])",
                 yours=f"{len(have)}: extra {extra[:4]}" + (f", frozen factors {missing[:4]}" if missing else ""),
                 expected=f"{len(want)} (lora_A and lora_B of each wrapped layer)",
                 hint="freeze every parameter of the model (requires_grad_(False)) before adding the factors")


def c_attn_in_train_mode(lora, gpt, dropout):
    """(layer, x, y, expected): a c_attn from apply_lora with random A and B, in train mode."""
    model = tiny_gpt(gpt, kit.seed())
    # dropout=None: leave it out, so apply_lora's own default (0.0) is what runs
    args = (model, ["c_attn"], R, ALPHA) + (() if dropout is None else (dropout,))
    layer = apply(lora, *args).double().train().get_submodule("transformer.h.0.attn.c_attn")
    if not isinstance(layer, lora.LoRALinear):
        kit.fail("apply_lora(model, ['c_attn']) did not wrap transformer.h.0.attn.c_attn")
    if rank(layer) != R:
        kit.fail("rank of a c_attn wrapped by apply_lora(model, ['c_attn'], r=3, alpha=6.0)",
                 yours=rank(layer), expected=R, hint="LoRALinear(module, r, alpha, dropout)")
    g = gen(300)
    A = uniform((R, 24), g)  # (r, in)
    B = uniform((72, R), g)  # (out, r)
    set_factors(layer, A, B)
    W0, b0 = frozen(layer)
    x = torch.randn((4, 24), generator=gen(8), dtype=torch.float64)  # (N, in)
    with torch.no_grad():
        y = layer(x)
    return layer, x, y, forward(x, W0, b0, A, B, ALPHA / R)


def test_apply_lora_hands_its_dropout_to_the_layers(lora, gpt):
    """Train mode, random A and B in a wrapped c_attn: no dropout by default, dropout=0.5 drops LoRA inputs."""
    layer, x, y, expected = c_attn_in_train_mode(lora, gpt, None)

    def default_dropout(_):
        layer.eval()  # no dropout in eval mode: if that fixes the output, dropout was on
        with torch.no_grad():
            fixed = torch.allclose(layer(x), expected, rtol=1e-9, atol=1e-10)
        return ("the layers drop LoRA inputs although no dropout was asked for: "
                "apply_lora's dropout defaults to 0.0") if fixed else None

    kit.close(y, expected, "train-mode output of a c_attn from apply_lora(model, ['c_attn'], 3, 6.0) "
              "vs base(x) + alpha / r * x A^T B^T", **TOL64, dims="N out", diagnose=default_dropout,
              hint="apply_lora(model, target_names, r, alpha, dropout=0.0) builds each "
              "LoRALinear(module, r, alpha, dropout)")
    _, _, y, expected = c_attn_in_train_mode(lora, gpt, 0.5)
    if torch.allclose(y, expected, rtol=1e-9, atol=1e-10):
        kit.fail("train-mode output of a c_attn from apply_lora(model, ['c_attn'], 3, 6.0, 0.5) "
                 "equals the output without dropout",
                 hint="hand apply_lora's dropout to every layer it builds: "
                 "LoRALinear(module, r, alpha, dropout)")


def test_weight_tying_and_logits_survive_apply_lora(lora, gpt):
    """lm_head stays tied to wte (also when lm_head itself is wrapped) and the logits are unchanged at init."""
    model = tiny_gpt(gpt, kit.seed()).double().eval()
    idx = torch.randint(0, TINY["vocab_size"], (3, 11), generator=gen(7))
    with torch.no_grad():
        before, _ = model(idx, idx)
    model = apply(lora, model, ["c_attn"]).double().eval()
    if model.lm_head.weight is not model.transformer.wte.weight:
        kit.fail("after apply_lora(['c_attn']), lm_head.weight is no longer the wte tensor",
                 hint="replace only the matched modules; never copy the model's other layers")
    with torch.no_grad():
        after, _ = model(idx, idx)
    kit.close(after, before, "logits after apply_lora(['c_attn']) at init vs the base model's",
              **TOL64, dims="B T V", hint="B starts at zero, so the adapted model must compute exactly "
              "what the pretrained one did")
    model = apply(lora, tiny_gpt(gpt, kit.seed()), ["lm_head"])
    head = model.lm_head
    if not isinstance(head, lora.LoRALinear):
        kit.fail("apply_lora(model, ['lm_head']) did not wrap lm_head")
    wte = model.transformer.wte.weight
    if base_of(head).weight is not wte:
        w = base_of(head).weight
        copied = w.shape == wte.shape and torch.equal(w.detach(), wte.detach())
        kit.fail("the wrapped lm_head's frozen weight is no longer transformer.wte.weight",
                 diagnosis="the Linear was copied: the embedding and the output layer are untied"
                 if copied else None,
                 hint="wrap the Linear itself (self.base = base), never a copy")


GPT2_SMALL = dict(
    block_size=1024,
    vocab_size=50257,
    n_layer=12,
    n_head=12,
    n_embd=768,
    dropout=0.0,
    bias=True,
)
GPT2_SMALL_PARAMS = 124_439_808
GPT2_LORA_TRAINABLE = 294_912  # 8 * (768 + 2304) * 12
GPT2_LORA_TOTAL = 124_734_720  # asserted by peft's own tests for LoRA r=8 on c_attn


_META = {}


def gpt2_small_meta(gpt):
    """GPT-2 small from the learner's GPT on the meta device (built once, then copied)."""
    if "model" not in _META:
        with torch.device("meta"):
            _META["model"] = gpt.GPT(gpt.GPTConfig(**GPT2_SMALL))
    return copy.deepcopy(_META["model"])


def _count(lora, model, what):
    out = lora.count_parameters(model)
    if not (isinstance(out, tuple) and len(out) == 2):
        kit.fail(
            f"count_parameters returned {type(out).__name__}, not (trainable, total)"
        )
    return int(out[0]), int(out[1])


def _count_mistake(total, base_total, wte, trainable):
    if total == base_total + trainable + wte:
        return f"+{wte:,} = the tied wte / lm_head matrix counted twice (the state_dict lists it under both names)"
    if total == base_total:
        return "the total leaves out the LoRA factors"
    if total == base_total + 2 * trainable:
        return "the LoRA factors are counted twice"
    return None


def test_count_parameters_counts_each_tensor_once(lora, gpt):
    """Tiny GPT, r=3 on c_attn: 3 * (24 + 72) * 2 = 576 trainable; total = the base's + 576 (tied once)."""
    model = tiny_gpt(gpt, kit.seed())
    base_total = sum(p.numel() for p in model.parameters())
    model = apply(lora, model, ["c_attn"])
    trainable, total = _count(lora, model, "tiny")
    want = R * (24 + 72) * 2
    if trainable != want:
        kit.fail("trainable parameters of the tiny GPT with r=3 on c_attn", yours=trainable, expected=want,
                 hint="count p.numel() for parameters with requires_grad")
    wte = TINY["vocab_size"] * TINY["n_embd"]
    if total != base_total + want:
        kit.fail("total parameters of the tiny GPT with LoRA", yours=total, expected=base_total + want,
                 diagnosis=_count_mistake(total, base_total, wte, want),
                 hint="iterate model.parameters(): it yields a shared tensor once")


def test_gpt2_small_with_r8_on_c_attn_has_294912_trainable(lora, gpt):
    """GPT-2 small (on the meta device), r=8 on c_attn: 294,912 trainable of 124,734,720 (0.2364 %)."""
    model = gpt2_small_meta(gpt)
    with torch.device("meta"):
        base_total = sum(p.numel() for p in model.parameters())
        if base_total != GPT2_SMALL_PARAMS:
            kit.fail("your gpt2 lab's GPT-2 small has the wrong size before LoRA", yours=f"{base_total:,}",
                     expected=f"{GPT2_SMALL_PARAMS:,}", hint="`labpath check gpt2` first")
        model = apply(lora, model, ["c_attn"], r=8, alpha=16.0)
        trainable, total = _count(lora, model, "gpt2")
    if (trainable, total) != (GPT2_LORA_TRAINABLE, GPT2_LORA_TOTAL):
        diagnosis = _count_mistake(total, base_total, 50257 * 768, trainable)
        if total != GPT2_LORA_TOTAL and all(
            p.data_ptr() == 0 for p in model.parameters()
        ):
            diagnosis = diagnosis or ("every tensor on the meta device has data_ptr() 0: count unique "
                                      "tensors by identity (model.parameters()), not by data_ptr()")
        kit.fail("(trainable, total) of GPT-2 small with LoRA r=8 on c_attn",
                 yours=f"({trainable:,}, {total:,})", expected=f"({GPT2_LORA_TRAINABLE:,}, {GPT2_LORA_TOTAL:,})",
                 diagnosis=diagnosis,
                 hint="trainable = r * (in + out) per wrapped Linear = 8 * (768 + 2304) * 12")
    _plot_counts(lora, gpt)


def _plot_counts(lora, gpt):
    """Trainable vs total parameters of GPT-2 small for several ranks and targets (your code)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    ranks = [1, 4, 16, 64]
    series = {"c_attn": [], "c_attn, c_proj, c_fc": []}
    for targets, label in (
        (["c_attn"], "c_attn"),
        (["c_attn", "c_proj", "c_fc"], "c_attn, c_proj, c_fc"),
    ):
        for r in ranks:
            with torch.device("meta"):
                m = apply(lora, gpt2_small_meta(gpt), targets, r=r, alpha=2.0 * r)
                series[label].append(_count(lora, m, "gpt2"))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, counts in series.items():
        ax.plot(
            ranks, [t for t, _ in counts], "o-", label=f"trainable, LoRA on {label}"
        )
    ax.axhline(
        GPT2_SMALL_PARAMS,
        color="k",
        ls="--",
        label=f"all of GPT-2 small ({GPT2_SMALL_PARAMS:,})",
    )
    ax.axhline(
        2304 * 768 * 12,
        color="gray",
        ls=":",
        label="full fine-tune of c_attn only (21.2M)",
    )
    ax.set(xscale="log", yscale="log", xlabel="rank r", ylabel="parameters",
           title="GPT-2 small: what LoRA trains vs what it keeps frozen")
    ax.set_xticks(ranks, [str(r) for r in ranks])
    for r, (t, tot) in zip(ranks, series["c_attn"]):
        ax.annotate(
            f"{100 * t / tot:.2f} %",
            (r, t),
            textcoords="offset points",
            xytext=(4, -12),
            fontsize=8,
        )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(
        kit.artifact_path(
            "test_gpt2_small_with_r8_on_c_attn_has_294912_trainable", "lora-params.png"
        ),
        dpi=110,
    )
    plt.close(fig)


def test_lora_state_dict_holds_only_the_factors(lora, gpt):
    """Optional lora_state_dict(model): one entry per factor, together the trainable count."""
    kit.skip_unless(lora, "lora_state_dict", "lora_state_dict()")
    model = apply(lora, tiny_gpt(gpt, kit.seed()), ["c_attn"])
    sd = lora.lora_state_dict(model)
    n = sum(v.numel() for v in sd.values())
    if len(sd) != 4 or n != R * (24 + 72) * 2:
        kit.fail("lora_state_dict of the tiny GPT with r=3 on c_attn (2 wrapped layers)",
                 yours=f"{len(sd)} tensors, {n} numbers: {sorted(sd)[:6]}", expected="4 tensors, 576 numbers",
                 hint="keep only the lora_ entries of model.state_dict()")
