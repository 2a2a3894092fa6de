"""`labpath run gpt2` against nanoGPT's own train.py, and the reference GPT against
nanoGPT's model.py: side by side, in one run, on the same data and steps.

    python benchmarks/gpt2_vs_nanogpt.py --nanogpt DIR [--steps 300] [--rounds 2]

DIR is a checkout of karpathy/nanoGPT (model.py, train.py, configurator.py and
config/train_shakespeare_char.py); nothing is downloaded. Both trainers get nanoGPT's
CPU command from its README (that config, then block 64, batch 12, 4 layers, 4 heads,
n_embd 128, dropout 0, no compile, eval_iters 20) on
the same text (the first MB of Python's standard library, one token per character),
with evaluations every --eval-every steps. `labpath run gpt2` trains nanoGPT's own
model.py as the learner's code, with --no-experiment.

Rows (runs alternate, the best of --rounds kept):
1. training tokens/s as each trainer times it (nanoGPT: its per-iteration `time`,
   evaluation iterations left out; labpath: the same span, in gpt2-figures.json),
   and each whole process's wall and CPU time (the labpath CLI included), at the
   same thread count for both (OMP_NUM_THREADS), then each at its own default.
   Goals: labpath >= 1.0x nanoGPT's tokens/s; CPU <= 1.1x.
2. forward + backward + AdamW tokens/s of labpath's reference model.py against
   nanoGPT's model.py, one thread, interleaved in one process. Goal: >= 0.95x.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPT2 = ROOT / "labpath" / "labs" / "gpt2"
CONFIG = dict(block_size=64, batch_size=12, n_layer=4, n_head=4, n_embd=128)
NANOGPT_FILES = (
    "model.py",
    "train.py",
    "configurator.py",
    "config/train_shakespeare_char.py",
)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(tmp: Path, nanogpt: Path, max_bytes: int) -> tuple[Path, Path]:
    """The text for labpath, the same text encoded the same way for nanoGPT."""
    import numpy as np

    run = load(GPT2 / "run.py", "gpt2_run")
    text, _ = run.stdlib_corpus(max_bytes)
    text_file = tmp / "input.txt"
    text_file.write_text(text, encoding="utf-8")
    tok = run.CharTokenizer(text)
    ids = np.array(tok.encode(text), dtype=np.uint16)
    n = int(0.9 * len(ids))  # labpath's split
    data = tmp / "data" / "bench"
    data.mkdir(parents=True)
    ids[:n].tofile(data / "train.bin")
    ids[n:].tofile(data / "val.bin")
    meta = {"vocab_size": tok.vocab_size, "itos": dict(enumerate(tok.chars))}
    (data / "meta.pkl").write_bytes(pickle.dumps(meta))
    (tmp / "config").mkdir()
    for name in NANOGPT_FILES:
        shutil.copy(nanogpt / name, tmp / name)
    learner = tmp / "learner"
    learner.mkdir()
    shutil.copy(nanogpt / "model.py", learner / "model.py")
    return text_file, learner


def measured(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, every child included) and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(
            f"{' '.join(cmd[:3])} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, proc.stdout


def nanogpt_run(tmp: Path, args, env: dict) -> dict:
    cmd = [
        sys.executable,
        "train.py",
        "config/train_shakespeare_char.py",  # as the README's CPU command
        "--dataset=bench",
        "--device=cpu",
        "--compile=False",
        f"--eval_iters={args.eval_iters}",
        f"--eval_interval={args.eval_every}",
        "--log_interval=1",
        f"--max_iters={args.steps - 1}",  # iterations 0..max_iters: `steps` of them
        f"--lr_decay_iters={args.steps}",
        "--dropout=0.0",
        "--bias=True",  # labpath's run builds the model with biases, as GPT-2 has
        "--always_save_checkpoint=False",
        f"--out_dir={tmp / 'nanogpt-out'}",
        *(f"--{k}={v}" for k, v in CONFIG.items()),
    ]
    wall, cpu, out = measured(cmd, tmp, env)
    times = [
        (int(m[1]), float(m[2]))
        for m in re.finditer(r"^iter (\d+): loss [\d.]+, time ([\d.]+)ms", out, re.M)
    ]
    train = [ms for i, ms in times if i % args.eval_every != 0]  # evals left out
    tokens = CONFIG["batch_size"] * CONFIG["block_size"]
    threads = re.search(r"^THREADS (\d+)", out, re.M)
    return {
        "tps": tokens * len(train) / (sum(train) / 1000),
        "wall": wall,
        "cpu": cpu,
        "steps": len(times),
        "threads": int(threads[1])
        if threads
        else env.get("OMP_NUM_THREADS", "default"),
    }


def labpath_run(tmp: Path, text: Path, learner: Path, args, env: dict, n: int) -> dict:
    out = tmp / f"labpath-out-{n}"
    cmd = [
        shutil.which("labpath") or sys.executable,
        *([] if shutil.which("labpath") else ["-m", "labpath"]),
        "run",
        "gpt2",
        "--path",
        str(learner),
        "--data",
        str(text),
        "--steps",
        str(args.steps),
        "--eval-every",
        str(args.eval_every),
        "--eval-iters",
        str(args.eval_iters),
        "--device",
        "cpu",
        "--no-experiment",
        "--out",
        str(out),
        *(f"--{k.replace('_', '-')}={v}" for k, v in CONFIG.items()),
    ]
    wall, cpu, _ = measured(cmd, tmp, env)
    training = json.loads((out / "gpt2-figures.json").read_text())["training"]
    return {
        "tps": training["tokens_per_second"],
        "wall": wall,
        "cpu": cpu,
        "steps": training["steps"],
        "threads": training["threads"],
    }


def trainers(args, tmp: Path, text: Path, learner: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    base.update(NO_COLOR="1", LABPATH_HOME=str(tmp / "ws"), PYTHONUNBUFFERED="1")
    settings = [(f"{t} thread(s) each", {"OMP_NUM_THREADS": str(t)}) for t in (1, 2)]
    settings.append(("each at its default", {}))
    print(
        f"\nnanoGPT train.py vs labpath run gpt2 (nanoGPT's model.py as your code), "
        f"{args.steps} steps, eval every {args.eval_every} x {args.eval_iters}, "
        f"best of {args.rounds}"
    )
    print(
        f"{'threads':22} {'trainer':18} {'threads':>7} {'train tok/s':>12} "
        f"{'wall s':>8} {'CPU s':>8}   ratio (labpath / nanoGPT)"
    )
    n = 0
    for label, extra in settings:
        env = {**base, **extra}
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            for name in ("nanoGPT", "labpath"):
                n += 1
                r = (
                    nanogpt_run(tmp, args, env)
                    if name == "nanoGPT"
                    else labpath_run(tmp, text, learner, args, env, n)
                )
                old = best.get(name)
                best[name] = {
                    "tps": max(r["tps"], old["tps"]) if old else r["tps"],
                    "wall": min(r["wall"], old["wall"]) if old else r["wall"],
                    "cpu": min(r["cpu"], old["cpu"]) if old else r["cpu"],
                    "threads": r["threads"],
                }
        nano, lab = best["nanoGPT"], best["labpath"]
        for name, r in best.items():
            ratio = ""
            if name == "labpath":
                ratio = (
                    f"tok/s {lab['tps'] / nano['tps']:.2f}x (goal >= 1.0), "
                    f"CPU {lab['cpu'] / nano['cpu']:.2f}x (goal <= 1.1), "
                    f"wall {lab['wall'] / nano['wall']:.2f}x"
                )
            print(
                f"{label:22} {name:18} {r['threads']!s:>7} {r['tps']:>12,.0f} "
                f"{r['wall']:>8.1f} {r['cpu']:>8.1f}   {ratio}"
            )


def models(args, nanogpt: Path) -> None:
    import torch

    torch.set_num_threads(1)
    ref = load(GPT2 / "solution" / "model.py", "labpath_reference_model")
    nano = load(nanogpt / "model.py", "nanogpt_model")
    cfg = dict(
        block_size=CONFIG["block_size"],
        vocab_size=96,
        n_layer=CONFIG["n_layer"],
        n_head=CONFIG["n_head"],
        n_embd=CONFIG["n_embd"],
        dropout=0.0,
        bias=True,
    )
    B, T = CONFIG["batch_size"], CONFIG["block_size"]
    x = torch.randint(96, (B, T))
    y = torch.randint(96, (B, T))
    runs = {}
    for name, module in (("labpath reference", ref), ("nanoGPT model.py", nano)):
        torch.manual_seed(0)
        model = module.GPT(module.GPTConfig(**cfg))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
        runs[name] = (model, opt)

    def step(model, opt):
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for model, opt in runs.values():
        for _ in range(5):
            step(model, opt)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.model_rounds):
        for name, (model, opt) in runs.items():  # interleaved: load hits both alike
            start = time.perf_counter()
            for _ in range(10):
                step(model, opt)
            best[name] = min(best[name], time.perf_counter() - start)
    tokens = 10 * B * T
    ref_tps = tokens / best["labpath reference"]
    nano_tps = tokens / best["nanoGPT model.py"]
    print(
        f"\nmodel only: forward + backward + AdamW, 1 thread, best of "
        f"{args.model_rounds} x 10 steps, interleaved"
    )
    print(f"{'labpath reference model.py':30} {ref_tps:>10,.0f} tok/s")
    print(
        f"{'nanoGPT model.py':30} {nano_tps:>10,.0f} tok/s   "
        f"ratio {ref_tps / nano_tps:.3f}x (goal >= 0.95)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nanogpt", type=Path, required=True, help="a nanoGPT checkout")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-iters", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model-rounds", type=int, default=20)
    ap.add_argument("--max-bytes", type=int, default=1_000_000)
    ap.add_argument("--skip-trainers", action="store_true")
    args = ap.parse_args()
    missing = [n for n in NANOGPT_FILES if not (args.nanogpt / n).is_file()]
    if missing:
        sys.exit(
            f"{args.nanogpt} lacks {', '.join(missing)}: point at a nanoGPT checkout"
        )
    models(args, args.nanogpt)
    if not args.skip_trainers:
        with tempfile.TemporaryDirectory() as tmp:
            text, learner = prepare(Path(tmp), args.nanogpt, args.max_bytes)
            trainers(args, Path(tmp), text, learner)


if __name__ == "__main__":
    main()
