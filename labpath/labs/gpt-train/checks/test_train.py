"""Checks for train.py's parts: schedule, optimizer groups, batches, one step, eval, checkpoints.

The model is your GPT from the gpt2 lab at a size where every dimension differs
(vocab 67, block 16, 2 layers, 2 heads, n_embd 24, biases on), in float64 wherever a
gradient is compared. Gradients are read through a recording optimizer whose step()
copies them and changes nothing, so your train_step can zero them as it should.
"""

import math
import os
import pickle
from contextlib import nullcontext
from dataclasses import asdict

import numpy as np
import torch

from labpath.checks import kit

V, T, L, H, C = 67, 16, 2, 2, 24


def make_model(gpt, dropout=0.0, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    cfg = gpt.GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=H, n_embd=C, dropout=dropout, bias=True)
    return gpt.GPT(cfg).to(dtype)


def batch(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(V, (n, T), generator=g)
    return x, torch.randint(V, (n, T), generator=g)


class Recorder(torch.optim.Optimizer):
    """An optimizer that keeps a copy of the gradients at every step() and moves nothing."""

    def __init__(self, params):
        super().__init__(params, {"lr": 0.0})
        self.seen = []

    def step(self, closure=None):
        self.seen.append([None if p.grad is None else p.grad.detach().clone()
                          for g in self.param_groups for p in g["params"]])


def reference_grads(model, x, y):
    model.zero_grad(set_to_none=True)
    _, loss = model(x, y)
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return grads, loss.item()


def flat(grads):
    return torch.cat([g.reshape(-1) for g in grads])


def run_step(train, model, batches, grad_clip):
    opt = Recorder(model.parameters())
    out = train.train_step(model, opt, batches, grad_clip)
    if len(opt.seen) != 1:
        kit.fail(f"train_step called optimizer.step() {len(opt.seen)} times for one step",
                 hint="accumulate over all micro-batches, then step once")
    if any(g is None for g in opt.seen[0]):
        kit.fail("some parameters had no gradient when optimizer.step() ran",
                 hint="call loss.backward() on every micro-batch before the step")
    return opt, out


# --- the learning rate schedule -------------------------------------------------------

SCHEDULES = [  # nanoGPT's defaults, and its shakespeare_char config
    dict(learning_rate=6e-4, warmup_iters=2000, lr_decay_iters=600000, min_lr=6e-5),
    dict(learning_rate=1e-3, warmup_iters=100, lr_decay_iters=5000, min_lr=1e-4),
]


def expected_lr(it, s):
    lr, w, d, m = s["learning_rate"], s["warmup_iters"], s["lr_decay_iters"], s["min_lr"]
    if it < w:  # the three warmups in use: it/w, (it+1)/(w+1) (nanoGPT), (it+1)/w
        return [lr * it / w, lr * (it + 1) / (w + 1), lr * (it + 1) / w]
    if it > d:
        return [m]
    return [m + 0.5 * (1 + math.cos(math.pi * (it - w) / (d - w))) * (lr - m)]


def test_lr_warms_up_then_decays_by_cosine_to_min_lr(train):
    """get_lr: linear warmup (any of the three common forms), cosine to min_lr, then min_lr."""
    for s in SCHEDULES:
        cfg = train.TrainConfig(**s)
        w, d = s["warmup_iters"], s["lr_decay_iters"]
        for it in (0, 1, w // 2, w - 1, w, (w + d) // 2, d - 1, d, d + 1, 2 * d):
            yours = float(train.get_lr(it, cfg))
            ok = expected_lr(it, s)
            if not any(abs(yours - e) <= 1e-12 + 1e-9 * abs(e) for e in ok):
                diagnosis = None
                if it < w and it > 0 and yours == 0.0:
                    diagnosis = "lr is 0 for all warmup steps: integer division"
                elif it >= w and abs(yours - 0.5 * (1 + math.cos(math.pi * min(1, (it - w) / (d - w))))
                                     * s["learning_rate"]) < 1e-15 + 1e-9 * s["learning_rate"]:
                    diagnosis = "the cosine decays to 0, not to min_lr"
                elif it > d:
                    diagnosis = "after lr_decay_iters the lr must stay at min_lr"
                kit.fail(f"get_lr({it}) with {s}", yours=yours, expected=ok[-1] if it >= w else ok,
                         diagnosis=diagnosis,
                         hint="warmup: learning_rate * (it + 1) / (warmup_iters + 1); then min_lr + "
                              "0.5 * (1 + cos(pi * ratio)) * (learning_rate - min_lr); min_lr after the decay")


# --- the optimizer --------------------------------------------------------------------


def test_weight_decay_groups_hold_matrices_only(train, gpt):
    """configure_optimizers: every tensor with dim >= 2 decays, biases and LayerNorm weights not, each once."""
    model = make_model(gpt)
    opt = train.configure_optimizers(model, 0.1, 1e-3, (0.9, 0.95), "cpu")
    seen = {}
    for g in opt.param_groups:
        for p in g["params"]:
            if id(p) in seen:
                kit.fail("a parameter is in two groups (or twice in one)",
                         hint="list model.parameters() once: the tied wte/lm_head matrix is one tensor")
            seen[id(p)] = g["weight_decay"]
    names = {id(p): n for n, p in model.named_parameters()}
    missing = [n for n, p in model.named_parameters() if id(p) not in seen]
    if missing:
        kit.fail(f"the optimizer leaves out {missing[:3]}", hint="every trainable parameter needs a group")
    for n, p in model.named_parameters():
        want = 0.1 if p.dim() >= 2 else 0.0
        if seen[id(p)] != want:
            what = "LayerNorm weight" if "ln" in n and n.endswith("weight") else ("bias" if n.endswith("bias") else n)
            kit.fail(f"{names[id(p)]} ({tuple(p.shape)}) has weight_decay {seen[id(p)]}", yours=seen[id(p)],
                     expected=want, diagnosis=f"{what} decayed" if want == 0.0 else None,
                     hint="two groups: [p for p in params if p.dim() >= 2] with weight_decay, the rest with 0")


def test_adamw_step_shrinks_matrices_only(train, gpt):
    """One AdamW step with zero gradients: matrices shrink by (1 - lr * wd), the rest stay."""
    model = make_model(gpt)
    lr, wd = 0.5, 0.1
    opt = train.configure_optimizers(model, wd, lr, (0.9, 0.95), "cpu")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in model.named_parameters():
        factor = 1 - lr * wd if p.dim() >= 2 else 1.0
        kit.close(p.detach(), before[n] * factor, f"{n} after a zero-gradient AdamW step (lr 0.5, wd 0.1)",
                  rtol=1e-12, atol=1e-15,
                  diagnose=lambda _y, f=factor: "LayerNorm weight decayed" if f == 1.0 else None,
                  hint="AdamW's decay is p -= lr * wd * p; it must not reach biases or LayerNorm")


# --- data ----------------------------------------------------------------------------


def test_batches_are_windows_with_targets_shifted_by_one(train):
    """get_batch: (B, T) int64, y = x one to the right, windows inside the data, up to its last token."""
    N, B, bt = 23, 64, 5
    data = np.arange(N, dtype=np.uint16) + 100  # a token's value tells its position
    gen = torch.Generator().manual_seed(kit.seed())
    offsets = set()
    for _ in range(8):
        try:
            x, y = train.get_batch(data, bt, B, "cpu", gen)
        except RuntimeError as exc:
            kit.fail(f"get_batch failed on {N} tokens with block_size {bt}: {exc}",
                     diagnosis="last window's y is one token short",
                     hint="offsets go up to len(data) - block_size - 1: torch.randint(len(data) - block_size, ...)")
        if tuple(x.shape) != (B, bt) or tuple(y.shape) != (B, bt):
            kit.fail("x and y must be (B, T)", yours=(tuple(x.shape), tuple(y.shape)), expected=(B, bt))
        if x.dtype != torch.int64 or y.dtype != torch.int64:
            kit.fail("x and y must be int64 (embedding indices)", yours=(x.dtype, y.dtype),
                     hint="data[i:i+T].astype(np.int64) before torch.from_numpy")
        xs, ys = x - 100, y - 100
        for b in range(B):
            start = int(xs[b, 0])
            if not torch.equal(xs[b], torch.arange(start, start + bt)):
                kit.fail(f"row {b} of x is not a contiguous window of the data", yours=xs[b].tolist())
            if torch.equal(ys[b], xs[b]):
                kit.fail("y equals x: the model would learn to copy its input",
                         diagnosis="y equals x", hint="y = data[i + 1 : i + 1 + T]")
            if not torch.equal(ys[b], torch.arange(start + 1, start + 1 + bt)):
                kit.fail(f"row {b}: y is not x shifted by one", yours=ys[b].tolist(),
                         expected=list(range(start + 1, start + 1 + bt)), hint="y = data[i + 1 : i + 1 + T]")
            offsets.add(start)
    if max(offsets) != N - bt - 1 or min(offsets) != 0:
        kit.fail(f"over {8 * B} windows of {N} tokens the offsets ran {min(offsets)}..{max(offsets)}",
                 expected=f"0..{N - bt - 1}", hint="offsets: torch.randint(len(data) - block_size, (B,))")
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = train.get_batch(data, bt, 4, "cpu", g1), train.get_batch(data, bt, 4, "cpu", g2)
    if not (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])):
        kit.fail("two generators with the same seed gave different batches",
                 hint="draw the offsets with torch.randint(..., generator=generator), not the global RNG")


