"""
Train the GPT of the gpt2 lab on a token corpus written by prepare.py, nanoGPT-style.

Goal: the training loop that long runs need, and nothing hidden: AdamW with weight
decay on matrices only, linear warmup then cosine decay to min_lr, gradient
accumulation, clipping after accumulation, periodic evaluation, checkpoints that hold
everything a run depends on (model, optimizer, iteration, RNG and data generator
states) so that a resumed run is bit for bit the run that never stopped, and the same
file running on several processes with DistributedDataParallel under torchrun.

    python train.py --dataset=data --max_iters=2000            # one process
    torchrun --standalone --nproc_per_node=2 train.py --backend=gloo --device=cpu
    torchrun --standalone --nproc_per_node=8 train.py --backend=nccl --device=cuda

References:
- karpathy/nanoGPT train.py and model.py (configure_optimizers): the names of the config,
  the schedule and the DDP set-up this file follows.
- karpathy/build-nanogpt train_gpt2.py and "Let's reproduce GPT-2 (124M)": gradient
  accumulation by dividing the loss, no_sync until the last micro-step, bf16 autocast.
- Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization" (AdamW);
  Loshchilov & Hutter 2017, "SGDR" (cosine schedule).
- PyTorch docs: DistributedDataParallel.no_sync, torch.distributed.run (torchrun).
"""

import math
import os
import pickle
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

# the GPT comes from the gpt2 lab: a model.py next to this file, else the sibling folder
sys.path.append(str(Path(__file__).resolve().parent.parent / "gpt2"))


@dataclass
class TrainConfig:
    # I/O
    out_dir: str = "out"
    eval_interval: int = 250  # evaluate (and checkpoint) every this many steps
    log_interval: int = 10
    eval_iters: int = 20  # batches per split in an evaluation
    always_save_checkpoint: bool = True  # save at every evaluation, not only on a new best
    init_from: str = "scratch"  # 'scratch' or 'resume' (from out_dir/ckpt.pt)
    dataset: str = "data"  # folder holding train.bin, val.bin and meta.pkl
    # data: tokens per optimizer step = accumulation * world size * batch * block
    gradient_accumulation_steps: int = 1  # total over all processes
    batch_size: int = 16
    block_size: int = 128
    # model (the gpt2 lab's GPTConfig)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    # AdamW
    learning_rate: float = 1e-3
    max_iters: int = 2000
    weight_decay: float = 1e-1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # clip the global gradient norm to this; 0 disables
    # learning rate schedule
    decay_lr: bool = True
    warmup_iters: int = 100
    lr_decay_iters: int = 2000  # ~ max_iters, as Chinchilla advises
    min_lr: float = 1e-4  # ~ learning_rate / 10
    # system
    backend: str = "nccl"  # 'nccl' for CUDA, 'gloo' for CPU
    device: str = "cpu"  # 'cpu', 'cuda', 'cuda:1', 'mps'
    dtype: str = "float32"  # 'float32', 'bfloat16' or 'float16' (autocast)
    compile: bool = False  # torch.compile the model (CUDA)
    seed: int = 1337


# -----------------------------------------------------------------------------
# the learning rate schedule


def get_lr(it, cfg):
    """Linear warmup to learning_rate, cosine decay to min_lr, then min_lr for ever."""
    # 1) warmup: (it + 1) so that step 0 already moves the weights (nanoGPT since 2024)
    if it < cfg.warmup_iters:
        return cfg.learning_rate * (it + 1) / (cfg.warmup_iters + 1)
    # 2) past the end of the decay: hold the floor
    if it > cfg.lr_decay_iters:
        return cfg.min_lr
    # 3) in between: cosine from learning_rate down to min_lr
    ratio = (it - cfg.warmup_iters) / (cfg.lr_decay_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))  # 1 -> 0
    return cfg.min_lr + coeff * (cfg.learning_rate - cfg.min_lr)


