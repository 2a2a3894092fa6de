"""Train your GPT on code with your train.py, then score it on held-out functions.

Usage (LABPATH_TARGET is the folder holding your train.py and prepare.py; `labpath run
gpt-train` sets it):

    python labpath/labs/gpt-train/run.py --steps 600                 # the standard library
    python labpath/labs/gpt-train/run.py --data ~/code/my-repo        # a git repository
    python labpath/labs/gpt-train/run.py --out runs/a --resume --steps 1200

Without --data (or --repo) the corpus is Python's standard library, as in the gpt2 lab's
run; --data DIR takes a git repository (or a folder of them) through your prepare.py, or
a folder already holding train.bin, val.bin and meta.pkl. Your GPT comes from the gpt2
lab and your tokenizer from the bpe lab (sibling folders, copies here, else labpath's
references). Writes to --out: data/ (the corpus), ckpt.pt (your train()'s checkpoint;
--resume continues it), gpt-train-loss.png (train and val loss), completions.md and
gpt-train-figures.json (every number printed at the end).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABS = HERE.parent


def learner_folders(target: Path) -> list[str]:
    """Where train.py, model.py and bpe.py are looked for, in order."""
    folders = [target]
    for lab in ("gpt2", "bpe"):
        folders += [target.parent / lab, LABS / lab / "solution"]
    return [str(f) for f in folders if f.is_dir()]


def load_modules(target: Path):
    sys.path[:0] = learner_folders(target)
    import bpe
    import model  # noqa: F401  (train.py imports it)
    import prepare
    import train

    return train, prepare, bpe


def is_repo_folder(path: Path) -> bool:
    return (path / ".git").exists()


def dataset(args, prepare, bpe, out: Path, say) -> tuple[Path, list, dict]:
    """The prepared corpus: given, made from repositories, or the standard library's."""
    data = out / "data"
    if args.data and (Path(args.data) / "train.bin").is_file():
        return Path(args.data), [], {}
    repos = [Path(r) for r in args.repo]
    if args.data:
        root = Path(args.data)
        repos += [root] if is_repo_folder(root) else sorted(p for p in root.iterdir() if is_repo_folder(p))
        if not repos:
            raise SystemExit(f"Error: --data {root} is not a git repository, a folder of them, "
                             "or a folder with train.bin\nHint: git init it, or pass --data FOLDER_OF_REPOS")
    if (data / "train.bin").is_file() and (data / "split.json").is_file():
        split = json.loads((data / "split.json").read_text())
        return data, split["val"], split["roots"]
    t0 = time.time()
    tok = None
    if not repos:
        # the standard library, tokenized by your BPE trained on its first part
        files = prepare.stdlib_files(args.max_bytes)
        tok = bpe.RegexTokenizer()
        tok.train("".join(f[2] for f in files)[: args.bpe_bytes], args.vocab_size)
        tok.register_special_tokens({"<|endoftext|>": args.vocab_size})
        data.mkdir(parents=True, exist_ok=True)
        tok.save(str(data / "tokenizer"))
        old = prepare.stdlib_files
        prepare.stdlib_files = lambda *a, **k: files
        try:
            result = prepare.prepare([], str(data), tokenizer=tok, val_fraction=0.1, seed=args.seed)
        finally:
            prepare.stdlib_files = old
        where = f"{len(files)} files of Python {sys.version.split()[0]}'s standard library"
    else:
        result = prepare.prepare([str(r) for r in repos], str(data), vocab_size=args.vocab_size,
                                 val_fraction=0.1, seed=args.seed)
        where = f"{len(repos)} git repositories"
    for repo, rel, n, line in result.get("secrets", []):
        say(f"warning: {repo}/{rel}:{n} looks like a secret: {line}")
    val = [list(v[:2]) for v in result["val"]]
    roots = {r.resolve().name: str(r.resolve()) for r in repos}
    roots["stdlib"] = sysconfig.get_paths()["stdlib"]
    (data / "split.json").write_text(json.dumps({"train": [list(v[:2]) for v in result["train"]], "val": val,
                                                 "roots": roots}))
    say(f"data: {where}; {len(result['train'])} train / {len(val)} val files, {result.get('duplicates', 0)} "
        f"duplicates, {len(result.get('skipped', []))} skipped; {result['train_tokens']:,} / "
        f"{result['val_tokens']:,} tokens, vocab {result['vocab_size']} ({time.time() - t0:.1f} s)")
    return data, val, roots


def held_out_functions(val_files, texts: dict, limit: int) -> list[tuple[str, str, str]]:
    """(name, source, file) of the top-level and method functions of the val files."""
    found = []
    for repo, rel in val_files:
        text = texts.get((repo, rel))
        if text is None or not rel.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines = text.splitlines(keepends=True)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 3:
                found.append((node.name, "".join(lines[node.lineno - 1:node.end_lineno]), rel, node.lineno))
    found.sort(key=lambda f: (f[2], f[3]))
    return [(n, s, r) for n, s, r, _ in found[:limit]]