# --- one optimizer step --------------------------------------------------------------


def test_accumulated_step_equals_one_big_batch(train, gpt):
    """train_step over 4 micro-batches of 2 gives the gradient of one batch of 8 (float64), twice in a row."""
    model = make_model(gpt)
    x, y = batch(8, kit.seed())
    expected, full_loss = reference_grads(model, x, y)
    last, _ = reference_grads(model, x[6:], y[6:])
    micro = [(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)]
    opt = Recorder(model.parameters())
    out = None
    for _ in range(2):
        out = train.train_step(model, opt, micro, 0.0)
    if len(opt.seen) != 2:
        kit.fail(f"two train_step calls made {len(opt.seen)} optimizer steps", hint="one step per call")
    for step, grads in enumerate(opt.seen):
        if any(g is None for g in grads):
            kit.fail("some parameters had no gradient at optimizer.step()", hint="loss.backward() per micro-batch")
        yours, exp = flat(grads), flat(expected)

        def diagnose(_y, yours=yours, step=step, exp=exp):
            ratio = float(yours.norm() / exp.norm())
            if torch.allclose(yours, flat(last) / 4, rtol=1e-8) or torch.allclose(yours, flat(last), rtol=1e-8):
                return "grads equal the last micro-batch only: zero_grad runs inside the micro-step loop"
            if step == 1 and torch.allclose(yours, 2 * exp, rtol=1e-8):
                return "gradients of the previous step are still there: zero_grad is never called"
            if abs(ratio - 4) < 1e-6:
                return "accumulated grads are 4x the full-batch grads: divide each micro-loss by the number of micro-batches"
            return None

        kit.close(yours, exp, f"gradient at optimizer step {step + 1} after 4 micro-batches of 2 "
                  "(vs one batch of 8)", rtol=1e-10, atol=1e-13, diagnose=diagnose,
                  hint="loss = loss / len(batches) before backward; zero the grads after the step")
    if not isinstance(out, dict) or "loss" not in out:
        kit.fail("train_step must return a dict with 'loss' and 'grad_norm'", yours=out)
    kit.close(float(out["loss"]), full_loss, "train_step's loss (the mean over the micro-batches)",
              rtol=1e-10, atol=1e-12, hint="add up loss.item() of each divided micro-loss")


