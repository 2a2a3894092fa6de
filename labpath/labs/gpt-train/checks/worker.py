"""Run your train() in a fresh process (or under torchrun) and write what it did to a file.

    python worker.py SPEC.json        # SPEC: {"paths": [...], "config": {...}, "out": "...",
                                      #        "record": true}

With "record", train_step and DistributedDataParallel.forward are wrapped before train()
runs, so the file also holds, per optimizer step, the micro-batches this process drew,
the learning rate, whether DDP was to synchronise at each forward, and the weights after
the step. Nothing here changes what your code computes.
"""

import json
import os
import sys

import torch

spec = json.load(open(sys.argv[1]))
sys.path[:0] = spec["paths"]
torch.set_num_threads(1)
if spec.get("float64"):
    torch.set_default_dtype(torch.float64)

import model  # noqa: E402,F401  (the GPT train.py imports)
import train  # noqa: E402

rank = int(os.environ.get("RANK", 0))
steps, init = [], {}
if spec.get("record"):
    from torch.nn.parallel import DistributedDataParallel as DDP

    syncs = []
    ddp_forward = DDP.forward

    def forward(self, *args, **kwargs):
        syncs.append(bool(self.require_backward_grad_sync))
        return ddp_forward(self, *args, **kwargs)

    DDP.forward = forward

    def plain(m):
        while hasattr(m, "module") or hasattr(m, "_orig_mod"):
            m = getattr(m, "module", None) or m._orig_mod
        return m

    inner = train.train_step

    def train_step(model, optimizer, batches, *args, **kwargs):
        if not init:
            init.update({k: v.detach().clone() for k, v in plain(model).state_dict().items()})
        lr = optimizer.param_groups[0]["lr"]
        del syncs[:]
        out = inner(model, optimizer, batches, *args, **kwargs)
        steps.append({"batches": [(x.clone(), y.clone()) for x, y in batches], "lr": lr, "sync": list(syncs),
                      "params": {k: v.detach().clone() for k, v in plain(model).state_dict().items()},
                      "loss": float(out["loss"])})
        return out

    train.train_step = train_step

cfg = train.TrainConfig(**spec["config"])
try:
    result = train.train(cfg)
except BaseException:
    # the check shows this process's own traceback, not torchrun's summary of it
    import traceback

    with open(f"{spec['out']}.rank{rank}.error", "w") as f:
        f.write(traceback.format_exc())
    raise
import random  # noqa: E402

import numpy as np  # noqa: E402

torch.save({"result": result, "steps": steps, "init": init, "rank": rank,
            "numpy": np.random.get_state(), "python": random.getstate(),
            "world": int(os.environ.get("WORLD_SIZE", 1))}, f"{spec['out']}.rank{rank}.pt")
