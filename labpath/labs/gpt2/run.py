"""Train your GPT on real text, then see why it fails on contexts longer than it was trained on.

Usage (from the repository root; LABPATH_TARGET is the folder holding your model.py):

    LABPATH_TARGET=path/to/your/gpt2 python labpath/labs/gpt2/run.py --sample 300

Without --data the corpus is Python's own standard library: a fixed, sorted set of its
*.py files, so the model is "a GPT on code". Tokens are characters. Writes to --out:
gpt2-loss.png (train/val loss), gpt2-context.png (loss per position past block_size)
and gpt2-figures.json (every number printed at the end).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import sysconfig
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.nn import functional as F

try:
    from labpath.checks import kit, protocol
except ImportError:  # run as a plain script from a checkout: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from labpath.checks import kit, protocol

SOLUTION = Path(__file__).resolve().parent / "solution"
SKIP_DIRS = {
    "test",
    "tests",
    "idlelib",
    "site-packages",
    "dist-packages",
    "__pycache__",
}


# --- data --------------------------------------------------------------------------


def stdlib_corpus(max_bytes: int) -> tuple[str, str]:
    """Concatenate the standard library's *.py files in sorted order up to max_bytes."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        p for p in root.rglob("*.py")
        if not SKIP_DIRS.intersection(p.relative_to(root).parts[:-1])
    )
    parts, size, used = [], 0, 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(text)
        size += len(text)
        used += 1
        if size >= max_bytes:
            break
    text = "".join(parts)[:max_bytes]
    where = f"{used} *.py files of the Python {sys.version.split()[0]} standard library ({root})"
    return text, where


class CharTokenizer:
    """One token per distinct character of the corpus (sorted, so the ids are stable)."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        return [self.stoi[c] for c in text if c in self.stoi]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def get_batch(
    data: torch.Tensor, block_size: int, batch_size: int, gen: torch.Generator
):
    """batch_size random windows: x is block_size tokens, y the same window one to the right."""
    ix = torch.randint(len(data) - block_size - 1, (batch_size,), generator=gen)
    x = torch.stack([data[i : i + block_size] for i in ix])
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in ix])
    return x, y


# --- training ----------------------------------------------------------------------


def learning_rate(step: int, args) -> float:
    """Linear warmup, then cosine decay to lr / 10 (nanoGPT's schedule)."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr / 10 + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (
        args.lr - args.lr / 10
    )


