"""Checks for the gpt2 lab: your GPT against labpath's reference, with nanoGPT's interface.

Exactness checks copy one set of random weights into your model and into the reference
(gpt2_ref.py) by nanoGPT's state_dict names and compare in float64. Sizes are tiny and
distinct (V=11, block 8, L=2, H=2, C=12) so a swapped axis cannot pass.
"""

import dataclasses
import math

import pytest
import torch
from gpt2_ref import (
    GPT2_SMALL,
    GPT2_SMALL_NON_EMBEDDING,
    GPT2_SMALL_PARAMS,
    TINY,
    VARIANTS,
    fingerprint,
    forward,
    param_shapes,
    random_state,
)
from torch.nn import functional as F

from labpath.checks import kit

FIELDS = ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "dropout", "bias")
NAMES_HINT = ("use nanoGPT's module names: transformer.wte/wpe/drop/h/ln_f, h[i].ln_1, "
              "attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj, and lm_head")


# --- helpers -----------------------------------------------------------------------


def build(gpt, **overrides):
    """Your GPT for the tiny config (plus overrides), in eval mode."""
    cfg = {**TINY, **overrides}
    model = gpt.GPT(gpt.GPTConfig(**cfg))
    return model.eval()


def run(model, idx, targets=None):
    """Call forward and unpack (logits, loss), failing clearly on another return type."""
    out = model(idx) if targets is None else model(idx, targets)
    if not (isinstance(out, tuple) and len(out) == 2):
        kit.fail(f"forward returned {type(out).__name__}, not a (logits, loss) tuple",
                 hint="return logits, loss (loss is None when targets is None), as nanoGPT does")
    return out


def tokens(shape, vocab, seed):
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(seed))


def load(model, sd):
    """Copy the reference weights into your model by name (float64)."""
    model.double()
    own = model.state_dict()
    missing = [k for k in sd if k not in own]
    if missing:
        kit.fail(f"your model's state_dict has no {missing[:4]}" + (" ..." if len(missing) > 4 else ""),
                 hint=NAMES_HINT)
    for k, v in sd.items():
        if tuple(own[k].shape) != tuple(v.shape):
            kit.fail(f"shape of {k}", yours=tuple(own[k].shape), expected=tuple(v.shape),
                     hint="nn.Linear stores (out_features, in_features); the MLP is 4 * n_embd wide")
    with torch.no_grad():
        for k, v in sd.items():
            own[k].copy_(v)  # state_dict tensors share storage with the parameters


def full_logits(model, idx):
    """(B, T, V) logits: nanoGPT returns every position only when targets are given."""
    logits, _ = run(model, idx, torch.zeros_like(idx))
    return logits


# --- the interface -----------------------------------------------------------------


def test_config_is_a_dataclass_with_nanogpt_fields(gpt):
    """GPTConfig is a dataclass with block_size, vocab_size, n_layer, n_head, n_embd, dropout, bias."""
    if not dataclasses.is_dataclass(gpt.GPTConfig):
        kit.fail(
            "GPTConfig is not a dataclass",
            hint="decorate it with @dataclass, as nanoGPT does",
        )
    have = {f.name for f in dataclasses.fields(gpt.GPTConfig)}
    missing = [f for f in FIELDS if f not in have]
    if missing:
        kit.fail(
            f"GPTConfig has no field {missing}",
            hint="nanoGPT's fields: " + ", ".join(FIELDS),
        )
    cfg = gpt.GPTConfig(**TINY)
    for k, v in TINY.items():
        if getattr(cfg, k) != v:
            kit.fail(f"GPTConfig(**cfg).{k}", yours=getattr(cfg, k), expected=v)


# nanoGPT's defaults: GPTConfig() alone is GPT-2 small with the vocabulary padded to 50304.
DEFAULTS = dict(
    block_size=1024, vocab_size=50304, n_layer=12, n_head=12, n_embd=768, dropout=0.0, bias=True
)


def test_config_has_nanogpt_defaults(gpt):
    """GPTConfig() has nanoGPT's defaults: block 1024, vocab 50304, 12 layers, 12 heads, C 768, dropout 0, bias."""
    try:
        cfg = gpt.GPTConfig()
    except TypeError as exc:
        kit.fail(f"GPTConfig() with no arguments raised TypeError: {str(exc)[:120]}",
                 hint="give every field nanoGPT's default: " +
                 ", ".join(f"{k}={v}" for k, v in DEFAULTS.items()))
    for k, v in DEFAULTS.items():
        if getattr(cfg, k, None) != v:
            kit.fail(f"GPTConfig().{k} (the default)", yours=getattr(cfg, k, None), expected=v,
                     hint="nanoGPT's defaults: " + ", ".join(f"{k}={v}" for k, v in DEFAULTS.items()))