def complete(model, tok, prompt: str, n_tokens: int, block: int, device) -> str:
    import torch

    ids = tok.encode_ordinary(prompt) if hasattr(tok, "encode_ordinary") else tok.encode(prompt)
    x = torch.tensor([ids[-block:]], dtype=torch.long, device=device)
    with torch.no_grad():
        for _ in range(n_tokens):
            logits, _ = model(x[:, -block:])
            x = torch.cat([x, logits[:, -1].argmax(-1, keepdim=True)], dim=1)  # greedy
    return tok.decode(x[0, len(ids[-block:]):].tolist())


def evaluate_completions(model, tok, functions, args, device):
    """Exact match: the first --prompt-lines lines of a function in, the rest (and the next line) out."""
    rows, whole, line = [], 0, 0
    for name, src, rel in functions:
        head = "".join(src.splitlines(keepends=True)[: args.prompt_lines])
        rest = src[len(head):]
        next_line = rest.splitlines(keepends=True)[0]
        n = len(tok.encode_ordinary(rest) if hasattr(tok, "encode_ordinary") else tok.encode(rest))
        got = complete(model, tok, head, min(n, args.max_new_tokens), model.config.block_size, device)
        whole += got.startswith(rest) or (n > args.max_new_tokens and rest.startswith(got))
        line += got.startswith(next_line)
        rows.append((rel, name, next_line.rstrip(), got.splitlines()[0] if got else ""))
    k = max(1, len(functions))
    return whole / k, line / k, rows