# -----------------------------------------------------------------------------
# the optimizer


def configure_optimizers(model, weight_decay, learning_rate, betas, device_type):
    """AdamW with two groups: matrices (embeddings, Linear weights) decay, the rest not.

    Decay pulls weights towards 0; for a bias or a LayerNorm gain that only fights the
    scale the network needs, so every tensor with fewer than 2 dims is left alone.
    """
    # named_parameters() yields a tied tensor (wte = lm_head) once
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # the fused kernel is one launch for all tensors instead of one per tensor
    extra = {"fused": True} if device_type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **extra)


# -----------------------------------------------------------------------------
# data


def get_batch(data, block_size, batch_size, device, generator):
    """batch_size random windows of data: x (B, T) and y, the same windows one to the right.

    The offsets come from an explicit generator, so a checkpoint can store where the
    data stream stands and a resumed run draws exactly the batches it would have drawn.
    """
    # the last valid offset is len - T - 1: y then ends on the last token
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    # int64 copies of uint16 slices (torch has no uint16 indexing into embeddings)
    x = torch.stack([torch.from_numpy(data[i : i + block_size].astype(np.int64)) for i in ix.tolist()])
    y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + block_size].astype(np.int64)) for i in ix.tolist()])
    if str(device).startswith("cuda"):
        # pinned memory lets the copy overlap with the GPU's work
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.to(device), y.to(device)


@torch.no_grad()
def estimate_loss(model, splits, eval_iters, batch_size, block_size, ctx, generator):
    """Mean loss over eval_iters batches of each split; the model goes back to train mode."""
    device = next(model.parameters()).device
    out = {}
    model.eval()  # dropout off: the evaluation measures the model, not a noisy copy
    for name, data in splits.items():
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            x, y = get_batch(data, block_size, batch_size, device, generator)
            with ctx:
                _, loss = model(x, y)
            losses[k] = loss.item()
        out[name] = losses.mean().item()
    model.train()
    return out


# -----------------------------------------------------------------------------
# one optimizer step


def train_step(model, optimizer, batches, grad_clip, scaler=None, ctx=nullcontext()):
    """One optimizer step over len(batches) micro-batches, as if they were one big batch.

    Each micro-loss is divided by the number of micro-batches: the gradients then add
    up to the gradient of the mean loss over all of them (the windows all have T
    tokens, so the mean of means is the mean). Under DDP the gradients are averaged
    over the processes only once, on the last micro-step.
    """
    k = len(batches)
    total = 0.0
    for i, (x, y) in enumerate(batches):
        last = i == k - 1
        # no_sync: skip DDP's all-reduce while the gradients are still being summed
        sync = nullcontext() if (last or not isinstance(model, DDP)) else model.no_sync()
        with sync:
            with ctx:
                _, loss = model(x, y)
                loss = loss / k  # the mean over micro-batches, not their sum
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
        total += loss.item()
    # clip once, on the summed gradients (fp16: unscale first, or the norm is scaled too)
    if scaler is not None:
        scaler.unscale_(optimizer)
    if grad_clip > 0.0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    else:
        norm = torch.norm(torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None]))
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    # set_to_none frees the gradients; the next step starts from nothing
    optimizer.zero_grad(set_to_none=True)
    return {"loss": total, "grad_norm": float(norm)}


# -----------------------------------------------------------------------------
# checkpoints


