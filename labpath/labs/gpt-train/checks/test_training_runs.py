"""Checks of whole runs of your train(): exact resume in a fresh process, and DDP under torchrun.

Both run your code in new interpreters through worker.py (one thread each), on a token
file the check writes, with your GPT at the checks' tiny size.
"""

import json
import random
from pathlib import Path

import numpy as np
import torch
from conftest import code_paths, run_python
from test_train import TINY, make_dataset

from labpath.checks import kit

WORKER = str(Path(__file__).resolve().parent / "worker.py")


def spec_file(folder, name, paths, config, **extra):
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"paths": paths, "config": config, "out": str(folder / name), **extra}))
    return str(path)


def first_difference(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)


@kit.after("test_checkpoint_holds_the_whole_run_state", "test_batches_are_windows_with_targets_shifted_by_one")
def test_resume_is_bit_exact_in_a_fresh_process(train, gpt, tmp_path):
    """20 steps straight == 10 steps, checkpoint, a new process that resumes and runs 10 more (torch.equal)."""
    data = make_dataset(tmp_path / "data")
    paths = code_paths(train, gpt)
    base = dict(TINY, dataset=str(data), max_iters=20, eval_interval=5, eval_iters=2, dropout=0.1,
                gradient_accumulation_steps=2, learning_rate=3e-3, warmup_iters=3, lr_decay_iters=20,
                min_lr=3e-4, seed=kit.seed())
    straight = train.train(train.TrainConfig(**dict(base, out_dir=str(tmp_path / "a"))))
    first = train.train(train.TrainConfig(**dict(base, out_dir=str(tmp_path / "b"), max_iters=10)))
    np_state, py_state = np.random.get_state(), random.getstate()  # where the checkpoint left them
    run_python([WORKER, spec_file(tmp_path, "resume", paths,
                                  dict(base, out_dir=str(tmp_path / "b"), init_from="resume"))],
               120, "the resumed run (train() with init_from='resume' in a new process)",
               errors=str(tmp_path / "resume.rank*.error"))
    saved = torch.load(tmp_path / "resume.rank0.pt", weights_only=False)
    resumed = saved["result"]
    a_losses = [float(v) for v in straight["losses"]]
    b_losses = [float(v) for v in first["losses"]][-10:] + [float(v) for v in resumed["losses"]][-10:]
    if len(a_losses) != 20 or len(b_losses) != 20:
        kit.fail("train() must return the loss of each step it ran under 'losses'",
                 yours=(len(straight["losses"]), len(first["losses"]), len(resumed["losses"])),
                 expected=(20, 10, 10), hint="a resumed run starts at the checkpoint's iter_num")
    at = first_difference(a_losses, b_losses)
    a = train.load_checkpoint(str(tmp_path / "a" / "ckpt.pt"), "cpu")
    b = train.load_checkpoint(str(tmp_path / "b" / "ckpt.pt"), "cpu")
    if at is not None:
        kit.fail(f"the resumed run's loss differs from the straight run's at step {at + 1}",
                 yours=b_losses[at], expected=a_losses[at],
                 diagnosis=f"resumed run diverges at step {at + 1}: save the RNG states" if at == 10 else None,
                 hint="save and restore torch's RNG state and the data generator's (generator.get_state()), "
                      "the optimizer state and iter_num; restore the RNG last, after building the model")
    if a["iter_num"] != 20 or b["iter_num"] != 20:
        kit.fail("the final checkpoints' iter_num", yours=(a["iter_num"], b["iter_num"]), expected=(20, 20),
                 hint="save a checkpoint when the loop ends, with the iter_num to continue from")
    if not (np.array_equal(saved["numpy"][1], np_state[1]) and saved["numpy"][2] == np_state[2]):
        kit.fail("after the resume numpy's global RNG is not where the checkpoint left it",
                 hint="save np.random.get_state() in rng_state and restore it with np.random.set_state()")
    if saved["python"] != py_state:
        kit.fail("after the resume Python's random module is not where the checkpoint left it",
                 hint="save random.getstate() in rng_state and restore it with random.setstate()")
    for k, v in a["model"].items():
        if not torch.equal(v, b["model"][k]):
            kit.fail(f"after 20 steps the weights differ between the straight and the resumed run ({k})",
                     yours=f"max diff {float((v - b['model'][k]).abs().max()):.3g}", expected="0 (bit-exact)",
                     hint="restore the optimizer's state_dict too: Adam's moments are part of the run")