def test_clipping_acts_on_the_accumulated_gradient(train, gpt):
    """grad_clip=0.1 scales the summed gradient to norm 0.1 (direction kept); grad_clip=0 changes nothing."""
    model = make_model(gpt)
    x, y = batch(8, kit.seed() + 1)
    expected, _ = reference_grads(model, x, y)
    exp = flat(expected)
    norm = float(exp.norm())
    assert norm > 0.2, "check harness: the reference gradient is too small to clip"
    micro = [(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)]
    opt, out = run_step(train, model, micro, 0.1)
    yours = flat(opt.seen[0])
    kit.close(yours, exp * (0.1 / norm), "gradient at step() with grad_clip=0.1 (the full gradient "
              f"of norm {norm:.3f} scaled to 0.1)", rtol=1e-5, atol=1e-12,
              diagnose=lambda _y: "clipped per micro-step, before accumulation finished"
              if float(yours.norm()) > 0.1 + 1e-9 else None,
              hint="clip once, after the micro-step loop and before optimizer.step(): "
                   "torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)")
    kit.close(float(out["grad_norm"]), norm, "train_step's grad_norm (the norm before clipping)",
              rtol=1e-6, atol=1e-12, hint="return what clip_grad_norm_ returns")
    opt, _ = run_step(train, model, micro, 0.0)
    kit.close(flat(opt.seen[0]), exp, "gradient with grad_clip=0 (no clipping)", rtol=1e-10, atol=1e-13,
              hint="grad_clip = 0 disables clipping, as in nanoGPT")


