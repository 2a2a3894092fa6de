"""Serve your GPT with your serve.py and measure it: requests/s, tokens/s, time to first token.

Usage (LABPATH_TARGET is the folder holding your serve.py; `labpath run serve` sets it):

    python labpath/labs/serve/run.py                          # trains a tiny GPT first
    python labpath/labs/serve/run.py --checkpoint out/ckpt.pt # your own (meta.pkl beside it)

Without --checkpoint a tiny character-level GPT is trained for --steps steps on --data
(default: a slice of Python's standard library), with your model.py (here, else
../gpt2/model.py, else labpath's reference). Your server then runs as a subprocess on
a free loopback port and is driven over HTTP: --requests requests with 1 and with 4
concurrent clients, and streamed requests for the time to first token. Also measured
in-process: generate's tokens/s with and without your KV cache. Writes
serve-figures.json to --out.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import statistics
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "checks"))
sys.path.insert(0, str(HERE.parents[2]))  # the labpath checkout, when run as a plain script


def learner_folder() -> Path:
    return Path(os.environ.get("LABPATH_TARGET") or HERE / "solution")


def model_folder(serve_dir: Path) -> Path:
    """Where model.py is: next to serve.py, the gpt2 lab next door, else the reference."""
    for folder in (serve_dir, serve_dir.parent / "gpt2", HERE.parent / "gpt2" / "solution"):
        if (folder / "model.py").is_file():
            return folder
    sys.exit("Error: no model.py found next to serve.py or in ../gpt2")


def corpus(path: str | None, max_chars: int) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8", errors="replace")[:max_chars]
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, size = [], 0
    for name in ("textwrap.py", "shlex.py", "fnmatch.py", "bisect.py", "heapq.py",
                 "calendar.py", "string.py", "colorsys.py", "glob.py", "random.py"):
        try:
            parts.append((root / name).read_text(encoding="utf-8"))
        except OSError:
            continue
        size += len(parts[-1])
        if size >= max_chars:
            break
    return "".join(parts)[:max_chars]


def train_tiny(gpt, text: str, steps: int, folder: Path, seed: int) -> Path:
    """A char GPT trained briefly, saved as nanoGPT's ckpt.pt and meta.pkl."""
    import torch

    torch.manual_seed(seed)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    args = dict(block_size=64, vocab_size=len(chars), n_layer=2, n_head=4, n_embd=64,
                dropout=0.0, bias=True)
    model = gpt.GPT(gpt.GPTConfig(**args))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    loss = None
    for _ in range(steps):
        ix = torch.randint(len(data) - 65, (16,), generator=g)
        x = torch.stack([data[i : i + 64] for i in ix])
        y = torch.stack([data[i + 1 : i + 65] for i in ix])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    print(f"trained a tiny GPT ({sum(p.numel() for p in model.parameters()):,} parameters, "
          f"vocab {len(chars)}) for {steps} steps: loss "
          f"{loss.item() if loss is not None else float('nan'):.3f}")
    ckpt = folder / "ckpt.pt"
    torch.save({"model_args": args, "model": model.state_dict()}, ckpt)
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "stoi": stoi, "itos": dict(enumerate(chars))}, f)
    return ckpt


def post(port, body, timeout):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/completions", json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        reply = json.loads(resp.read())
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {reply}")
        return reply["usage"]["completion_tokens"]
    finally:
        conn.close()