def plot(result, path: Path):
    """The training loss of every step (thin) and the evaluations' train and val (markers)."""
    try:
        from labpath.plots import loss_figure
    except ImportError:  # run as a plain script from a checkout
        sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
        from labpath.plots import loss_figure
    ev = result["all_evals"]
    losses = result["all_losses"]
    loss_figure(
        path,
        train={"train (each step)": (range(1, len(losses) + 1), losses)},
        evals={"train (eval)": ([e["iter"] for e in ev], [e["train"] for e in ev]),
               "val (eval)": ([e["iter"] for e in ev], [e["val"] for e in ev])},
        ylabel="loss (nats/token)",
    )


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default=os.environ.get("LABPATH_DEVICE", "auto"), help="auto, cpu, cuda or mps")
    ap.add_argument("--out", default="runs/gpt-train", help="folder for the data, checkpoint, plots and figures")
    ap.add_argument("--data", help="a git repository, a folder of them, or a prepared folder (train.bin)")
    ap.add_argument("--repo", action="append", default=[], help="one more git repository (repeatable)")
    ap.add_argument("--resume", action="store_true", help="continue from --out's ckpt.pt up to --steps")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--accum", type=int, default=1, help="gradient accumulation steps")
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-iters", type=int, default=20)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--compile", action="store_true", help="torch.compile (CUDA)")
    ap.add_argument("--vocab-size", type=int, default=384, help="BPE vocabulary (merges + 256)")
    ap.add_argument("--max-bytes", type=int, default=400_000, help="standard library text to use")
    ap.add_argument("--bpe-bytes", type=int, default=60_000, help="text the BPE is trained on")
    ap.add_argument("--functions", type=int, default=40, help="held-out functions to complete")
    ap.add_argument("--prompt-lines", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    say = print
    target = Path(os.environ.get("LABPATH_TARGET") or HERE / "solution").resolve()
    if not (target / "train.py").is_file():
        say(f"Error: no train.py in {target}\nHint: labpath start gpt-train, or set LABPATH_TARGET", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    ckpt = out / "ckpt.pt"
    if args.resume and not ckpt.is_file():
        say(f"Error: --resume: no checkpoint {ckpt}\nHint: run once without --resume", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    from contextlib import nullcontext

    import numpy as np
    import torch

    train, prepare, bpe = load_modules(target)
    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    data, val_files, roots = dataset(args, prepare, bpe, out, say)

    cfg = train.TrainConfig(out_dir=str(out), dataset=str(data), init_from="resume" if args.resume else "scratch",
                            max_iters=args.steps, eval_interval=args.eval_every, eval_iters=args.eval_iters,
                            log_interval=10 ** 9, batch_size=args.batch_size, block_size=args.block_size,
                            gradient_accumulation_steps=args.accum, n_layer=args.n_layer, n_head=args.n_head,
                            n_embd=args.n_embd, learning_rate=args.lr, warmup_iters=max(1, args.steps // 20),
                            lr_decay_iters=args.steps, min_lr=args.lr / 10, device=device, dtype=args.dtype,
                            compile=args.compile, backend="nccl" if device.startswith("cuda") else "gloo",
                            seed=args.seed)
    # a progress line per step, from your train_step (train() calls it by name)
    inner, seen = train.train_step, {"n": 0, "tokens": 0, "t": 0.0}
    tokens_per_step = args.accum * args.batch_size * args.block_size

    def train_step(*a, **k):
        t0 = time.time()
        r = inner(*a, **k)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seen["t"] += time.time() - t0
        seen["n"] += 1
        seen["tokens"] += tokens_per_step
        tps = seen["tokens"] / max(seen["t"], 1e-9)
        bar = "#" * int(30 * min(1.0, seen["n"] / max(1, args.steps)))
        sys.stderr.write(f"\rstep {seen['n']:>5}  {bar:<30}  loss {r['loss']:.3f}  {tps:,.0f} tok/s ")
        sys.stderr.flush()
        return r

    train.train_step = train_step
    history = out / "history.json"
    past = json.loads(history.read_text()) if args.resume and history.is_file() else {"losses": [], "evals": []}
    cpu0, wall0 = time.process_time(), time.time()
    result = train.train(cfg)
    sys.stderr.write("\n")
    wall, cpu = time.time() - wall0, time.process_time() - cpu0
    all_losses = past["losses"] + [float(v) for v in result["losses"]]
    all_evals = [e for e in past["evals"] if e["iter"] < (result["evals"][0]["iter"] if result["evals"] else 1e18)]
    all_evals += result["evals"]
    history.write_text(json.dumps({"losses": all_losses, "evals": all_evals}))
    plot({"all_losses": all_losses, "all_evals": all_evals}, out / "gpt-train-loss.png")

    # ---- evaluation: val perplexity and completion of held-out functions ----
    from model import GPT, GPTConfig

    ck = train.load_checkpoint(str(ckpt), device)
    gpt = GPT(GPTConfig(**ck["model_args"])).to(device)
    gpt.load_state_dict(ck["model"])
    gpt.eval()
    val = np.memmap(data / "val.bin", dtype=np.uint16, mode="r")
    ctx = nullcontext() if args.dtype == "float32" else torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
    losses = train.estimate_loss(gpt, {"val": val}, max(args.eval_iters, 50), args.batch_size, args.block_size,
                                 ctx, torch.Generator().manual_seed(args.seed + 1))
    tok = bpe.RegexTokenizer()
    tok.load(str(data / "tokenizer.model"))
    texts = {}
    for repo, rel in val_files:
        path = Path(roots.get(repo, ".")) / rel
        if path.is_file():
            texts[(repo, rel)] = path.read_text(encoding="utf-8", errors="replace")
    functions = held_out_functions(val_files, texts, args.functions)
    whole, line, rows = evaluate_completions(gpt, tok, functions, args, device)
    md = ["| file | function | next line | model's line |", "|---|---|---|---|"]
    md += [f"| {r} | {n} | `{a.strip()[:60]}` | `{b.strip()[:60]}` |" for r, n, a, b in rows]
    (out / "completions.md").write_text("\n".join(md) + "\n")
    n_tokens = seen["tokens"]
    figures = {
        "steps": result["iter_num"], "steps_this_run": len(result["losses"]), "tokens_this_run": n_tokens,
        "tok_per_s_train_steps": n_tokens / max(seen["t"], 1e-9), "tok_per_s_wall": n_tokens / max(wall, 1e-9),
        "wall_s": wall, "cpu_s": cpu, "device": device, "threads": torch.get_num_threads(),
        "first_val_loss": all_evals[0]["val"] if all_evals else None, "final_val_loss": losses["val"],
        "val_perplexity": math.exp(losses["val"]), "best_val_loss": result["best_val_loss"],
        "vocab_size": ck["model_args"]["vocab_size"], "ln_vocab": math.log(ck["model_args"]["vocab_size"]),
        "held_out_functions": len(functions), "exact_match_body": whole, "exact_match_next_line": line,
    }
    (out / "gpt-train-figures.json").write_text(json.dumps(figures, indent=2))
    say(f"val loss {losses['val']:.3f} (perplexity {math.exp(losses['val']):.1f}; ln V = "
        f"{math.log(ck['model_args']['vocab_size']):.2f}); {figures['tok_per_s_train_steps']:,.0f} tok/s in "
        f"train steps, {cpu:.0f} s CPU; held-out functions: {len(functions)}, next line exact "
        f"{line:.0%}, whole body exact {whole:.0%}")
    say(f"wrote {out / 'gpt-train-loss.png'}, {out / 'completions.md'}, {out / 'gpt-train-figures.json'}, {ckpt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