def make_optimizer(model, args):
    """AdamW with weight decay on matrices only (embeddings and Linear weights)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.99))


def autocast(device: str):
    if device == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type="cpu", enabled=False)


@torch.no_grad()
def estimate_loss(model, splits, args, device, gen):
    model.eval()
    out = {}
    for name, data in splits.items():
        losses = []
        for _ in range(args.eval_iters):
            x, y = get_batch(data, args.block_size, args.batch_size, gen)
            with autocast(device):
                _, loss = model(x.to(device), y.to(device))
            losses.append(float(loss))
        out[name] = sum(losses) / len(losses)
    model.train()
    return out


# --- the experiment: contexts longer than block_size -------------------------------


@torch.no_grad()
def loss_per_position(model, data, length, n_seq, device, gen):
    """Mean cross-entropy at each position 0..length-1 over n_seq windows of val data."""
    x, y = get_batch(data, length, n_seq, gen)
    logits, _ = model(x.to(device), y.to(device))  # targets given: (B, length, V)
    V = logits.size(-1)
    ce = F.cross_entropy(
        logits.float().reshape(-1, V), y.to(device).reshape(-1), reduction="none"
    )
    return ce.view(n_seq, length).mean(0).cpu(), x, y


@torch.no_grad()
def sliding_window_loss(model, x, y, T, device):
    """Loss at positions T..2T-1 when each prediction sees only its last T tokens (as generate does)."""
    out = []
    for p in range(T, x.size(1)):
        xs, ys = (
            x[:, p - T + 1 : p + 1].contiguous(),
            y[:, p - T + 1 : p + 1].contiguous(),
        )
        logits, _ = model(xs.to(device), ys.to(device))
        out.append(float(F.cross_entropy(logits[:, -1].float(), y[:, p].to(device))))
    return torch.tensor(out)


def extended_model(gpt, trained, cfg: dict, fill: str, device):
    """A GPT with block_size 2T: the trained weights, wpe rows 0..T-1 trained, rows T..2T-1 new.

    fill="random": the new rows keep the fresh model's N(0, 0.02) init (never trained);
    fill="zero": the new rows are 0 (no position signal at all past T).
    """
    T = cfg["block_size"]
    model = gpt.GPT(gpt.GPTConfig(**{**cfg, "block_size": 2 * T})).to(device)
    new = model.state_dict()
    sd = {}
    for k, v in trained.state_dict().items():
        if k == "transformer.wpe.weight":
            rows = new[k].clone()
            rows[:T] = v
            if fill == "zero":
                rows[T:] = 0
            sd[k] = rows
        elif k in new and new[k].shape == v.shape:
            sd[k] = v  # buffers sized by block_size (a persistent mask) keep the new model's
    model.load_state_dict(sd, strict=False)
    return model.eval()


# --- plots -------------------------------------------------------------------------


def plot_losses(history, path: Path, step_losses=None):
    """Training loss of each step (thin line, when step_losses is given: one per step from
    step 0) and the evaluations' train and val losses (markers)."""
    from labpath.plots import loss_figure

    steps = [h["step"] for h in history]
    train = {"train (each step)": (range(len(step_losses)), step_losses)} if step_losses else {}
    loss_figure(
        path,
        train=train,
        evals={"train (eval)": (steps, [h["train"] for h in history]),
               "val (eval)": (steps, [h["val"] for h in history])},
        title="GPT training loss",
        ylabel="loss (nats per character)",
    )


def plot_context(curves: dict, T: int, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=label, lw=1.5)
    ax.axvline(T - 0.5, color="k", ls="--", lw=1)
    ax.text(T, ax.get_ylim()[1] * 0.95, f" block_size = {T}", va="top")
    ax.set_xlabel("position in the sequence")
    ax.set_ylabel("val loss at that position")
    ax.set_title(f"Trained on {T} positions, evaluated on {2 * T}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main --------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--path", help="folder holding your model.py (default: $LABPATH_TARGET)"
    )
    told = protocol.decode()  # what `labpath run gpt2` passed
    ap.add_argument("--device", default=told.device or "auto",
                    choices=["auto", "cpu", "cuda", "mps"])
    ap.add_argument(
        "--data", default=told.data and str(told.data), help="any UTF-8 text file"
    )
    ap.add_argument(
        "--max-bytes", type=int, default=2_000_000, help="size of the default corpus"
    )
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=12)
    ap.add_argument("--block-size", type=int, default=64)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-iters", type=int, default=20)
    ap.add_argument(
        "--compile", action="store_true", help="torch.compile the model (CUDA only)"
    )
    ap.add_argument(
        "--sample", type=int, default=0, metavar="N", help="print N sampled characters"
    )
    ap.add_argument(
        "--out", default="gpt2-run", help="folder for the plots and the JSON"
    )
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument(
        "--no-experiment",
        action="store_true",
        help="skip the longer-context experiment after training (only train and plot)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads for torch (default: 1 on a machine with 2 cores or fewer or "
        "under load, else the idle cores, at most torch's own choice)",
    )
    return ap.parse_args(argv)


def choose_threads(
    requested: int, cores: int, load: float, torch_default: int, env: str | None = None
) -> tuple[int, str]:
    """How many CPU threads to train with, and why (printed, so the figures can be read).

    torch's default is one thread per core. On a machine that is small or busy, those
    threads wait on each other and on other processes: on two loaded cores, two threads
    ran at 790 tok/s where one ran at 9,122. So the default is deliberate: one thread
    when there are two cores or fewer, else the cores left idle by the current load.
    """
    if requested > 0:
        return requested, "--threads"
    if env and env.isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    if cores <= 2:
        return 1, f"{cores} core(s): more threads than one would contend for them"
    idle = int(cores - load)  # load average ~ cores already busy
    n = max(1, min(idle, torch_default))
    return n, f"{cores} cores, load {load:.1f}: {n} idle (--threads N to choose)"