def first_token(port, body, timeout) -> float:
    """Seconds from sending a streamed request to the first chunk with text."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        t0 = time.perf_counter()
        conn.request("POST", "/v1/completions", json.dumps({**body, "stream": True}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        while True:
            line = resp.readline()
            if not line:
                raise RuntimeError("the stream ended before any text")
            if line.startswith(b"data:") and b"[DONE]" not in line:
                chunk = json.loads(line[5:])
                if any(c.get("text") for c in chunk.get("choices") or []):
                    ttft = time.perf_counter() - t0
                    resp.read()
                    return ttft
    finally:
        conn.close()


def load(port, bodies, clients, timeout) -> dict:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        tokens = list(pool.map(lambda b: post(port, b, timeout), bodies))
    elapsed = time.perf_counter() - t0
    return {"clients": clients, "requests": len(bodies), "seconds": round(elapsed, 3),
            "requests_per_second": round(len(bodies) / elapsed, 2),
            "tokens_per_second": round(sum(tokens) / elapsed, 1)}


def cache_speed(serve, ckpt, max_tokens) -> dict:
    """generate's tokens/s in-process, with and without the KV cache (greedy)."""
    model, tok = serve.load_model(ckpt)
    ids = tok.encode(tok.decode([0, 1, 2, 3]))
    out = {}
    for use_cache in (True, False):
        t0 = time.perf_counter()
        n = len(list(serve.generate(model, ids, max_tokens, 0, use_cache=use_cache)))
        out["with_cache" if use_cache else "without_cache"] = round(
            n / (time.perf_counter() - t0), 1)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--path", help="folder holding your serve.py (default: $LABPATH_TARGET)")
    ap.add_argument("--checkpoint", help="a nanoGPT ckpt.pt with meta.pkl beside it")
    ap.add_argument("--data", help="a text file to train the tiny GPT on")
    ap.add_argument("--steps", type=int, default=300, help="training steps of the tiny GPT")
    ap.add_argument("--requests", type=int, default=16, help="requests per load level")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    ap.add_argument("--out", default="serve-run", help="folder for serve-figures.json")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--device", help=argparse.SUPPRESS)  # passed by `labpath run`; CPU here
    args = ap.parse_args(argv)
    if args.path:
        os.environ["LABPATH_TARGET"] = str(Path(args.path).resolve())
    folder = learner_folder()
    if not (folder / "serve.py").is_file():
        print(f"Error: no serve.py in {folder}", file=sys.stderr)
        print("Hint: labpath start serve, or pass --path DIR", file=sys.stderr)
        return 2
    import serve_ref
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(model_folder(folder)))
    sys.path.insert(0, str(folder))
    import model as gpt
    import serve

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="labpath-serve-run-") as tmp:
        if args.checkpoint:
            ckpt = Path(args.checkpoint).resolve()
        else:
            text = corpus(args.data, 200_000)
            ckpt = train_tiny(gpt, text, args.steps, Path(tmp), args.seed)
        server = serve_ref.Server(folder / "serve.py", model_folder(folder), ckpt,
                                  Path(tmp) / "server.log")
        try:
            problem = server.wait_ready(60)
            if problem:
                print(f"Error: {problem}\n{server.output()}", file=sys.stderr)
                return 3
            print(f"serving {folder / 'serve.py'} on http://127.0.0.1:{server.port}/v1")
            with open(ckpt.with_name("meta.pkl"), "rb") as f:
                stoi = pickle.load(f)["stoi"]
            # a prompt the vocabulary can encode: "def " on code, else its first tokens
            prompt = "def " if all(c in stoi for c in "def ") else "".join(list(stoi)[:4])
            body = {"model": serve_ref.MODEL_NAME, "prompt": prompt,
                    "max_tokens": args.max_tokens, "temperature": 0.8}
            bodies = [{**body, "seed": i} for i in range(args.requests)]
            post(server.port, bodies[0], args.timeout)  # warm-up
            levels = [load(server.port, bodies, c, args.timeout) for c in (1, 4)]
            ttfts = [first_token(server.port, {**body, "seed": i}, args.timeout)
                     for i in range(max(3, args.requests // 4))]
        finally:
            server.stop()
        speed = cache_speed(serve, ckpt, args.max_tokens)
    figures = {
        "max_tokens": args.max_tokens, "load": levels,
        "time_to_first_token_ms": {"median": round(1000 * statistics.median(ttfts), 1),
                                   "max": round(1000 * max(ttfts), 1), "requests": len(ttfts)},
        "generate_tokens_per_second": speed,
        "threads": torch.get_num_threads(),
    }
    for lv in levels:
        print(f"{lv['clients']} client(s): {lv['requests']} requests of {args.max_tokens} "
              f"tokens in {lv['seconds']:.2f} s: {lv['requests_per_second']:.2f} requests/s, "
              f"{lv['tokens_per_second']:.1f} tokens/s")
    t = figures["time_to_first_token_ms"]
    print(f"time to first token (streamed): median {t['median']:.1f} ms, max {t['max']:.1f} ms "
          f"over {t['requests']} requests")
    print(f"generate in-process: {speed['with_cache']:.1f} tokens/s with the KV cache, "
          f"{speed['without_cache']:.1f} without")
    (out / "serve-figures.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"wrote {out / 'serve-figures.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