@kit.after("test_checkpoint_holds_the_whole_run_state")
def test_command_line_flags_set_the_config(train, gpt, tmp_path):
    """python train.py --key=value ...: the flags reach TrainConfig (the brief's commands work)."""
    data = make_dataset(tmp_path / "data")
    out = tmp_path / "out"
    flags = dict(dataset=data, out_dir=out, max_iters=2, eval_interval=1, eval_iters=1, n_layer=1, n_head=2,
                 n_embd=12, block_size=8, batch_size=2, bias=False, compile=False, device="cpu",
                 dtype="float32", learning_rate=0.01, seed=kit.seed())
    run_python([str(Path(train.__file__).resolve()), *(f"--{k}={v}" for k, v in flags.items())], 120,
               "python train.py --dataset=... --max_iters=2 --n_embd=12 ...", path=code_paths(train, gpt),
               hint="parse --key=value flags over TrainConfig's defaults and call train(cfg) under "
                    "`if __name__ == '__main__':`")
    if not (out / "ckpt.pt").is_file():
        kit.fail("python train.py --out_dir=OUT --max_iters=2 wrote no OUT/ckpt.pt",
                 hint="save a checkpoint when the loop ends")
    ckpt = train.load_checkpoint(str(out / "ckpt.pt"), "cpu")
    args = ckpt["model_args"]
    got = (args.get("n_layer"), args.get("n_embd"), args.get("block_size"), bool(args.get("bias")), ckpt["iter_num"])
    if got != (1, 12, 8, False, 2):
        kit.fail("the flags did not reach the run (n_layer, n_embd, block_size, bias, iter_num)", yours=got,
                 expected=(1, 12, 8, False, 2),
                 diagnosis="--bias=False came out True: bool('False') is True" if got[:4] == (1, 12, 8, True)
                 else None,
                 hint="every --key=value sets the TrainConfig field of that name; a bool flag's "
                      "False/false/0 is False (nanoGPT's configurator: ast.literal_eval)")


def torchrun(spec, what):
    run_python(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", WORKER, spec], 150, what,
               errors=spec.replace(".json", ".rank*.error"),
               hint="under torchrun: init_process_group(cfg.backend); on the CPU the device stays cfg.device "
                    "(cuda:{LOCAL_RANK} only when cfg.device is cuda); DDP(model) without device_ids on the CPU",
               stuck="the runs are a few tiny steps, so a process is waiting: a collective (all_gather_object, "
                     "broadcast_object_list, all_reduce) that only some ranks reach waits for ever; every rank must "
                     "take rank 0's save decision (broadcast it) and reach the same calls")