@pytest.mark.parametrize("bias", [True, False])
def test_parameters_have_nanogpt_names_and_shapes(gpt, bias):
    """Every parameter has nanoGPT's state_dict name and shape (bias=True and bias=False)."""
    torch.manual_seed(kit.seed())
    model = build(gpt, bias=bias)
    expected = param_shapes(**{**TINY, "bias": bias})
    yours = {
        n: tuple(p.shape) for n, p in model.named_parameters(remove_duplicate=False)
    }
    missing = sorted(set(expected) - set(yours))
    extra = sorted(set(yours) - set(expected))
    if missing or extra:
        diagnosis = None
        if "lm_head.bias" in extra:
            diagnosis = "lm_head has a bias; GPT-2's output layer is nn.Linear(n_embd, vocab_size, bias=False)"
        elif not bias and any(k.endswith(".bias") for k in extra):
            diagnosis = "with bias=False your model still has biases: pass bias=config.bias everywhere"
        kit.fail(f"parameter names with bias={bias}: missing {missing[:5]}, unexpected {extra[:5]}",
                 hint=NAMES_HINT, diagnosis=diagnosis)
    for name, shape in expected.items():
        if yours[name] != shape:
            kit.fail(f"shape of {name} (V=11, block 8, C=12)", yours=yours[name], expected=shape,
                     hint="nn.Linear stores (out_features, in_features); the MLP is 4 * n_embd wide")


# Parameter-count differences from GPT-2 small that name a mistake.
COUNT_DIAGNOSES = {
    38_597_376: "lm_head is a separate matrix (+50257 x 768): tie it to transformer.wte.weight",
    50_257: "lm_head has a bias (+50,257): GPT-2's output layer has none",
    -1_536: "the final LayerNorm ln_f is missing (-1,536)",
    -786_432: "the position embedding wpe is missing (-786,432)",
    -102_144: "GPTConfig(bias=True) was ignored: the Linears and LayerNorms have no biases",
    -14_164_992: "the MLP is 3 * n_embd wide instead of 4 * n_embd",
    36_864: "vocab_size 50304 (nanoGPT's padded default) was used instead of the config's 50257",
}


def _gpt2_small(gpt):
    """GPT-2 small built on the meta device: shapes only, no memory, no time."""
    try:
        with torch.device("meta"):
            return gpt.GPT(gpt.GPTConfig(**GPT2_SMALL))
    except NotImplementedError:
        raise
    except Exception:  # code that cannot run on meta (e.g. .to("cpu") inside __init__)
        return gpt.GPT(gpt.GPTConfig(**GPT2_SMALL))


def test_gpt2_small_has_124M_parameters(gpt):
    """GPT-2 small (V 50257, block 1024, 12 layers, 12 heads, C 768, bias) has exactly 124,439,808 parameters."""
    model = _gpt2_small(gpt)
    n = sum(p.numel() for p in model.parameters())  # a shared tensor is yielded once
    if n != GPT2_SMALL_PARAMS:
        kit.fail("number of parameters of GPT-2 small (tied weights counted once)",
                 yours=f"{n:,}", expected=f"{GPT2_SMALL_PARAMS:,}",
                 diagnosis=COUNT_DIAGNOSES.get(n - GPT2_SMALL_PARAMS),
                 hint="the published 124M counts wte/lm_head once (tied) and includes wpe")


def test_get_num_params_leaves_out_position_embeddings(gpt):
    """get_num_params() is 123,653,376 for GPT-2 small (minus wpe), get_num_params(False) 124,439,808."""
    kit.skip_unless(gpt.GPT, "get_num_params", "get_num_params()")
    model = _gpt2_small(gpt)
    total = sum(p.numel() for p in model.parameters())
    yours = model.get_num_params()
    diagnoses = {
        total - 38_597_376: "you subtract the token embeddings too; they double as lm_head's weights",
        total - 38_597_376 - 786_432: "you subtract both embeddings; only wpe is left out",
        total: "get_num_params() did not subtract the position embeddings",
    }
    if total != GPT2_SMALL_PARAMS:  # the parameters themselves are off, not the counting
        diagnoses = {yours: f"your model has {total:,} parameters in all, not {GPT2_SMALL_PARAMS:,}: "
                     "see test_gpt2_small_has_124M_parameters first"}
    if yours != GPT2_SMALL_NON_EMBEDDING:
        kit.fail("get_num_params() (non_embedding=True) of GPT-2 small",
                 yours=f"{yours:,}", expected=f"{GPT2_SMALL_NON_EMBEDDING:,}",
                 diagnosis=diagnoses.get(yours),
                 hint="non_embedding=True subtracts transformer.wpe.weight.numel() only")
    full = model.get_num_params(non_embedding=False)
    if full != GPT2_SMALL_PARAMS:
        kit.fail("get_num_params(non_embedding=False) of GPT-2 small",
                 yours=f"{full:,}", expected=f"{GPT2_SMALL_PARAMS:,}")