def test_bf16_autocast_on_cpu_keeps_float32_weights(train, gpt):
    """A step under torch.autocast('cpu', bfloat16): loss within 2 % of float32, parameters stay float32."""
    model = make_model(gpt, dtype=torch.float32)
    x, y = batch(8, kit.seed() + 2)
    _, ref = reference_grads(model, x, y)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    out = train.train_step(model, opt, [(x, y)], 1.0, None, torch.autocast("cpu", dtype=torch.bfloat16))
    if abs(out["loss"] - ref) > 0.02 * abs(ref):
        kit.fail("bf16 loss is not within 2 % of the float32 loss", yours=out["loss"], expected=ref,
                 hint="run the forward inside ctx; keep the backward and the step outside autocast")
    bad = [n for n, p in model.named_parameters() if p.dtype != torch.float32]
    if bad:
        kit.fail(f"autocast changed parameter dtypes: {bad[:3]}", hint="autocast casts per op; never .to(bfloat16) the model")


def test_grad_scaler_is_unscaled_before_clipping_and_updated(train, gpt):
    """train_step with a GradScaler: clipping sees the true gradient, grad_norm is unscaled, scaler.update() runs."""
    model = make_model(gpt, dtype=torch.float32)
    x, y = batch(8, kit.seed() + 3)
    expected, _ = reference_grads(model, x, y)
    exp = flat(expected)
    norm, scale = float(exp.norm()), 2.0**12
    assert norm > 0.2, "check harness: the reference gradient is too small to clip"
    micro = [(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)]
    scaler = torch.amp.GradScaler("cpu", init_scale=scale, growth_interval=1)
    opt = Recorder(model.parameters())
    out = train.train_step(model, opt, micro, 0.1, scaler)
    if len(opt.seen) != 1:
        kit.fail(f"with a GradScaler train_step made {len(opt.seen)} optimizer steps", expected=1,
                 hint="scaler.step(optimizer) steps once, unless the scaled gradients overflowed")
    yours = flat(opt.seen[0])
    kit.close(yours, exp * (0.1 / norm), f"gradient at step() with a GradScaler (scale {scale:g}) and "
              f"grad_clip=0.1 (the full gradient of norm {norm:.3f} scaled to 0.1)", rtol=1e-4, atol=1e-9,
              diagnose=lambda _y: "clipped the scaled gradients: scaler.unscale_(optimizer) must come first"
              if abs(float(yours.norm()) * scale / 0.1 - 1) < 1e-3 else None,
              hint="scaler.scale(loss).backward() per micro-batch; then scaler.unscale_(optimizer), "
                   "clip_grad_norm_, scaler.step(optimizer), scaler.update()")
    kit.close(float(out["grad_norm"]), norm, "train_step's grad_norm with a GradScaler (the true gradient's norm)",
              rtol=1e-4, atol=1e-9, hint="unscale before taking the norm")
    if scaler.get_scale() != 2 * scale:
        kit.fail("after a step without overflow the GradScaler's scale did not grow (growth_interval=1)",
                 yours=scaler.get_scale(), expected=2 * scale,
                 diagnosis="scaler.update() never called" if scaler.get_scale() == scale else None,
                 hint="scaler.update() after scaler.step(optimizer): it lowers the scale after an overflow, "
                      "or a float16 run skips every step")


