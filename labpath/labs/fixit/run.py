"""See the symptom: train a tiny GPT built on your Block and one built on labpath's.

Usage (LABPATH_TARGET is the folder holding your block.py; `labpath run fixit` sets it):

    labpath run fixit                      # 200 steps each, on the CPU, in seconds
    python labpath/labs/fixit/run.py --steps 400 --out runs/fixit

Both models are the same 2-layer character-level GPT (token and position embeddings,
two Blocks, a final LayerNorm, a linear head), with the same initial weights where the
shapes agree, the same batches and the same optimizer; only the Block class differs.
The corpus is a fixed slice of Python's own standard library (sorted *.py files), or
--data FILE. Printed and written to --out: the final training loss of each, the
validation loss over every position and at the last position of each window only
(which is what generation sees: no later token exists there), a greedy sample from
each, fixit-loss.png (both loss curves) and fixit-figures.json (every number).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "__pycache__"}


def load_block(path: Path, name: str):
    """Import a block.py under a private module name (yours and the reference coexist)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def corpus(data: str | None, max_bytes: int) -> tuple[str, str]:
    """The text to train on: --data FILE, else the standard library's *.py files, sorted."""
    if data:
        path = Path(data)
        if not path.is_file():
            raise SystemExit(f"Error: --data {data} is not a text file")
        return path.read_text(encoding="utf-8", errors="replace")[:max_bytes], str(path)
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py")
                   if not SKIP_DIRS.intersection(p.relative_to(root).parts[:-1]))
    parts, size = [], 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(text)
        size += len(text)
        if size >= max_bytes:
            break
    return "".join(parts)[:max_bytes], f"{len(parts)} files of Python {sys.version.split()[0]}'s standard library"


def make_gpt(Block, config, vocab_size: int):
    import torch
    import torch.nn as nn

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab_size, config.n_embd)
            self.wpe = nn.Embedding(config.block_size, config.n_embd)
            self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
            self.ln_f = nn.LayerNorm(config.n_embd)
            self.lm_head = nn.Linear(config.n_embd, vocab_size, bias=False)

        def forward(self, idx):
            T = idx.size(1)
            x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))  # (B, T, V)

    return TinyGPT()


def gpt2_init(model, seed: int):
    """N(0, 0.02) for every Linear and Embedding (LayerNorms keep their own init)."""
    import torch
    import torch.nn as nn

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.02)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()


def train(model, data, args, device):
    import torch
    from torch.nn import functional as F

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(args.seed)
    losses = []
    model.train()
    for _ in range(args.steps):
        ix = torch.randint(len(data) - args.block_size - 1, (args.batch_size,), generator=g)
        x = torch.stack([data[i:i + args.block_size] for i in ix]).to(device)
        y = torch.stack([data[i + 1:i + 1 + args.block_size] for i in ix]).to(device)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def evaluate(model, data, args, device):
    """Validation loss over every position, and at the last position of each window."""
    import torch
    from torch.nn import functional as F

    model.eval()
    n = (len(data) - 1) // args.block_size
    starts = torch.arange(min(n, 256)) * args.block_size
    x = torch.stack([data[i:i + args.block_size] for i in starts]).to(device)
    y = torch.stack([data[i + 1:i + 1 + args.block_size] for i in starts]).to(device)
    with torch.no_grad():
        logits = model(x)
    every = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1)).item()
    last = F.cross_entropy(logits[:, -1], y[:, -1]).item()
    return every, last


def sample(model, prompt_ids, n, block, device):
    import torch

    model.eval()
    x = torch.tensor([prompt_ids], device=device)
    with torch.no_grad():
        for _ in range(n):
            logits = model(x[:, -block:])
            x = torch.cat([x, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return x[0, len(prompt_ids):].tolist()


def plot(curves: dict, evals: dict, path: Path) -> bool:
    """Each block's training loss at every step (thin) and its validation loss (a marker)."""
    try:
        from labpath.plots import loss_figure
    except ImportError:  # run as a plain script from a checkout
        sys.path.insert(0, str(HERE.parents[2]))
        from labpath.plots import loss_figure
    return loss_figure(
        path,
        train={f"{label}: train (each step)": (range(1, len(losses) + 1), losses)
               for label, losses in curves.items()},
        evals={f"{label}: validation": ([step], [loss]) for label, (step, loss) in evals.items()},
        title="the same tiny GPT with your Block and with labpath's",
        ylabel="loss (nats/char)",
    )


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default=os.environ.get("LABPATH_DEVICE", "cpu"), help="auto, cpu, cuda or mps")
    ap.add_argument("--out", default="runs/fixit", help="folder for the plot and the figures")
    ap.add_argument("--data", help="a text file to train on instead of the standard library")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--n-embd", type=int, default=48)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--max-bytes", type=int, default=200_000, help="corpus characters to use")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    target = Path(os.environ.get("LABPATH_TARGET") or HERE / "starter").resolve()
    if not (target / "block.py").is_file():
        print(f"Error: no block.py in {target}\nHint: labpath start fixit, or set LABPATH_TARGET",
              file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    text, where = corpus(args.data, args.max_bytes)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]
    print(f"data: {where}; {len(text):,} characters, vocabulary {len(chars)}; "
          f"{args.steps} steps of {args.batch_size} x {args.block_size} characters each")

    from types import SimpleNamespace

    config = SimpleNamespace(n_embd=args.n_embd, n_head=args.n_head, block_size=args.block_size,
                             dropout=args.dropout, bias=True, n_layer=2, vocab_size=len(chars))
    blocks = {"your block": load_block(target / "block.py", "labpath_fixit_yours").Block,
              "labpath's block": load_block(HERE / "solution" / "block.py", "labpath_fixit_ref").Block}
    figures, curves = {"steps": args.steps, "corpus": where, "ln_vocab": math.log(len(chars))}, {}
    evals = {}
    prompt = [stoi[c] for c in "def " if c in stoi]
    for label, Block in blocks.items():
        key = "yours" if label.startswith("your") else "reference"
        torch.manual_seed(args.seed)
        t0 = time.time()
        try:
            model = make_gpt(Block, config, len(chars)).to(device)
            gpt2_init(model, args.seed)
            losses = train(model, train_data, args, device)
            every, last = evaluate(model, val_data, args, device)
            text_out = "".join(chars[i] for i in sample(model, prompt, 80, args.block_size, device))
        except Exception as exc:  # a broken block may raise; say so and go on
            print(f"{label}: raised {type(exc).__name__}: {exc}", file=sys.stderr)
            figures[key] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        curves[label], evals[label] = losses, (len(losses), every)
        figures[key] = {"first_train_loss": losses[0], "final_train_loss": losses[-1],
                        "val_loss_every_position": every, "val_loss_last_position": last,
                        "seconds": time.time() - t0, "sample": text_out}
        print(f"{label:>16}: train loss {losses[0]:.3f} -> {losses[-1]:.3f}; validation loss "
              f"{every:.3f} over every position, {last:.3f} at the last position "
              f"({time.time() - t0:.1f} s)")
        print(f"{'':>16}  greedy sample after 'def ': {text_out[:60]!r}")
    png = out / "fixit-loss.png"
    if curves and plot(curves, evals, png):
        print(f"wrote {png}")
    else:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
    (out / "fixit-figures.json").write_text(json.dumps(figures, indent=2))
    print(f"wrote {out / 'fixit-figures.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
