"""labpath's own references for the serve checks: the tiny model, sampling rules, SSE, HTTP."""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

# 67 tokens: 34 single characters and 33 frequent pairs, so a token is not a character
# (usage counts differ from lengths) and a stop string can end inside a token.
CHARS = list(" \nabcdefghijklmnopqrstuvwxyz:.,!?'")
PAIRS = ("th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng "
         "se ha as ou io le ve co me").split()
VOCAB = CHARS + PAIRS
CONFIG = dict(block_size=32, vocab_size=len(VOCAB), n_layer=2, n_head=3, n_embd=24,
              dropout=0.0, bias=True)
MODEL_NAME = "labpath-tiny"


class RefTokenizer:
    """Greedy longest match over VOCAB (the same rule as the lab's given Tokenizer)."""

    def __init__(self):
        self.itos = dict(enumerate(VOCAB))
        self.stoi = {s: i for i, s in self.itos.items()}
        self.vocab_size = len(VOCAB)

    def encode(self, text: str) -> list[int]:
        ids, i = [], 0
        while i < len(text):
            for n in (2, 1):
                if text[i : i + n] in self.stoi:
                    ids.append(self.stoi[text[i : i + n]])
                    i += n
                    break
            else:
                raise ValueError(f"{text[i]!r} is not in the check's vocabulary")
        return ids

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] for i in ids)


def build_model(gpt, seed: int, dtype=torch.float32):
    """A seeded tiny GPT from the learner's model.py, with weights scaled so that its
    greedy choices have clear margins and its text does not repeat one character."""
    torch.manual_seed(seed)
    model = gpt.GPT(gpt.GPTConfig(**CONFIG))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                # fresh N(0, 1) weights scaled by 1/sqrt(fan-in): a random network
                # whose logits spread over a few units (GPT-2's init gives ~0.1)
                scale = 2.5 if "wte" in name else 1.5
                p.copy_(torch.randn(p.shape, generator=g) * scale / math.sqrt(p.shape[-1]))
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model.to(dtype).eval()


def full_logits(model, idx: torch.Tensor) -> torch.Tensor:
    """(B, T, V) logits of the learner's own GPT forward (targets make it return all T)."""
    with torch.no_grad():
        logits, _ = model(idx, torch.zeros_like(idx))
    return logits


def greedy(model, ids: list[int], n: int) -> tuple[list[int], float]:
    """Greedy continuation with nanoGPT's crop, from the full forward; and the smallest margin."""
    ids, out, margin = list(ids), [], math.inf
    bs = model.config.block_size
    for _ in range(n):
        logits = full_logits(model, torch.tensor([ids[-bs:]]))[0, -1]
        top = torch.topk(logits.double(), 2).values
        margin = min(margin, float(top[0] - top[1]))
        nxt = int(torch.argmax(logits))
        out.append(nxt)
        ids.append(nxt)
    return out, margin


def filtered(logits: torch.Tensor, temperature, top_k=None, top_p=None) -> torch.Tensor:
    """The kept set, written independently: temperature, then top-k, then top-p (HF order)."""
    x = logits.double() / temperature
    keep = torch.ones_like(x, dtype=torch.bool)
    if top_k:
        order = torch.argsort(x, dim=-1, descending=True)
        ranks = torch.argsort(order, dim=-1)
        keep &= ranks < top_k
    if top_p is not None and top_p < 1.0:
        masked = x.masked_fill(~keep, -math.inf)
        p = torch.softmax(masked, dim=-1)
        # a token is kept when the tokens strictly more likely than it hold < top_p
        more = (p.unsqueeze(-1) < p.unsqueeze(-2)).double()  # [i, j]: j is likelier
        before = (more * p.unsqueeze(-2)).sum(-1)
        keep &= before < top_p
    return x.masked_fill(~keep, -math.inf)


# --- the server process --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    os.setsid()  # its own group: stopping it stops whatever it started
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class Server:
    """The learner's serve.py as a subprocess on a loopback port, stopped with its group."""

    def __init__(self, serve_py: Path, model_dir: Path, ckpt: Path, log: Path):
        self.port = free_port()
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(model_dir), env.get("PYTHONPATH")) if p)
        self.log_path = log
        self.log = open(log, "wb")
        # no --host: the default must be loopback (checked)
        cmd = [sys.executable, str(serve_py), "--port", str(self.port),
               "--checkpoint", str(ckpt), "--model-name", MODEL_NAME]
        self.proc = subprocess.Popen(cmd, cwd=ckpt.parent, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)

    def wait_ready(self, timeout: float) -> str | None:
        """None once /health answers 200; else why not (the process's last output)."""
        deadline = time.monotonic() + timeout
        answered = None  # when the server first accepted a connection but gave no 200
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return f"your server exited with code {code} before answering GET /health"
            try:
                status, _, _ = request(self.port, "GET", "/health", timeout=2)
                if status == 200:
                    return None
                why = f"GET /health answered HTTP {status}"
            except ConnectionRefusedError:
                why = None  # not listening yet
            except (OSError, http.client.HTTPException) as e:
                why = f"GET /health failed ({type(e).__name__}: {e})"
            if why and answered is None:
                answered = time.monotonic()
            if why and time.monotonic() - answered > 1.0:
                return f"your server is listening, but {why}"
            time.sleep(0.05)
        return (f"your server did not answer GET /health on 127.0.0.1:{self.port} within "
                f"{timeout:g} s (is it listening on that address and port?)")

    def output(self, lines: int = 12) -> str:
        self.log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(3)
            except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything it forked, too
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.log.close()


def listen_address(port: int) -> str | None:
    """The address a TCP port is listening on, from /proc/net (Linux); None elsewhere."""
    found = None
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            addr, hexport = parts[1].split(":")
            if int(hexport, 16) == port and parts[3] == "0A":  # 0A: LISTEN
                found = addr
                if width == 8:
                    return ".".join(str(int(addr[i : i + 2], 16)) for i in (6, 4, 2, 0))
                return "::1" if addr.endswith("01000000") and set(addr[:24]) == {"0"} else (
                    "::" if set(addr) == {"0"} else addr)
    return found


# --- HTTP and SSE ----------------------------------------------------------------------


def request(port: int, method: str, path: str, body=None, raw: bytes | None = None,
            timeout: float = 10.0):
    """(status, headers, body bytes) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def post_json(port: int, path: str, body: dict):
    """(status, parsed JSON or the raw text) of a POST."""
    status, _, data = request(port, "POST", path, body)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode("utf-8", "replace")


def sse_events(raw: bytes) -> tuple[list[str], str | None]:
    """The data of each event in an SSE stream (WHATWG rules), and a framing problem if any.

    Lines end with \\n, \\r\\n or \\r; a blank line ends an event; "data:" may be followed
    by one optional space; lines starting with ":" are comments; several data lines in
    one event are joined with \\n; an event not ended by a blank line is dropped.
    """
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    events, data, problem = [], None, None
    for line in text.split("\n"):
        if line == "":
            if data is not None:
                events.append("\n".join(data))
            data = None
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data = (data or []) + [value]
    if data is not None:
        problem = "the last event does not end with a blank line, so SSE clients drop it"
    joined = [e for e in events if "\n" in e]
    if joined:
        problem = ("events must end with a blank line (\\n\\n): lines of several events "
                   f"arrived as one event {joined[0][:80]!r}")
    return events, problem