# --- evaluation ------------------------------------------------------------------------


@kit.after("test_batches_are_windows_with_targets_shifted_by_one")
def test_estimate_loss_restores_train_mode(train, gpt):
    """estimate_loss: per split the mean loss of eval_iters batches from get_batch, dropout off, train mode afterwards."""
    model = make_model(gpt, dropout=0.2, dtype=torch.float32)
    model.train()
    data = (np.arange(400) * 7 % V).astype(np.uint16)
    splits = {"train": data[:300], "val": data[300:]}
    runs = []
    for _ in range(2):
        runs.append(train.estimate_loss(model, splits, 3, 4, T, nullcontext(), torch.Generator().manual_seed(5)))
        if not model.training:
            kit.fail("the model is in eval mode after estimate_loss: dropout is silently off in training",
                     diagnosis="estimate_loss leaves the model in eval mode",
                     hint="model.eval() at the start, model.train() before returning")
    if set(runs[0]) != {"train", "val"} or not all(isinstance(float(v), float) for v in runs[0].values()):
        kit.fail("estimate_loss must return {'train': float, 'val': float}", yours=runs[0])
    if runs[0] != runs[1]:
        kit.fail("two evaluations with the same generator seed differ: dropout was on, or the batches "
                 "do not come from the generator passed in", yours=runs[1], expected=runs[0],
                 hint="model.eval() before evaluating; get_batch(..., generator) for every batch")
    if any(p.grad is not None for p in model.parameters()):
        kit.fail("estimate_loss left gradients on the parameters", hint="decorate it with @torch.no_grad()")

    def mean_losses(order, swap=False):
        """What estimate_loss should give, the splits drawn from one generator in this order."""
        gen, out = torch.Generator().manual_seed(5), {}
        model.eval()
        with torch.no_grad():
            for name in order:
                batches = [train.get_batch(splits[name], T, 4, "cpu", gen) for _ in range(3)]
                out[name] = sum(model(*((y, x) if swap else (x, y)))[1].item() for x, y in batches) / 3
        model.train()
        return out

    def same(a, b):
        return all(abs(float(a[s]) - b[s]) <= 1e-5 * abs(b[s]) + 1e-7 for s in b)

    orders = (("train", "val"), ("val", "train"))  # either split may come first
    wants = [mean_losses(o) for o in orders]
    if not any(same(runs[0], want) for want in wants):
        swapped = any(same(runs[0], mean_losses(o, swap=True)) for o in orders)
        kit.fail("estimate_loss(model, splits, eval_iters=3, batch_size=4, block_size=16, ...) is not the mean "
                 "loss of 3 batches per split from get_batch with the generator passed in",
                 yours={k: round(float(v), 6) for k, v in runs[0].items()},
                 expected={k: round(v, 6) for k, v in wants[0].items()},
                 diagnosis="estimate_loss scores model(y, x): inputs and targets swapped" if swapped else None,
                 hint="for each split: eval_iters times x, y = get_batch(data, block_size, batch_size, device, "
                      "generator); _, loss = model(x, y); the mean of those losses")


# --- checkpoints -----------------------------------------------------------------------