def unwrap(model):
    """The plain GPT inside a DDP wrapper (.module) and/or torch.compile (._orig_mod)."""
    while True:
        if isinstance(model, DDP):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def get_rng_state(generator):
    """Every random stream the loop draws from: torch (dropout), numpy, python, the data."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "generator": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state, generator):
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    generator.set_state(state["generator"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, model, optimizer, iter_num, best_val_loss, model_args, config, rng_state):
    """Write everything a run needs to continue; the model's keys without any wrapper prefix."""
    checkpoint = {
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "model_args": model_args,
        "iter_num": iter_num,
        "best_val_loss": best_val_loss,
        "config": config,
        "rng_state": rng_state,
    }
    # write then rename: a run killed mid-save keeps its previous checkpoint
    tmp = str(path) + ".tmp"
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, device):
    checkpoint = torch.load(path, map_location=device, weights_only=False)
    # a state_dict saved from a compiled or DDP model has prefixed keys; strip them
    clean = {}
    for key, value in checkpoint["model"].items():
        for prefix in ("_orig_mod.", "module."):
            while key.startswith(prefix):
                key = key[len(prefix):]
        clean[key] = value
    checkpoint["model"] = clean
    return checkpoint


# -----------------------------------------------------------------------------
# the loop


def train(cfg):
    """Train (or resume) a GPT as cfg says; returns the losses and where the run ended."""
    from model import GPT, GPTConfig

    # torchrun sets RANK, LOCAL_RANK and WORLD_SIZE: their presence means DDP
    ddp = int(os.environ.get("RANK", -1)) != -1
    if ddp:
        dist.init_process_group(backend=cfg.backend)
        rank, world = dist.get_rank(), dist.get_world_size()
        local_rank = int(os.environ["LOCAL_RANK"])
        device = f"cuda:{local_rank}" if cfg.device.startswith("cuda") else cfg.device
        if device.startswith("cuda"):
            torch.cuda.set_device(device)
        # each process does its share of the micro-steps of one optimizer step
        assert cfg.gradient_accumulation_steps % world == 0, "accumulation steps must divide by the world size"
        accum = cfg.gradient_accumulation_steps // world
    else:
        rank, world, accum, device = 0, 1, cfg.gradient_accumulation_steps, cfg.device
    master = rank == 0  # the one process that evaluates, logs and saves
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    if master:
        os.makedirs(cfg.out_dir, exist_ok=True)
        tokens = accum * world * cfg.batch_size * cfg.block_size
        print(f"tokens per iteration: {tokens:,} ({world} process(es) x {accum} micro-steps)")

    # the same initial weights on every process (DDP broadcasts rank 0's anyway) ...
    torch.manual_seed(cfg.seed)
    # ... but different batches: each rank's data generator has its own seed
    generator = torch.Generator().manual_seed(cfg.seed + rank)
    if device_type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    ptdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[cfg.dtype]
    ctx = nullcontext() if cfg.dtype == "float32" else torch.autocast(device_type=device_type, dtype=ptdtype)

    # the corpus: uint16 token ids on disk, mapped, not read
    train_data = np.memmap(os.path.join(cfg.dataset, "train.bin"), dtype=np.uint16, mode="r")
    val_data = np.memmap(os.path.join(cfg.dataset, "val.bin"), dtype=np.uint16, mode="r")
    with open(os.path.join(cfg.dataset, "meta.pkl"), "rb") as f:
        meta = pickle.load(f)

    model_args = dict(n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, block_size=cfg.block_size,
                      bias=cfg.bias, vocab_size=meta["vocab_size"], dropout=cfg.dropout)
    iter_num, best_val_loss, checkpoint = 0, 1e9, None
    ckpt_path = os.path.join(cfg.out_dir, "ckpt.pt")
    if cfg.init_from == "resume":
        checkpoint = load_checkpoint(ckpt_path, device)
        # the architecture must be the saved one, whatever cfg says
        for k in ("n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size"):
            model_args[k] = checkpoint["model_args"][k]
    model = GPT(GPTConfig(**model_args)).to(device)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        iter_num, best_val_loss = checkpoint["iter_num"], checkpoint["best_val_loss"]

    optimizer = configure_optimizers(model, cfg.weight_decay, cfg.learning_rate, (cfg.beta1, cfg.beta2), device_type)
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        # last: building the model above drew from the torch RNG
        states = checkpoint["rng_state"]
        set_rng_state(states[rank] if isinstance(states, list) else states, generator)
        checkpoint = None  # free the memory
    else:
        torch.manual_seed(cfg.seed + rank)  # dropout masks differ between processes
    scaler = torch.amp.GradScaler(device_type, enabled=(cfg.dtype == "float16"))

    raw_model = model
    if cfg.compile and device_type == "cuda":
        model = torch.compile(model)
    if ddp:
        model = DDP(model, device_ids=[local_rank] if device_type == "cuda" else None)

    def checkpoint_now():
        # every process's generator state, gathered so that each rank resumes its own stream
        state = get_rng_state(generator)
        if ddp:
            states = [None] * world
            dist.all_gather_object(states, state)
            state = states
        if master:
            save_checkpoint(ckpt_path, raw_model, optimizer, iter_num, best_val_loss, model_args, asdict(cfg), state)

    losses, evals = [], []
    t0, tokens_done = time.time(), 0
    while True:
        lr = get_lr(iter_num, cfg) if cfg.decay_lr else cfg.learning_rate
        for group in optimizer.param_groups:
            group["lr"] = lr

        last = iter_num >= cfg.max_iters
        if iter_num % cfg.eval_interval == 0 or last:
            if master:
                # a fresh generator: every evaluation scores the same windows, so the
                # curve shows the model changing, not the sample
                eval_gen = torch.Generator().manual_seed(cfg.seed + 10_000)
                split_losses = estimate_loss(raw_model, {"train": train_data, "val": val_data}, cfg.eval_iters,
                                             cfg.batch_size, cfg.block_size, ctx, eval_gen)
                evals.append({"iter": iter_num, **split_losses})
                print(f"step {iter_num}: train loss {split_losses['train']:.4f}, val loss {split_losses['val']:.4f}")
                improved = split_losses["val"] < best_val_loss
                # the best seen, not the latest (nanoGPT overwrites it when always saving)
                best_val_loss = min(best_val_loss, split_losses["val"])
            else:
                improved = False
            if ddp:  # every rank takes part in the gather below, so all must know the decision
                flag = [improved]
                dist.broadcast_object_list(flag, src=0)
                improved = flag[0]
            # the end of a run is always saved: `--init_from=resume` continues from it
            if last or (iter_num > 0 and (improved or cfg.always_save_checkpoint)):
                checkpoint_now()
        if last:
            break

        batches = [get_batch(train_data, cfg.block_size, cfg.batch_size, device, generator) for _ in range(accum)]
        out = train_step(model, optimizer, batches, cfg.grad_clip, scaler, ctx)
        losses.append(out["loss"])
        iter_num += 1
        tokens_done += accum * world * cfg.batch_size * cfg.block_size
        if master and (iter_num % cfg.log_interval == 0 or iter_num == cfg.max_iters):
            dt = time.time() - t0
            print(f"iter {iter_num}: loss {out['loss']:.4f}, lr {lr:.2e}, norm {out['grad_norm']:.2f}, "
                  f"{tokens_done / max(dt, 1e-9):,.0f} tok/s")

    if ddp:
        dist.destroy_process_group()
    return {"iter_num": iter_num, "best_val_loss": best_val_loss, "losses": losses, "evals": evals,
            "tokens": tokens_done, "seconds": time.time() - t0}


# -----------------------------------------------------------------------------


def parse_args(argv):
    """--key=value flags over TrainConfig's defaults (nanoGPT's configurator, typed)."""
    cfg = TrainConfig()
    types = {f.name: f.type for f in fields(TrainConfig)}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            sys.exit(f"expected --key=value, got {arg!r}")
        key, value = arg[2:].split("=", 1)
        if key not in types:
            sys.exit(f"unknown option --{key}; options: {', '.join(types)}")
        kind = types[key]
        if kind is bool:
            value = value.lower() in ("1", "true", "yes")
        setattr(cfg, key, kind(value))
    return cfg


if __name__ == "__main__":
    train(parse_args(sys.argv[1:]))