def test_lm_head_shares_the_token_embedding_tensor(gpt):
    """lm_head.weight is the very same tensor as transformer.wte.weight (weight tying)."""
    model = build(gpt)
    wte, head = model.transformer.wte.weight, model.lm_head.weight
    if head is wte or (head.data_ptr() == wte.data_ptr() and head.shape == wte.shape):
        return
    same_values = head.shape == wte.shape and torch.equal(head.detach(), wte.detach())
    kit.fail("lm_head.weight is a different tensor from transformer.wte.weight",
             diagnosis="the values are equal but the tensors are two copies: training will "
             "move them apart" if same_values else None,
             hint="assign the Parameter: self.transformer.wte.weight = self.lm_head.weight")


# --- forward -----------------------------------------------------------------------


def test_forward_returns_logits_for_every_position_with_targets(gpt):
    """forward(idx, targets) returns logits (B, T, V) and a scalar loss."""
    torch.manual_seed(kit.seed())
    model = build(gpt)
    idx = tokens((3, 7), 11, kit.seed())
    logits, loss = run(model, idx, tokens((3, 7), 11, kit.seed() + 1))
    if tuple(logits.shape) != (3, 7, 11):
        kit.fail("logits shape with targets, (B, T, V) = (3, 7, 11)", yours=tuple(logits.shape),
                 expected=(3, 7, 11), hint="keep (B, T, V); flatten only inside the loss")
    if not torch.is_tensor(loss) or loss.numel() != 1:
        kit.fail("loss with targets is not a scalar tensor", yours=loss)


def test_forward_without_targets_gives_the_last_position(gpt):
    """forward(idx) returns (B, 1, V) (nanoGPT) or (B, T, V) logits and loss None; the last row matches."""
    torch.manual_seed(kit.seed())
    model = build(gpt)
    load(model, random_state(TINY, kit.seed()))
    idx = tokens((3, 7), 11, kit.seed())
    logits, loss = run(model, idx)
    if loss is not None:
        kit.fail("loss without targets", yours=loss, expected=None)
    if tuple(logits.shape) not in ((3, 1, 11), (3, 7, 11)):
        kit.fail("logits shape without targets", yours=tuple(logits.shape),
                 expected="(B, 1, V) = (3, 1, 11) or (B, T, V) = (3, 7, 11)")
    kit.close(logits[:, -1], full_logits(model, idx)[:, -1], "last-position logits without targets",
              rtol=1e-9, atol=1e-10, dims="B V")


def test_loss_is_cross_entropy_with_ignore_index(gpt):
    """loss = cross-entropy of logits (B*T, V) against targets (B*T), skipping targets equal to -1."""
    torch.manual_seed(kit.seed())
    model = build(gpt)
    load(model, random_state(TINY, kit.seed()))
    idx = tokens((3, 7), 11, kit.seed())
    targets = tokens((3, 7), 11, kit.seed() + 1)
    targets[0, 2] = targets[2, 5] = -1  # positions to ignore (e.g. padding)
    logits, loss = run(model, idx, targets)
    expected = F.cross_entropy(
        logits.reshape(-1, 11), targets.reshape(-1), ignore_index=-1
    )

    def diagnose(yours):
        valid = targets[:, 1:]
        shifted = F.cross_entropy(
            logits[:, :-1].reshape(-1, 11), valid.reshape(-1), ignore_index=-1
        )
        if math.isclose(float(yours), float(shifted), rel_tol=1e-7):
            return (
                "you shift the targets inside the model; the batch's y is already x shifted "
                "by one, so logits[:, t] is scored against targets[:, t]"
            )
        return None

    kit.close(loss, expected, "loss vs F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)",
              rtol=1e-9, atol=1e-10, diagnose=diagnose,
              hint="flatten to (B*T, V) and (B*T,) and pass ignore_index=-1")