def main(argv=None) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    args = parse_args(argv)
    console = Console(soft_wrap=not sys.stdout.isatty())  # a pipe gets whole lines
    # kit reads the spec from the environment, as in a check run: the folder and device
    spec = protocol.decode()
    if args.path:
        spec = replace(spec, target=Path(args.path).resolve())
    if spec.target is None:
        spec = replace(spec, target=SOLUTION)
        console.print(
            f"[yellow]{protocol.TARGET} is not set: training the reference solution ({SOLUTION})[/]"
        )
    os.environ.update(protocol.encode(replace(spec, device=args.device)))
    device = kit.device()
    cores = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    threads, why = choose_threads(args.threads, cores, load, torch.get_num_threads(),
                                  os.environ.get("OMP_NUM_THREADS"))
    torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    gpt = kit.learner_module("model")

    if args.data:
        text, where = (
            Path(args.data).read_text(encoding="utf-8", errors="replace"),
            args.data,
        )
    else:
        text, where = stdlib_corpus(args.max_bytes)
    tok = CharTokenizer(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}
    console.print(f"data: {len(text):,} characters from {where}; vocab {tok.vocab_size} characters; "
                  f"train {n:,} / val {len(data) - n:,} tokens")

    cfg = dict(block_size=args.block_size, vocab_size=tok.vocab_size, n_layer=args.n_layer,
               n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout, bias=True)
    model = gpt.GPT(gpt.GPTConfig(**cfg)).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    console.print(f"model: {n_params:,} parameters ({n_params - model.transformer.wpe.weight.numel():,} "
                  f"without wpe), {args.n_layer} layers, {args.n_head} heads, n_embd {args.n_embd}, "
                  f"block {args.block_size}; device {device}, {torch.get_num_threads()} CPU "
                  f"thread(s) ({why})")
    train_model = model
    if args.compile:
        if device == "cuda":
            train_model = torch.compile(model)
        else:
            console.print("[yellow]--compile is used on CUDA only; running eagerly[/]")
    opt = make_optimizer(model, args)

    history, step_losses = [], []
    train_time, tokens_seen, cpu_start = 0.0, 0, time.process_time()
    tokens_per_step = args.batch_size * args.block_size
    start = time.time()
    columns = [TextColumn("step {task.completed:>5}/{task.total}"), BarColumn(),
               TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[tps]:,.0f} tok/s"),
               TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("train", total=args.steps, loss=float("nan"), tps=0.0)
        for step in range(args.steps + 1):
            if step % args.eval_every == 0 or step == args.steps:
                losses = estimate_loss(train_model, splits, args, device, gen)
                history.append({"step": step, **losses})
                bar.console.print(
                    f"step {step:>5}: train {losses['train']:.4f}, val {losses['val']:.4f}"
                )
            if step == args.steps:
                break
            # a step's time runs from here (the batch included) to its progress update,
            # evaluations left out: what nanoGPT's train.py times per iteration
            t0 = time.time()
            for g in opt.param_groups:
                g["lr"] = learning_rate(step, args)
            x, y = get_batch(splits["train"], args.block_size, args.batch_size, gen)
            x, y = x.to(device), y.to(device)
            with autocast(device):
                _, loss = train_model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step_losses.append(loss.item())  # waits for the device, like a synchronize
            tokens_seen += tokens_per_step
            bar.update(
                task,
                advance=1,
                loss=step_losses[-1],
                tps=tokens_seen / max(train_time + time.time() - t0, 1e-9),
            )
            train_time += time.time() - t0
    wall = time.time() - start
    cpu = time.process_time() - cpu_start  # CPU seconds of this process (evals included)
    tps = tokens_seen / max(train_time, 1e-9)  # training steps only
    wall_tps = tokens_seen / max(wall, 1e-9)  # evals and progress included

    # ---- why longer contexts fail ----
    model.eval()
    T = args.block_size
    n_seq = 64
    curves, context = {}, {}
    if not args.no_experiment:
        for fill, label in (("random", "wpe rows >= T untrained (random init)"),
                            ("zero", "wpe rows >= T set to zero")):
            ext = extended_model(gpt, model, cfg, fill, device)
            g = torch.Generator().manual_seed(args.seed + 1)  # the same windows for every variant
            per_pos, x2, y2 = loss_per_position(ext, splits["val"], 2 * T, n_seq, device, g)
            curves[label] = (list(range(2 * T)), per_pos.tolist())
            context[fill] = {"positions_below_T": float(per_pos[:T].mean()),
                             "positions_T_to_2T": float(per_pos[T:].mean())}
        window = sliding_window_loss(model, x2, y2, T, device)
        inside = curves[next(iter(curves))][1][:T]
        curves["sliding window of T tokens (as generate crops)"] = (
            list(range(2 * T)),
            inside + window.tolist(),
        )
        context["sliding_window"] = {"positions_T_to_2T": float(window.mean())}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "model": {**cfg, "params": n_params,
                  "params_without_wpe": n_params - model.transformer.wpe.weight.numel()},
        "data": {"source": where, "characters": len(text), "vocab_size": tok.vocab_size,
                 "train_tokens": n, "val_tokens": len(data) - n},
        "training": {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                     "device": device, "threads": torch.get_num_threads(), "threads_why": why,
                     "final_train_loss": history[-1]["train"], "final_val_loss": history[-1]["val"],
                     "wall_seconds": round(wall, 1), "train_seconds": round(train_time, 1),
                     "cpu_seconds": round(cpu, 1),
                     "tokens_per_second": round(tps), "wall_tokens_per_second": round(wall_tps)},
        "history": history,
        "longer_context": (
            {"block_size": T, "evaluated_length": 2 * T, "sequences": n_seq, **context}
            if context else None
        ),
    }
    try:
        plot_losses(history, out / "gpt2-loss.png", step_losses)
        if curves:
            plot_context(curves, T, out / "gpt2-context.png")
    except Exception as exc:  # a missing plotting backend must not lose the run's numbers
        console.print(f"[yellow]plotting failed: {exc}[/]")
    (out / "gpt2-figures.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")

    console.print(f"\n[bold]done[/]: {args.steps} steps; val loss {history[-1]['val']:.4f} "
                  f"(ln {tok.vocab_size} = {math.log(tok.vocab_size):.3f} at chance)")
    console.print(f"wall clock: {wall:.0f}s, {wall_tps:,.0f} tokens/s (evals included); "
                  f"training steps only: {train_time:.0f}s, {tps:,.0f} tokens/s; "
                  f"{torch.get_num_threads()} CPU thread(s)")
    if context:
        console.print(f"longer contexts (val, {n_seq} windows of {2 * T}): positions < {T}: "
                      f"{context['random']['positions_below_T']:.3f}; positions {T}..{2 * T - 1}: "
                      f"{context['random']['positions_T_to_2T']:.3f} with untrained wpe rows, "
                      f"{context['zero']['positions_T_to_2T']:.3f} with zero rows, "
                      f"{context['sliding_window']['positions_T_to_2T']:.3f} with a sliding "
                      f"window of {T}")
    written = [out / "gpt2-loss.png", *([out / "gpt2-context.png"] if curves else []),
               out / "gpt2-figures.json"]
    console.print(f"wrote {', '.join(str(w) for w in written)}")
    if args.sample:
        start_ids = tok.encode("def ") or [0]  # "def " may not exist in --data text
        prompt = torch.tensor([start_ids], dtype=torch.long, device=device)
        ids = model.generate(prompt, args.sample, temperature=0.8, top_k=None)[0].tolist()
        console.rule("sample (temperature 0.8)")
        console.print(tok.decode(ids), markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
