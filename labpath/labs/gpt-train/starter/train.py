"""
Lab - gpt-train: train the GPT of the gpt2 lab on a token corpus written by prepare.py, nanoGPT-style.

Goal: the training loop that long runs need, and nothing hidden: AdamW with weight
decay on matrices only, linear warmup then cosine decay to min_lr, gradient
accumulation, clipping after accumulation, periodic evaluation, checkpoints that hold
everything a run depends on (model, optimizer, iteration, RNG and data generator
states) so that a resumed run is bit for bit the run that never stopped, and the same
file running on several processes with DistributedDataParallel under torchrun.

    python train.py --dataset=data --max_iters=2000            # one process
    torchrun --standalone --nproc_per_node=2 train.py --backend=gloo --device=cpu
    torchrun --standalone --nproc_per_node=8 train.py --backend=nccl --device=cuda

Read README.md in this folder first; check your work with `labpath check gpt-train`.
Every gap below is marked TODO and raises NotImplementedError until you fill it in.

References:
- karpathy/nanoGPT train.py and model.py (configure_optimizers): the names of the config,
  the schedule and the DDP set-up this file follows.
- karpathy/build-nanogpt train_gpt2.py and "Let's reproduce GPT-2 (124M)": gradient
  accumulation by dividing the loss, no_sync until the last micro-step, bf16 autocast.
- Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization" (AdamW);
  Loshchilov & Hutter 2017, "SGDR" (cosine schedule).
- PyTorch docs: DistributedDataParallel.no_sync, torch.distributed.run (torchrun).
"""

import math  # noqa: F401  (you will need it)
import os  # noqa: F401  (you will need it)
import pickle  # noqa: F401  (you will need it)
import random  # noqa: F401  (you will need it)
import sys
import time  # noqa: F401  (you will need it)
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields  # noqa: F401  (you will need it)
from pathlib import Path

import numpy as np  # noqa: F401  (you will need it)
import torch
import torch.distributed as dist  # noqa: F401  (you will need it)
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: F401  (you will need it)

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


def get_lr(it, cfg):
    # TODO: linear warmup for it < cfg.warmup_iters (learning_rate * (it + 1) /
    # (warmup_iters + 1) never gives 0 at it 0), min_lr for it > lr_decay_iters, and in
    # between a cosine from learning_rate down to min_lr (not down to 0).
    raise NotImplementedError("get_lr")


def configure_optimizers(model, weight_decay, learning_rate, betas, device_type):
    # TODO: torch.optim.AdamW with two parameter groups: every parameter with
    # p.dim() >= 2 (embeddings, Linear weights) with weight_decay, the rest (biases,
    # LayerNorm weights) with 0.0. The tied wte / lm_head matrix is one tensor: list it
    # once. fused=True is available (and faster) on CUDA.
    raise NotImplementedError("configure_optimizers")


def get_batch(data, block_size, batch_size, device, generator):
    # TODO: batch_size random offsets i drawn with torch.randint(..., generator=generator)
    # so that the last window's y still ends inside data; x[b] = data[i : i + T] and
    # y[b] = data[i + 1 : i + 1 + T], both int64 (B, T), moved to device.
    raise NotImplementedError("get_batch")


@torch.no_grad()
def estimate_loss(model, splits, eval_iters, batch_size, block_size, ctx, generator):
    # TODO: {name: mean loss over eval_iters batches of data} for each split in
    # splits, with dropout off during the evaluation and the model back in train mode
    # afterwards. Batches from get_batch(..., generator); forward inside `with ctx:`.
    raise NotImplementedError("estimate_loss")


def train_step(model, optimizer, batches, grad_clip, scaler=None, ctx=nullcontext()):
    # TODO: one optimizer step over the micro-batches: for each (x, y) the forward
    # under ctx, loss / len(batches), backward (scaler.scale(loss) when a scaler is
    # given); under DDP (isinstance(model, DDP)) all but the last backward inside
    # model.no_sync(). Then (scaler.unscale_ first) clip the global norm to grad_clip
    # unless it is 0, step (scaler.step(optimizer), then scaler.update()), zero the
    # grads. Return {"loss": mean loss, "grad_norm": the norm before clipping}.
    raise NotImplementedError("train_step")


def save_checkpoint(path, model, optimizer, iter_num, best_val_loss, model_args, config, rng_state):
    # TODO: torch.save a dict with "model" (the plain model's state_dict: unwrap
    # DDP's .module and torch.compile's ._orig_mod), "optimizer", "model_args",
    # "iter_num", "best_val_loss", "config" and "rng_state".
    raise NotImplementedError("save_checkpoint")


def load_checkpoint(path, device):
    # TODO: torch.load(path, map_location=device, weights_only=False), with the
    # "_orig_mod." and "module." prefixes stripped from the model's keys.
    raise NotImplementedError("load_checkpoint")


def train(cfg):
    # TODO: the loop; see the brief's Steps. In order: DDP set-up when RANK is set
    # (init_process_group(cfg.backend), gradient_accumulation_steps // world size);
    # seeds (the same model on every rank, a data generator seeded cfg.seed + rank);
    # np.memmap the .bin files (uint16) and read vocab_size from meta.pkl; build
    # GPT(GPTConfig(...)) (from model import GPT, GPTConfig) or load out_dir/ckpt.pt
    # when cfg.init_from == "resume" (model, optimizer, iter_num, best_val_loss, and
    # the RNG states last); wrap in DDP. Each iteration: set the lr from get_lr;
    # every eval_interval steps (and at the end) estimate_loss, keep the lowest val
    # loss as best_val_loss and save a checkpoint with every RNG state; then
    # train_step on the micro-batches. Save a checkpoint at the end. Return
    # {"iter_num", "best_val_loss", "losses" (one per step run), "evals" (a
    # {"iter", "train", "val"} dict per evaluation), "tokens", "seconds"}.
    raise NotImplementedError("train")


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