@pytest.mark.parametrize("bias", [True, False])
def test_matches_reference_gpt_with_the_same_weights(gpt, bias):
    """Logits equal labpath's GPT-2 given the same weights (float64; exact or tanh GELU both accepted)."""
    cfg = {**TINY, "bias": bias}
    torch.manual_seed(kit.seed())
    model = build(gpt, bias=bias)
    sd = random_state(cfg, kit.seed() + 7)
    load(model, sd)
    idx = tokens((3, 7), 11, kit.seed() + 2)
    yours = full_logits(model, idx)
    refs = {
        g: forward(sd, idx, TINY["n_layer"], TINY["n_head"], gelu=g)
        for g in ("erf", "tanh")
    }
    tol = dict(rtol=1e-7, atol=1e-8)
    for gelu, ref in refs.items():
        if tuple(yours.shape) == tuple(ref.shape) and torch.allclose(
            yours.detach().double(), ref, **tol
        ):
            _note_gelu(gelu, bias, float((yours.detach().double() - ref).abs().max()))
            return
    # Neither GELU matches: compare against the one that is closer, and name the mistake.
    closer = min(refs, key=lambda g: float((yours.detach().double() - refs[g]).abs().max())
                 if tuple(yours.shape) == tuple(refs[g].shape) else math.inf)
    kit.close(yours, refs[closer], f"logits (B, T, V) with bias={bias} vs the reference ({closer} GELU)",
              **tol, dims="B T V",
              diagnose=lambda y: fingerprint(y, sd, idx, TINY["n_layer"], TINY["n_head"]),
              hint="pre-norm blocks x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)); scores / sqrt(head size)")


def _note_gelu(gelu, bias, gap):
    """Record which GELU matched (shown with the check's artifacts)."""
    try:
        name = (
            "exact erf GELU (nanoGPT's nn.GELU())"
            if gelu == "erf"
            else "tanh-approximate GELU (GPT-2, minGPT)"
        )
        path = kit.artifact_path(
            "test_matches_reference_gpt_with_the_same_weights", "gpt2-gelu.txt"
        )
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(
                f"bias={bias}: your logits match the reference with {name}, max abs gap {gap:.2e}\n"
            )
    except OSError:
        pass


def test_changing_a_future_token_never_changes_the_past(gpt):
    """Causality: changing token t leaves the logits at positions < t unchanged (float64)."""
    torch.manual_seed(kit.seed())
    model = build(gpt)
    sd = random_state(TINY, kit.seed() + 3)
    load(model, sd)
    T = TINY["block_size"]
    idx = tokens((3, T), 11, kit.seed() + 4)
    base = full_logits(model, idx)
    for t in range(T - 1, 0, -1):  # latest first: a leak of t+1 into t shows at t = T-1
        changed = idx.clone()
        changed[:, t] = (idx[:, t] + 1 + t % 5) % 11
        after = full_logits(model, changed)
        leak = (after[:, :t] - base[:, :t]).abs().amax(dim=(0, 2))  # per earlier position
        if float(leak.max()) > 1e-12:
            bad = torch.nonzero(leak > 1e-12).flatten().tolist()  # leaking positions
            at = bad[-1]
            # name a mistake only when the logits are exactly that mistake's (a softmax
            # over the queries also leaks into every earlier position, but is not unmasked)
            sentence = fingerprint(base, sd, idx, TINY["n_layer"], TINY["n_head"])
            causal = {
                VARIANTS[v] for v in ("no_mask", "mask_off_by_one", "softmax_dim")
            }
            diagnosis = sentence if sentence in causal else None
            kit.fail(f"changing token {t} changed the logits at earlier positions {bad}",
                     yours=float(leak[at]), expected=0.0, where=f"position {at} < {t}",
                     diagnosis=diagnosis,
                     hint="mask the attention scores with a lower-triangular (tril) matrix before softmax, "
                     "softmax over the last axis (keys)")


def test_sequence_longer_than_block_size_is_refused(gpt):
    """forward accepts T == block_size and raises for T > block_size (no silent output)."""
    torch.manual_seed(kit.seed())
    model = build(gpt)
    T = TINY["block_size"]
    run(model, tokens((2, T), 11, kit.seed()))  # exactly block_size is allowed
    try:
        out = run(model, tokens((2, T + 3), 11, kit.seed()))
    except kit.CheckFailure:
        raise
    except Exception:
        return  # any clear error (nanoGPT asserts) is fine
    shape = tuple(out[0].shape) if torch.is_tensor(out[0]) else out[0]
    kit.fail(f"forward with T={T + 3} > block_size={T} returned logits {shape} instead of raising",
             hint="assert T <= block_size in forward; crop the context in generate, not in forward")