def test_checkpoint_holds_the_whole_run_state(train, gpt, tmp_path):
    """save/load_checkpoint: model keys without DDP's module. prefix, optimizer, args, iteration, RNG states."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    model = make_model(gpt, dtype=torch.float32)
    opt = train.configure_optimizers(model, 0.1, 1e-3, (0.9, 0.95), "cpu")
    _, loss = model(*batch(2, 0))
    loss.backward()
    opt.step()
    gen = torch.Generator().manual_seed(9)
    rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "generator": gen.get_state()}
    args = dict(n_layer=L, n_head=H, n_embd=C, block_size=T, bias=True, vocab_size=V, dropout=0.0)
    path = tmp_path / "ckpt.pt"
    store = dist.HashStore()
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        wrapped = DDP(model)
        train.save_checkpoint(str(path), wrapped, opt, 7, 2.5, args, asdict(train.TrainConfig()), rng)
    finally:
        dist.destroy_process_group()
    saved = torch.load(path, map_location="cpu", weights_only=False)
    prefixed = [k for k in saved.get("model", {}) if k.startswith(("module.", "_orig_mod."))]
    if prefixed:
        kit.fail(f"the saved model keys carry a wrapper prefix: {prefixed[:2]}",
                 diagnosis="checkpoint saved from the DDP wrapper",
                 hint="save the plain model's state_dict: model.module under DDP, model._orig_mod when compiled")
    ckpt = train.load_checkpoint(str(path), "cpu")
    for key in ("model", "optimizer", "model_args", "iter_num", "best_val_loss", "config"):
        if key not in ckpt:
            kit.fail(f"the checkpoint has no '{key}'", yours=sorted(ckpt))
    if sorted(ckpt["model"]) != sorted(model.state_dict()):
        kit.fail("the saved model keys are not the model's own", yours=sorted(ckpt["model"])[:4])
    if (ckpt["iter_num"], ckpt["best_val_loss"]) != (7, 2.5):
        kit.fail("iter_num / best_val_loss did not come back", yours=(ckpt["iter_num"], ckpt["best_val_loss"]))
    if "rng_state" not in ckpt:
        kit.fail("the checkpoint holds no 'rng_state'", yours=sorted(ckpt),
                 hint="store the torch, numpy and data generator states: a resume needs them")
    # a checkpoint written by a compiled and wrapped model loads as the plain one
    raw = torch.load(path, weights_only=False)
    raw["model"] = {"_orig_mod.module." + k: v for k, v in model.state_dict().items()}
    torch.save(raw, path)
    keys = sorted(train.load_checkpoint(str(path), "cpu")["model"])
    if keys != sorted(model.state_dict()):
        kit.fail(f"load_checkpoint kept the prefixes of a compiled DDP model: {keys[:2]}",
                 diagnosis="checkpoint keys keep the _orig_mod. / module. prefix",
                 hint="strip '_orig_mod.' and 'module.' from the front of every key on load")


def make_dataset(folder, n_train=6000, n_val=1500, vocab=V, seed=0, noise=False):
    """A token corpus on disk in prepare.py's format: a repeating code-like pattern, or noise."""
    folder.mkdir(parents=True, exist_ok=True)
    g = np.random.default_rng(seed)
    if noise:
        ids = g.integers(0, vocab, n_train + n_val)
    else:  # a few 'words' in random order: learnable in a few dozen steps
        words = [g.integers(0, vocab, g.integers(3, 8)) for _ in range(12)]
        ids = np.concatenate([words[i] for i in g.integers(0, 12, (n_train + n_val) // 4)])[: n_train + n_val]
    ids.astype(np.uint16)[:n_train].tofile(folder / "train.bin")
    ids.astype(np.uint16)[n_train:].tofile(folder / "val.bin")
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": vocab}, f)
    return folder


TINY = dict(n_layer=L, n_head=H, n_embd=C, block_size=T, batch_size=4, bias=True, device="cpu",
            dtype="float32", compile=False, log_interval=1000)


def test_train_draws_batches_of_batch_size_by_block_size(train, tmp_path):
    """train() calls get_batch(data, block_size, batch_size, ...): every batch it draws, to train or evaluate, is (B, T)."""
    data = make_dataset(tmp_path / "data")
    cfg = train.TrainConfig(**TINY, dataset=str(data), out_dir=str(tmp_path / "out"), max_iters=2,
                            gradient_accumulation_steps=1, eval_interval=1000, eval_iters=3,
                            warmup_iters=0, lr_decay_iters=2, seed=kit.seed())
    drawn, original = [], train.get_batch

    def spy(*args, **kwargs):
        x, y = original(*args, **kwargs)
        drawn.append(tuple(getattr(x, "shape", ())))
        return x, y

    train.get_batch = spy  # train() calls get_batch by its module's name (the brief)
    try:
        train.train(cfg)
    finally:
        train.get_batch = original
    B, T, E = cfg.batch_size, cfg.block_size, cfg.eval_iters
    wrong = sorted({shape for shape in drawn if shape != (B, T)})
    if wrong:  # only what was seen is judged: a train() that batches by itself is not
        diagnosis = None
        if (T, B) in wrong:
            diagnosis = f"block_size and batch_size swapped in the call: {T} rows of {B} tokens"
        elif wrong == [(E, T)]:
            diagnosis = f"estimate_loss called with eval_iters and batch_size swapped: batches of {E} rows"
        kit.fail(f"the batches train() drew with batch_size={B}, block_size={T} and eval_iters={E}", yours=wrong,
                 expected=f"({B}, {T}) for training and evaluation alike", diagnosis=diagnosis,
                 hint="get_batch(data, cfg.block_size, cfg.batch_size, device, generator), block_size first; "
                 "estimate_loss(model, splits, cfg.eval_iters, cfg.batch_size, cfg.block_size, ctx, generator)")


def train_with_spy(train, cfg, record):
    """train(cfg) with train.train_step wrapped (train() calls it by name): before each call
    record(model, optimizer, scaler) may return a callable to run after it."""
    original = train.train_step

    def spy(model, optimizer, batches, *args, **kwargs):
        after = record(model, optimizer, args[1] if len(args) > 1 else kwargs.get("scaler"))
        try:
            return original(model, optimizer, batches, *args, **kwargs)
        finally:
            if after is not None:
                after()

    train.train_step = spy
    try:
        return train.train(cfg)
    finally:
        train.train_step = original


@kit.after("test_lr_warms_up_then_decays_by_cosine_to_min_lr")
def test_train_steps_at_the_scheduled_lr(train, tmp_path):
    """train(): every param group's lr is get_lr(iter_num) at each step (decay_lr), learning_rate without decay."""
    data = make_dataset(tmp_path / "data")
    for decay in (True, False):
        cfg = train.TrainConfig(**TINY, dataset=str(data), out_dir=str(tmp_path / f"out{decay}"), max_iters=4,
                                gradient_accumulation_steps=1, eval_interval=1000, eval_iters=1, decay_lr=decay,
                                learning_rate=1e-2, warmup_iters=2, lr_decay_iters=4, min_lr=1e-3, seed=kit.seed())
        seen = []
        train_with_spy(train, cfg, lambda model, opt, scaler, seen=seen: seen.append(
            [g["lr"] for g in opt.param_groups]))
        if not seen:
            kit.fail("train() never called train_step", hint="train() calls train_step by its module's name (the brief)")
        want = [float(train.get_lr(it, cfg)) if decay else cfg.learning_rate for it in range(len(seen))]
        for it, (lrs, lr) in enumerate(zip(seen, want)):
            if any(abs(v - lr) > 1e-12 + 1e-9 * lr for v in lrs):
                stuck = all(v == cfg.learning_rate for row in seen for v in row)
                kit.fail(f"the lr of the optimizer's param groups at step {it} with decay_lr={decay}", yours=lrs,
                         expected=lr, diagnosis="the schedule's lr never reaches the optimizer" if decay and stuck
                         else None, hint="before each step: for group in optimizer.param_groups: group['lr'] = lr, "
                         "with lr = get_lr(iter_num, cfg) if cfg.decay_lr else cfg.learning_rate")


def forward_dtypes(train, cfg):
    """train(cfg); the autocast dtype of every forward train_step ran ('float32' without
    autocast), and the scaler passed to each train_step."""
    forwards, scalers = [], []

    def hook(_module, _inputs):
        on = torch.is_autocast_enabled("cpu")
        forwards.append(str(torch.get_autocast_dtype("cpu")).replace("torch.", "") if on else "float32")

    def record(model, opt, scaler):
        scalers.append(scaler)
        return model.register_forward_pre_hook(hook).remove

    train_with_spy(train, cfg, record)
    return forwards, scalers


def test_train_runs_the_forward_in_cfg_dtype(train, tmp_path):
    """train(dtype='bfloat16' | 'float16'): the forward under torch.autocast in that dtype; float16 with a GradScaler."""
    data = make_dataset(tmp_path / "data")
    for dtype in ("bfloat16", "float16"):
        cfg = train.TrainConfig(**dict(TINY, dtype=dtype), dataset=str(data), out_dir=str(tmp_path / dtype),
                                max_iters=1, gradient_accumulation_steps=1, eval_interval=1000, eval_iters=1,
                                warmup_iters=0, lr_decay_iters=1, seed=kit.seed())
        forwards, scalers = forward_dtypes(train, cfg)
        if not forwards:
            kit.fail("train() ran no forward through train_step", hint="train() calls train_step by name (the brief)")
        if set(forwards) != {dtype}:
            kit.fail(f"with dtype='{dtype}' train()'s forward ran in", yours=sorted(set(forwards)), expected=dtype,
                     diagnosis=f"dtype='{dtype}' trained in float32: no torch.autocast" if set(forwards) == {"float32"}
                     else None, hint="ctx = torch.autocast(device_type, dtype=torch.bfloat16 or torch.float16) "
                     "unless cfg.dtype is float32, on the CPU too (nanoGPT skips it there); pass it to train_step")
        if dtype == "float16" and not all(s is not None and s.is_enabled() for s in scalers):
            kit.fail("with dtype='float16' train() passed train_step no enabled GradScaler", yours=scalers[0],
                     diagnosis="float16 without loss scaling: small gradients underflow to 0",
                     hint="scaler = torch.amp.GradScaler(device_type, enabled=(cfg.dtype == 'float16'))")


def test_best_val_loss_is_the_minimum_seen(train, tmp_path):
    """train(): best_val_loss is the lowest val loss of the evaluations, not the last one."""
    data = make_dataset(tmp_path / "data", noise=True)
    cfg = train.TrainConfig(**TINY, dataset=str(data), out_dir=str(tmp_path / "out"), max_iters=8,
                            gradient_accumulation_steps=1,
                            eval_interval=1, eval_iters=1, learning_rate=3e-2, warmup_iters=0,
                            lr_decay_iters=8, min_lr=3e-3, seed=kit.seed())
    result = train.train(cfg)
    vals = [e["val"] for e in result["evals"]]
    if len(vals) < 8:
        kit.fail(f"with eval_interval=1 and max_iters=8 train() evaluated {len(vals)} times", expected=8,
                 hint="evaluate at every iter_num % eval_interval == 0 and return the evaluations under 'evals'")
    if "tokens" in result and result["tokens"] != 8 * cfg.batch_size * cfg.block_size:
        kit.fail("train()'s 'tokens' is not the number of tokens the steps trained on", yours=result["tokens"],
                 expected=8 * cfg.batch_size * cfg.block_size, hint="accumulation x world size x batch x block per step")
    best = result["best_val_loss"]
    ckpt = train.load_checkpoint(os.path.join(cfg.out_dir, "ckpt.pt"), "cpu")
    for what, value in (("train()'s best_val_loss", best), ("the checkpoint's best_val_loss", ckpt["best_val_loss"])):
        if abs(value - min(vals)) > 1e-9:
            last = abs(value - vals[-1]) < 1e-9
            kit.fail(f"{what} is not the minimum of the val losses {[round(v, 4) for v in vals]}",
                     yours=value, expected=min(vals),
                     diagnosis="best_val_loss overwritten by the last val loss (nanoGPT's own quirk)" if last else None,
                     hint="best_val_loss = min(best_val_loss, losses['val'])")