@kit.after("test_accumulated_step_equals_one_big_batch", "test_train_steps_at_the_scheduled_lr")
def test_ddp_with_two_processes_equals_one_with_twice_the_accumulation(train, gpt, tmp_path):
    """torchrun --nproc_per_node=2 (gloo, CPU), 2 steps then a resume for a 3rd: ranks equal after every step, and equal to 1 process over both ranks' batches."""
    data = make_dataset(tmp_path / "data")
    paths = code_paths(train, gpt)
    k = 4  # micro-steps per optimizer step, over both processes
    # evaluating at every step with always_save_checkpoint off: rank 0 decides whether to save
    config = dict(TINY, dataset=str(data), out_dir=str(tmp_path / "out"), max_iters=2, eval_interval=1,
                  eval_iters=1, always_save_checkpoint=False, gradient_accumulation_steps=k, learning_rate=1e-2,
                  warmup_iters=1, lr_decay_iters=3, min_lr=1e-3, grad_clip=1.0, weight_decay=0.1, beta1=0.9,
                  beta2=0.95, backend="gloo", seed=kit.seed())
    torchrun(spec_file(tmp_path, "ddp", paths, config, record=True, float64=True),
             "torchrun --standalone --nproc_per_node=2 worker.py (your train() under DDP, gloo, max_iters=2)")
    torchrun(spec_file(tmp_path, "resume", paths, dict(config, init_from="resume", max_iters=3), record=True,
                       float64=True),
             "torchrun --standalone --nproc_per_node=2 worker.py (your train() under DDP with init_from='resume', "
             "max_iters=3)")
    first = [torch.load(tmp_path / f"ddp.rank{r}.pt", weights_only=False) for r in (0, 1)]
    again = [torch.load(tmp_path / f"resume.rank{r}.pt", weights_only=False) for r in (0, 1)]
    for r, (a, b) in enumerate(zip(first, again)):
        if len(a["steps"]) != 2:
            kit.fail(f"rank {r} ran {len(a['steps'])} optimizer steps through train_step with max_iters=2",
                     expected=2, hint="train() must call train_step(model, optimizer, batches, grad_clip, scaler, ctx)")
        if len(b["steps"]) != 1:
            kit.fail(f"resumed at step 2 with max_iters=3, rank {r} ran {len(b['steps'])} optimizer steps",
                     expected=1, hint="a resumed run starts at the checkpoint's iter_num")
        per = [len(s["batches"]) for s in a["steps"] + b["steps"]]
        if per != [k // 2] * 3:
            kit.fail(f"with gradient_accumulation_steps={k} on 2 processes rank {r} ran {per} micro-steps",
                     expected=[k // 2] * 3, diagnosis="accumulation steps not divided by the world size",
                     hint="gradient_accumulation_steps //= world_size: the setting is the total over processes")
        result, want = a["result"], 2 * k * config["batch_size"] * config["block_size"]
        if isinstance(result, dict) and "tokens" in result and result["tokens"] != want:
            kit.fail(f"rank {r}: train()'s 'tokens' is not the number of tokens both processes trained on",
                     yours=result["tokens"], expected=want,
                     hint="per optimizer step: accumulation per process x world size x batch x block")
    steps = [first[r]["steps"] + again[r]["steps"] for r in (0, 1)]
    resumed_at = len(first[0]["steps"])  # the index of the first step after the resume
    cfg = train.TrainConfig(**dict(config, max_iters=3))
    for it, s in enumerate(steps[0]):
        lr = float(train.get_lr(it, cfg))
        if abs(s["lr"] - lr) > 1e-12 + 1e-9 * lr:
            kit.fail(f"under torchrun the optimizer's lr at step {it}", yours=s["lr"], expected=lr,
                     hint="set every param group's lr to get_lr(iter_num, cfg) before each step, after a resume too")
    for r in (0, 1):
        for name, p in again[r]["init"].items():
            if not torch.equal(p, first[0]["steps"][-1]["params"][name]):
                kit.fail(f"rank {r} resumed under torchrun from other weights than the checkpoint's ({name})",
                         hint="with init_from='resume' every rank loads out_dir/ckpt.pt before wrapping the model in DDP")
    for step, (s0, s1) in enumerate(zip(*steps)):
        if all(torch.equal(a[0], b[0]) for a, b in zip(s0["batches"], s1["batches"])):
            resumed = step >= resumed_at  # the steps before it drew different batches, or this failed there
            kit.fail(f"at step {step + 1} both ranks drew the same micro-batches: the second process adds no data",
                     diagnosis="after the resume both ranks drew the same batches" if resumed
                     else "both ranks saw the same batches",
                     hint="the checkpoint must keep every rank's data generator state (gather them with "
                     "dist.all_gather_object) and each rank restore its own" if resumed else
                     "seed each rank's data generator differently: torch.Generator().manual_seed(seed + rank)")
        want = [False] * (k // 2 - 1) + [True]
        for r, s in ((0, s0), (1, s1)):
            if s["sync"] and s["sync"] != want:
                kit.fail(f"rank {r}, step {step + 1}: DDP synchronised the gradients at micro-steps {s['sync']}",
                         expected=want, diagnosis="gradients all-reduced on every micro-step",
                         hint="wrap all but the last micro-step in model.no_sync()")
        for name, p0 in s0["params"].items():
            if not torch.equal(p0, s1["params"][name]):
                kit.fail(f"after step {step + 1} the two ranks hold different {name}",
                         yours=f"max diff {float((p0 - s1['params'][name]).abs().max()):.3g}", expected=0,
                         hint="wrap the model in DistributedDataParallel and step through the wrapper")
    # the reference: one process, your train_step on both ranks' batches (twice the accumulation)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=67, block_size=config["block_size"], n_layer=config["n_layer"],
                                  n_head=config["n_head"], n_embd=config["n_embd"], dropout=0.0, bias=True))
    model = model.double()
    model.load_state_dict(first[0]["init"])
    opt = train.configure_optimizers(model, 0.1, config["learning_rate"], (0.9, 0.95), "cpu")
    for step, (s0, s1) in enumerate(zip(*steps)):
        for group in opt.param_groups:
            group["lr"] = s0["lr"]
        train.train_step(model, opt, s0["batches"] + s1["batches"], config["grad_clip"])
        after = " (the first after the resume)" if step == resumed_at else ""
        for name, p in model.state_dict().items():
            kit.close(s0["params"][name], p, f"{name} after step {step + 1}{after}: 2 processes x {k // 2} "
                      f"micro-steps vs 1 process x {k} micro-steps on the same batches", rtol=1e-9, atol=1e-12,
                      hint="restore the optimizer's state_dict on a resume: Adam's moments are part of the run"
                      if step == resumed_at else "the loss of each micro-step is divided by the per-process accumulation; "
                      "DDP averages over processes")