# --- training behaviour ------------------------------------------------------------

INIT_CFG = dict(
    block_size=16, vocab_size=67, n_layer=2, n_head=4, n_embd=32, dropout=0.0, bias=True
)
# Measured over seeds 0..19 on 32 x 16 random tokens: the reference (and nanoGPT) stay
# within 0.018 of ln 67; PyTorch's default init (no _init_weights) gives +0.12 to +0.21,
# an nn.Embedding N(0, 1) matrix as the tied head +15 to +19.
INIT_BAND = 0.06


def test_loss_at_init_is_near_ln_vocab(gpt):
    """With nanoGPT's init (N(0, 0.02)), the loss on random tokens is within 0.06 of ln(V)."""
    torch.manual_seed(kit.seed())
    model = gpt.GPT(gpt.GPTConfig(**INIT_CFG)).eval()
    V = INIT_CFG["vocab_size"]
    idx = tokens((32, 16), V, kit.seed() + 5)
    with torch.no_grad():
        _, loss = run(model, idx, tokens((32, 16), V, kit.seed() + 6))
    expected = math.log(V)
    if not abs(float(loss) - expected) <= INIT_BAND:
        kit.fail(f"loss at initialisation (V={V}, 512 random tokens)", yours=float(loss),
                 expected=f"{expected:.4f} +- {INIT_BAND}",
                 diagnosis="the logits at init are far from uniform: the weights are too large"
                 if float(loss) > expected else None,
                 hint="initialise Linear and Embedding weights with N(0, 0.02) and biases with 0, "
                 "c_proj weights with std 0.02/sqrt(2 * n_layer)")


STD_CFG = dict(
    block_size=16, vocab_size=67, n_layer=8, n_head=4, n_embd=64, dropout=0.0, bias=True
)


def test_init_stds_follow_nanogpt(gpt):
    """A fresh GPT (8 layers, C=64): weights N(0, 0.02), c_proj weights N(0, 0.02/sqrt(2 * 8)), biases 0."""
    torch.manual_seed(kit.seed())
    model = gpt.GPT(gpt.GPTConfig(**STD_CFG))
    L = STD_CFG["n_layer"]
    scaled = 0.02 / math.sqrt(2 * L)  # 0.005: one residual add per sub-block, 2L of them
    seen = set()
    for name, p in model.named_parameters():
        w = p.detach().double().flatten()
        if id(p) in seen:
            continue
        seen.add(id(p))
        if name.endswith(".bias"):
            if float(w.abs().max()) != 0.0 and not name.endswith(
                ("ln_1.bias", "ln_2.bias", "ln_f.bias")
            ):
                kit.fail(f"{name} at init", yours=f"max |b| {float(w.abs().max()):.4g}", expected=0.0,
                         hint="nanoGPT zeroes every Linear bias (torch.nn.init.zeros_)")
            continue
        if "ln_" in name:
            continue  # LayerNorm gains start at 1, like torch's
        if name.endswith("c_proj.weight"):
            want, what = scaled, f"0.02/sqrt(2 * n_layer) = {scaled:.4f}"
        else:
            want, what = 0.02, "0.02"
        n = w.numel()
        std, mean = float(w.std()), float(w.mean())
        # a normal's sample std is within 1/sqrt(2n) (relative, one sigma) of sigma: for
        # n >= 4096 that is 1.1%, so 6% is over 5 sigma; the mean is within sigma/sqrt(n)
        if abs(std / want - 1) > 0.06 or abs(mean) > 6 * want / math.sqrt(n):
            diagnosis = None
            if name.endswith("c_proj.weight"):
                for other, sentence in ((0.02, "c_proj weights have std 0.02: the residual projections are not scaled down by sqrt(2 * n_layer)"),
                                        (0.02 / math.sqrt(L), "c_proj weights have std 0.02/sqrt(n_layer); GPT-2 divides by sqrt(2 * n_layer), two residual adds per block")):
                    if abs(std / other - 1) < 0.06:
                        diagnosis = sentence
            kit.fail(f"std of {name} at init ({n} values, mean {mean:.2g})", yours=round(std, 5),
                     expected=f"{want:.5f} ({what})", diagnosis=diagnosis,
                     hint="self.apply(self._init_weights) gives Linear and Embedding weights "
                     "N(0, 0.02); then every *c_proj.weight gets N(0, 0.02/sqrt(2 * n_layer))")


