"""Training throughput of labpath's reference GPT (labs/gpt2/solution/model.py).

Runs a few AdamW steps of each configuration, side by side in one run, and prints
tokens per second: run.py's default next to nanoGPT's published shakespeare_char
settings (the README's CPU/MacBook command, and on a GPU the train_shakespeare_char.py
config). On CUDA the steps use bf16 autocast, like run.py. The data are random tokens:
throughput does not depend on them.

    python benchmarks/gpt2_train.py [--steps 10] [--threads N] [--compile]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import torch

MODEL = (
    Path(__file__).resolve().parents[1]
    / "labpath"
    / "labs"
    / "gpt2"
    / "solution"
    / "model.py"
)

# name: (GPTConfig fields, batch size, run on CPU too)
CONFIGS = {
    "labpath run.py default (code, 96 chars)": (
        dict(
            block_size=64, vocab_size=96, n_layer=4, n_head=4, n_embd=128, dropout=0.0
        ),
        12,
        True,
    ),
    "nanoGPT shakespeare_char, CPU command": (
        dict(
            block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128, dropout=0.0
        ),
        12,
        True,
    ),
    "nanoGPT train_shakespeare_char.py (GPU)": (
        dict(
            block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384, dropout=0.2
        ),
        64,
        False,
    ),
}


def load_reference():
    spec = importlib.util.spec_from_file_location("gpt2_reference_model", MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def throughput(
    ref, cfg: dict, batch: int, device: str, steps: int, warmup: int, compile_: bool
):
    """Tokens per second of forward + backward + AdamW step, after warmup steps."""
    torch.manual_seed(0)
    model = ref.GPT(ref.GPTConfig(**cfg, bias=True)).to(device).train()
    step_model = torch.compile(model) if compile_ and device == "cuda" else model
    opt = torch.optim.AdamW(
        model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1
    )
    T, V = cfg["block_size"], cfg["vocab_size"]
    x = torch.randint(V, (batch, T), device=device)
    y = torch.randint(V, (batch, T), device=device)
    amp = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if device == "cuda"
        else torch.autocast(device_type="cpu", enabled=False)
    )

    def step():
        with amp:
            _, loss = step_model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters())
    return params, batch * T * steps / dt, 1000 * dt / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (default: torch's)"
    )
    ap.add_argument("--compile", action="store_true", help="torch.compile on CUDA")
    ap.add_argument(
        "--gpu-config-on-cpu",
        action="store_true",
        help="also time the (slow) GPU config on the CPU",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ref = load_reference()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"labpath reference GPT, torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
        + (
            f", GPU {torch.cuda.get_device_name(0)}"
            if "cuda" in devices
            else ", no GPU"
        )
    )
    print(
        f"{'configuration':42} {'device':9} {'params':>11} {'tok/step':>9} {'ms/step':>9} {'tokens/s':>11}"
    )
    for device in devices:
        for name, (cfg, batch, on_cpu) in CONFIGS.items():
            if device == "cpu" and not (on_cpu or args.gpu_config_on_cpu):
                continue
            params, tps, ms = throughput(
                ref, cfg, batch, device, args.steps, args.warmup, args.compile
            )
            tag = device + ("+bf16" if device == "cuda" else "")
            print(
                f"{name:42} {tag:9} {params:>11,} {batch * cfg['block_size']:>9,} {ms:>9.1f} {tps:>11,.0f}"
            )


if __name__ == "__main__":
    main()