OVERFIT_CFG = dict(
    block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=24, dropout=0.0, bias=True
)
OVERFIT_STEPS = 40
# Measured on the reference (and nanoGPT) over seeds 0..19: final loss 0.018 to 0.110.
OVERFIT_MAX_LOSS = 0.5


def test_overfits_a_single_batch(gpt):
    """AdamW (lr 1e-2) for 40 steps on one batch of 4 x 8 random tokens drives the loss below 0.5."""
    torch.manual_seed(kit.seed())
    model = gpt.GPT(gpt.GPTConfig(**OVERFIT_CFG)).train()
    x = tokens((4, 8), 11, kit.seed() + 8)
    y = tokens((4, 8), 11, kit.seed() + 9)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    losses = []
    for _ in range(OVERFIT_STEPS):
        _, loss = run(model, x, y)
        if not loss.requires_grad:
            kit.fail(
                "the loss returned by forward(x, targets) carries no gradient",
                hint="only generate runs under torch.no_grad(); forward must stay differentiable",
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    kit.figure(f"loss after {OVERFIT_STEPS} steps", losses[-1], "<", OVERFIT_MAX_LOSS)
    if not losses[-1] < OVERFIT_MAX_LOSS:
        kit.fail(f"loss after {OVERFIT_STEPS} AdamW steps on one batch", yours=round(losses[-1], 4),
                 expected=f"< {OVERFIT_MAX_LOSS} (the first loss was {losses[0]:.3f})",
                 hint="check that every layer is registered (nn.ModuleList, not a Python list) "
                 "and that the loss is connected to the parameters")


SPEED_CFG = dict(
    block_size=64, vocab_size=65, n_layer=2, n_head=4, n_embd=64, dropout=0.0, bias=True
)
SPEED_BATCH, SPEED_STEPS = 8, 3
SPEED_RATIO = 3  # information: reported when slower, never failed


@kit.after("test_overfits_a_single_batch")
def test_forward_backward_speed(gpt):
    """Forward + backward tokens/s of a 2-layer GPT (B 8, T 64, C 64) against the reference solution (reported)."""
    reference = kit.reference_module("model")
    x = tokens((SPEED_BATCH, 64), 65, kit.seed() + 20)
    y = tokens((SPEED_BATCH, 64), 65, kit.seed() + 21)

    def steps(module):
        torch.manual_seed(kit.seed())
        model = module.GPT(module.GPTConfig(**SPEED_CFG)).train()

        def go():
            for _ in range(SPEED_STEPS):
                model.zero_grad(set_to_none=True)
                _, loss = run(model, x, y)
                loss.backward()

        return go

    kit.budget("forward + backward", learner=steps(gpt), reference=steps(reference),
               max_ratio=SPEED_RATIO, work=SPEED_STEPS * SPEED_BATCH * 64, unit="tokens")


# --- generate ----------------------------------------------------------------------


def test_generate_extends_the_prompt(gpt):
    """generate(idx, k) returns (B, T0 + k) tokens in [0, V) that start with the prompt."""
    kit.skip_unless(gpt.GPT, "generate", "generate()")
    torch.manual_seed(kit.seed())
    model = build(gpt)
    prompt = tokens((3, 4), 11, kit.seed())
    out = model.generate(prompt.clone(), 3)
    if tuple(out.shape) != (3, 7):
        kit.fail(
            "generate(prompt (3, 4), max_new_tokens=3) shape",
            yours=tuple(out.shape),
            expected=(3, 7),
        )
    if not torch.equal(out[:, :4], prompt):
        kit.fail(
            "the output of generate does not start with the prompt",
            yours=out[:, :4],
            expected=prompt,
        )
    if int(out.min()) < 0 or int(out.max()) >= 11:
        kit.fail("generated token ids outside [0, vocab_size)", yours=out)


def _greedy(sd, idx, steps, block_size):
    """Greedy decoding with the reference, cropping the context like nanoGPT."""
    for _ in range(steps):
        cond = idx[:, -block_size:]
        logits = [
            forward(sd, cond, TINY["n_layer"], TINY["n_head"], gelu=g)[:, -1]
            for g in ("erf", "tanh")
        ]
        nxt = logits[0].argmax(-1, keepdim=True)
        if not torch.equal(nxt, logits[1].argmax(-1, keepdim=True)):
            return None  # the two GELUs disagree: no unique greedy answer
        idx = torch.cat([idx, nxt], dim=1)
    return idx


def test_generate_top_k_1_is_greedy(gpt):
    """generate(..., temperature=3.0, top_k=1) picks the argmax of the reference's last-position logits."""
    kit.skip_unless(gpt.GPT, "generate", "generate()")
    torch.manual_seed(kit.seed())
    model = build(gpt)
    sd = random_state(TINY, kit.seed() + 10)
    load(model, sd)
    prompt = tokens((3, 3), 11, kit.seed() + 11)
    expected = _greedy(sd, prompt.clone(), 4, TINY["block_size"])
    if expected is None:
        pytest.skip("no unique greedy answer for this seed")
    out = model.generate(prompt.clone(), 4, temperature=3.0, top_k=1)
    if not torch.equal(out, expected):
        kit.fail("generate(prompt, 4, temperature=3.0, top_k=1) vs greedy decoding", yours=out,
                 expected=expected,
                 hint="take logits[:, -1, :] / temperature, keep the top_k largest (others -inf), "
                 "softmax over the vocabulary, sample")


SAMPLES = 20000  # rows sampled at once: a frequency is within 0.018 (5 sigma) of its probability


def _sampling_setup(gpt):
    """Your model and the reference weights, ln_f scaled so the last logits have std 1.5."""
    torch.manual_seed(kit.seed())
    model = build(gpt)
    sd = random_state(TINY, kit.seed() + 14)
    prompt = tokens((1, 3), 11, kit.seed() + 15)
    z = forward(sd, prompt, TINY["n_layer"], TINY["n_head"])[0, -1]
    # ln_f's gain and bias scale the logits exactly: spread them so that top-k,
    # temperature and plain sampling give clearly different distributions
    s = 1.5 / float(z.std())
    sd["transformer.ln_f.weight"] = sd["transformer.ln_f.weight"] * s
    sd["transformer.ln_f.bias"] = sd["transformer.ln_f.bias"] * s
    load(model, sd)
    z = forward(sd, prompt, TINY["n_layer"], TINY["n_head"])[0, -1]  # (V,)
    return model, prompt, z


def _expected_probs(z, temperature, top_k):
    z = z / temperature
    if top_k is not None:
        kth = torch.topk(z, top_k).values[-1]
        z = z.masked_fill(z < kth, float("-inf"))
    return F.softmax(z, dim=-1)


def _fits(freq, probs, n=SAMPLES):
    """Whether observed frequencies (of n samples) fit probs: each within 5 sigma of its binomial spread."""
    sigma = (probs * (1 - probs) / n).sqrt()
    return bool(((freq - probs).abs() <= 5 * sigma + 1e-3).all())


def test_generate_samples_from_top_k_with_temperature(gpt):
    """generate(prompt, 1, temperature=0.7, top_k=3), 20,000 rows: frequencies match softmax(top-3 logits / 0.7)."""
    kit.skip_unless(gpt.GPT, "generate", "generate()")
    model, prompt, z = _sampling_setup(gpt)
    torch.manual_seed(kit.seed() + 16)
    out = model.generate(prompt.repeat(SAMPLES, 1), 1, temperature=0.7, top_k=3)
    got = out[:, -1]
    freq = torch.bincount(got, minlength=11)[:11].double() / SAMPLES
    probs = _expected_probs(z, 0.7, 3)
    if _fits(freq, probs):
        return
    diagnosis = None
    top = int(z.argmax())
    if float(freq[top]) == 1.0:
        diagnosis = "every sample is the argmax: with top_k > 1 sample from the softmax (torch.multinomial), do not take the largest logit"
    elif _fits(freq, _expected_probs(z, 1.0, 3)):
        diagnosis = "your samples ignore the temperature: divide the last logits by temperature before the softmax"
    elif _fits(freq, _expected_probs(z, 0.7, None)):
        diagnosis = (
            "your samples ignore top_k: set every logit below the k-th largest to -inf"
        )
    elif _fits(freq, _expected_probs(z, 0.7, 2)) or _fits(
        freq, _expected_probs(z, 0.7, 4)
    ):
        diagnosis = "your top-k keeps one token too few or too many: keep logits >= the k-th largest"
    kit.fail("generate(prompt, 1, temperature=0.7, top_k=3): frequency of each next token over "
             f"{SAMPLES} samples", yours=[round(float(f), 3) for f in freq],
             expected=[round(float(p), 3) for p in probs], diagnosis=diagnosis,
             hint="logits[:, -1, :] / temperature, keep the top_k largest (others -inf), "
             "softmax over the vocabulary, then torch.multinomial(probs, 1)")


def test_generate_defaults_sample_the_full_softmax(gpt):
    """generate(prompt, 1) with default temperature=1.0, top_k=None samples softmax(logits) over all 11 tokens."""
    kit.skip_unless(gpt.GPT, "generate", "generate()")
    model, prompt, z = _sampling_setup(gpt)
    torch.manual_seed(kit.seed() + 17)
    out = model.generate(prompt.repeat(SAMPLES, 1), 1)
    freq = torch.bincount(out[:, -1], minlength=11)[:11].double() / SAMPLES
    probs = _expected_probs(z, 1.0, None)
    if not _fits(freq, probs):
        kit.fail(f"generate(prompt, 1) with its defaults: frequency of each next token over {SAMPLES} samples",
                 yours=[round(float(f), 3) for f in freq], expected=[round(float(p), 3) for p in probs],
                 hint="the defaults are temperature=1.0 and top_k=None (no cropping): plain "
                 "sampling from softmax(logits[:, -1, :])")


ONE_ROW_CALLS = 400  # generate calls on a single row: each frequency within ~0.12 (5 sigma)


def test_generate_top_k_holds_for_a_single_prompt(gpt):
    """generate(prompt (1, 3), 1, temperature=2.0, top_k=3), called 400 times: samples follow softmax(top-3 logits / 2)."""
    kit.skip_unless(gpt.GPT, "generate", "generate()")
    model, prompt, z = _sampling_setup(gpt)
    torch.manual_seed(kit.seed() + 18)
    got = torch.cat([model.generate(prompt.clone(), 1, temperature=2.0, top_k=3)[:, -1]
                     for _ in range(ONE_ROW_CALLS)])
    freq = torch.bincount(got, minlength=11)[:11].double() / ONE_ROW_CALLS
    probs = _expected_probs(z, 2.0, 3)
    if _fits(freq, probs, ONE_ROW_CALLS):
        return
    diagnosis = None
    top = int(z.argmax())
    if float(freq[top]) == 1.0:
        # the same prompt in 400 rows at once: does sampling work when B >= top_k?
        rows = model.generate(prompt.repeat(ONE_ROW_CALLS, 1), 1, temperature=2.0, top_k=3)
        if bool((rows[:, -1] != top).any()):
            diagnosis = ("with one row every sample is the argmax, as if top_k were 1, but not "
                         "with 400 rows: cap k by the vocabulary size, min(top_k, "
                         "logits.size(-1)), not by the batch size")
        else:
            diagnosis = "every sample is the argmax: with top_k > 1 sample from the softmax (torch.multinomial), do not take the largest logit"
    kit.fail(f"generate on a batch of one row, temperature=2.0, top_k=3: frequency of each next "
             f"token over {ONE_ROW_CALLS} calls", yours=[round(float(f), 3) for f in freq],
             expected=[round(float(p), 3) for p in probs], diagnosis=diagnosis,
             hint="top_k counts tokens of the vocabulary (the last axis), whatever the batch size: "
             "torch.topk(logits, min(top_k, logits.size(-1)))")


def test_generate_crops_prompts_longer_than_block_size(gpt):
    """A prompt longer than block_size is cropped to its last block_size tokens, not refused."""
    kit.skip_unless(gpt.GPT, "generate", "generate()")
    torch.manual_seed(kit.seed())
    model = build(gpt)
    sd = random_state(TINY, kit.seed() + 12)
    load(model, sd)
    T = TINY["block_size"]
    prompt = tokens((2, T + 3), 11, kit.seed() + 13)
    expected = _greedy(sd, prompt.clone(), 3, T)
    try:
        out = model.generate(prompt.clone(), 3, top_k=1)
    except NotImplementedError:
        raise
    except Exception as exc:
        kit.fail(f"generate with a prompt of {T + 3} tokens (block_size {T}) raised "
                 f"{type(exc).__name__}: {str(exc)[:120]}",
                 hint="feed the model idx[:, -block_size:] when the sequence is longer than block_size")
    if expected is not None and not torch.equal(out, expected):
        kit.fail(f"generate with a prompt of {T + 3} tokens, top_k=1, vs greedy on the last {T}",
                 yours=out, expected=expected)
