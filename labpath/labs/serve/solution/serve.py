"""
Your GPT behind an OpenAI-compatible HTTP API, with sampling controls and a KV cache.

Goal: load a nanoGPT-style checkpoint once, then answer POST /v1/completions and
POST /v1/chat/completions with OpenAI's request and response schemas, so any client
written for OpenAI (the official `openai` package, LangChain, curl) can talk to your
own model on 127.0.0.1. Generation is written here, not borrowed from the model:
  1. sampling: temperature, then top-k, then top-p (nucleus), temperature 0 = greedy;
  2. a KV cache: each new token attends to the keys and values already computed,
     instead of running the whole context through the model again;
  3. streaming as server-sent events, with stop strings cut out even when they
     straddle two tokens, so a streamed answer equals the non-streamed one.
Only the standard library's http.server is used; ThreadingHTTPServer gives each
request its own thread, so nothing per-request (cache, random generator) is shared.

References:
- OpenAI API reference, "Completions" and "Chat Completions" (request fields, the
  response and chunk objects, `data: [DONE]`), and openai-python's generated types.
- The WHATWG HTML standard, "Server-sent events" (event stream format).
- Holtzman et al. 2019, "The Curious Case of Neural Text Degeneration" (top-p).
- karpathy/nanoGPT model.py and sample.py (the checkpoint format and the crop to
  block_size); rasbt/LLMs-from-scratch, chapter 4 bonus material on the KV cache.
"""

import argparse
import json
import math
import pickle
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch
from torch.nn import functional as F

# -----------------------------------------------------------------------------
# tokenizer and checkpoint (given: plumbing, not the lesson)


class Tokenizer:
    """nanoGPT's meta.pkl vocabulary (stoi / itos); tokens may be several characters long."""

    def __init__(self, stoi, itos):
        self.stoi, self.itos = dict(stoi), dict(itos)
        self.longest = max(len(s) for s in self.stoi)

    @property
    def vocab_size(self):
        return len(self.itos)

    def encode(self, text):
        """Greedy longest match, left to right; a character outside the vocabulary is an error."""
        ids, i = [], 0
        while i < len(text):
            for n in range(min(self.longest, len(text) - i), 0, -1):
                if text[i:i + n] in self.stoi:
                    ids.append(self.stoi[text[i:i + n]])
                    i += n
                    break
            else:
                raise ValueError(f"the character {text[i]!r} is not in the vocabulary")
        return ids

    def decode(self, ids):
        return "".join(self.itos[int(i)] for i in ids)


def load_model(checkpoint, meta=None, device="cpu"):
    """A GPT from a nanoGPT checkpoint ({"model_args", "model"}) and its meta.pkl."""
    try:
        from model import GPT, GPTConfig
    except ImportError:  # the workspace layout: labs/serve/ next to labs/gpt2/
        sys.path.append(str(Path(__file__).resolve().parent.parent / "gpt2"))
        from model import GPT, GPTConfig
    ckpt = torch.load(checkpoint, map_location=device)
    model = GPT(GPTConfig(**ckpt["model_args"]))
    # torch.compile saves its parameters under _orig_mod.; the model is the same
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
    model.load_state_dict(state)
    model.eval().to(device)
    meta = Path(meta) if meta else Path(checkpoint).with_name("meta.pkl")
    with open(meta, "rb") as f:
        m = pickle.load(f)
    return model, Tokenizer(m["stoi"], m["itos"])


# -----------------------------------------------------------------------------
# sampling


def filter_logits(logits, temperature, top_k=None, top_p=None):
    """Logits (..., V) divided by the temperature, -inf outside the top-k and top-p sets."""
    logits = logits / temperature  # T < 1 sharpens the distribution, T > 1 flattens it
    V = logits.size(-1)
    if top_k is not None and top_k > 0:
        # the k-th largest value per row; anything below it can never be sampled.
        # -inf, not 0: exp(0) = 1 would give every dropped token real probability.
        kth = torch.topk(logits, min(top_k, V), dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        # nucleus: the smallest set of most likely tokens whose mass reaches top_p
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = F.softmax(sorted_logits, dim=-1)  # over the vocabulary, the last axis
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens strictly more likely
        # a token stays while the mass before it is below top_p: the token that
        # crosses the threshold is kept, so the kept mass is >= top_p (never less)
        drop_sorted = before >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits, temperature, top_k=None, top_p=None, generator=None):
    """One token id from logits (V,); temperature 0 means greedy (argmax)."""
    if temperature == 0:
        # the limit T -> 0 of softmax(logits / T) is one-hot on the argmax; dividing
        # by zero would give inf - inf = NaN instead
        return int(torch.argmax(logits))
    probs = F.softmax(filter_logits(logits, temperature, top_k, top_p), dim=-1)  # (V,)
    # the request's own generator: concurrent requests never share a random stream
    return int(torch.multinomial(probs, num_samples=1, generator=generator))


# -----------------------------------------------------------------------------
# the KV cache: the model's forward again, over its nanoGPT-named modules


class KVCache:
    """Keys and values of every layer for the positions seen so far, each (B, n_head, T, hs)."""

    def __init__(self, n_layer):
        self.k = [None] * n_layer
        self.v = [None] * n_layer

    def __len__(self):
        """How many positions are cached."""
        return 0 if self.k[0] is None else self.k[0].size(2)

    def update(self, layer, k, v):
        """Append this step's (B, nh, T, hs) keys and values; return all of them."""
        if self.k[layer] is not None:
            # time is axis 2; axis 0 is the batch, which does not grow
            k = torch.cat([self.k[layer], k], dim=2)  # (B, nh, T_past + T, hs)
            v = torch.cat([self.v[layer], v], dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v


def attend(attn, x, n_head, cache=None, layer=0):
    """The block's causal self-attention on x (B, T, C), with past keys from the cache."""
    B, T, C = x.size()
    hs = C // n_head
    q, k, v = attn.c_attn(x).split(C, dim=2)  # 3 x (B, T, C), in GPT-2's order
    q = q.view(B, T, n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
    k = k.view(B, T, n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
    v = v.view(B, T, n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
    if cache is not None:
        k, v = cache.update(layer, k, v)  # (B, nh, L, hs), L = cached + T
    L = k.size(2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, T, L)
    # query i sits at position L - T + i and may see keys 0 .. L - T + i. With T = L
    # (no cache) this is the usual lower triangle; with one new token it is all ones.
    # (F.scaled_dot_product_attention's is_causal aligns the triangle top-left, which
    # for T < L would hide every past key: hence the explicit mask.)
    mask = torch.ones(T, L, dtype=torch.bool, device=x.device).tril(diagonal=L - T)
    att = att.masked_fill(~mask, float("-inf"))
    att = F.softmax(att, dim=-1)  # over the keys
    y = att @ v  # (B, nh, T, L) x (B, nh, L, hs) -> (B, nh, T, hs)
    y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
    return attn.c_proj(y)


def forward(model, idx, cache=None, pos=0):
    """Logits (B, T, V) at every position of idx (B, T), whose first token is at position pos.

    Without a cache this is the model's own forward (in eval mode). With one, the keys
    and values of idx are appended to it, and idx attends to everything cached before.
    """
    B, T = idx.size()
    cfg = model.config
    assert pos + T <= cfg.block_size, f"positions up to {pos + T} > block_size {cfg.block_size}"
    tr = model.transformer
    # the positions continue where the cache stopped: the new token is not position 0
    positions = torch.arange(pos, pos + T, dtype=torch.long, device=idx.device)  # (T,)
    x = tr.wte(idx) + tr.wpe(positions)  # (B, T, C); dropout is off at inference
    for i, block in enumerate(tr.h):
        x = x + attend(block.attn, block.ln_1(x), cfg.n_head, cache, i)
        x = x + block.mlp(block.ln_2(x))
    x = tr.ln_f(x)
    return model.lm_head(x)  # (B, T, V)


@torch.no_grad()
def generate(model, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
             stop_ids=(), generator=None, use_cache=True):
    """Yield up to max_new_tokens token ids after the prompt ids (a list); a stop id ends it unyielded.

    Every prediction sees the last block_size tokens (nanoGPT's crop). The cache lives
    only as long as this call: a new request always starts with an empty one.
    """
    ids = list(ids)
    bs = model.config.block_size
    device = model.lm_head.weight.device
    cache = KVCache(model.config.n_layer) if use_cache else None
    window = torch.tensor([ids[-bs:]], dtype=torch.long, device=device)  # (1, T)
    logits = forward(model, window, cache)[0, -1]  # (V,): prefill the whole prompt
    for step in range(max_new_tokens):
        nxt = sample_next(logits, temperature, top_k, top_p, generator)
        if nxt in stop_ids:
            return
        yield nxt
        ids.append(nxt)
        if step == max_new_tokens - 1:
            break  # no forward for a token nobody will sample
        if cache is not None and len(cache) < bs:
            # one new token: its position is the number already cached
            new = torch.tensor([[nxt]], dtype=torch.long, device=device)  # (1, 1)
            logits = forward(model, new, cache, pos=len(cache))[0, -1]
        else:
            # no cache, or a full one: cropping shifts every position by one, so each
            # cached key is stale; run the last block_size tokens from scratch
            cache = None
            window = torch.tensor([ids[-bs:]], dtype=torch.long, device=device)
            logits = forward(model, window)[0, -1]


# -----------------------------------------------------------------------------
# requests: OpenAI's fields, validated once


class APIError(Exception):
    """A request the API refuses, with OpenAI's error shape."""

    def __init__(self, status, message, param=None, type="invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.type = status, message, param, type

    def body(self):
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": None}}


def _number(body, name, default, lo, hi, integer=False):
    """body[name] as a number within [lo, hi], else a 400 naming the field."""
    value = body.get(name)
    if value is None:
        return default
    kinds = (int,) if integer else (int, float)
    # bool is an int in Python, but `"max_tokens": true` is not a number in JSON
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise APIError(400, f"'{name}' must be {kind}, got {value!r}", name)
    if not lo <= value <= hi:
        raise APIError(400, f"'{name}' must be between {lo} and {hi}, got {value!r}", name)
    return value


def render_chat(messages):
    """The plain chat template: one "role: content" line per message, then "assistant: "."""
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "'messages' must be a non-empty list", "messages")
    text = ""
    for m in messages:
        if not isinstance(m, dict) or "role" not in m:
            raise APIError(400, "each message needs a 'role' and a 'content'", "messages")
        content = m.get("content") or ""
        if isinstance(content, list):  # newer clients send [{"type": "text", "text": ...}]
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        text += f"{m['role']}: {content}\n"
    return text + "assistant: "


def parse_request(body, tokenizer, chat):
    """The generation settings of one request; APIError (400) for anything invalid."""
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    if _number(body, "n", 1, 1, 128, integer=True) != 1:
        raise APIError(400, "only one choice per request is supported (n must be 1)", "n")
    if chat:
        prompt = render_chat(body.get("messages"))
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = prompt[0]  # ["text"] or [[ids]]: one prompt in a list
        if not (isinstance(prompt, str) or (isinstance(prompt, list) and prompt
                                             and all(type(t) is int for t in prompt))):
            raise APIError(400, "'prompt' must be a string (or one list of token ids)", "prompt")
    try:
        ids = tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
    except ValueError as e:
        raise APIError(400, f"the prompt cannot be encoded: {e}", "prompt") from None
    if not ids or not all(0 <= t < tokenizer.vocab_size for t in ids):
        raise APIError(400, "the prompt must hold at least one known token", "prompt")
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else (stop or [])
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) for s in stop):
        raise APIError(400, "'stop' must be a string or a list of at most 4 strings", "stop")
    limit = "max_completion_tokens" if chat and "max_completion_tokens" in body else "max_tokens"
    top_k = _number(body, "top_k", None, -1, 1 << 30, integer=True)
    options = body.get("stream_options") or {}
    return {
        "ids": ids,
        "max_tokens": _number(body, limit, 16, 0, 1 << 20, integer=True),  # OpenAI's default 16
        "temperature": _number(body, "temperature", 1.0, 0, 2),
        "top_p": _number(body, "top_p", 1.0, 1e-9, 1),
        "top_k": top_k if top_k and top_k > 0 else None,  # 0 or -1: no top-k (vLLM)
        "stop": [s for s in stop if s],
        "seed": _number(body, "seed", None, -(1 << 63), (1 << 64) - 1, integer=True),
        "stream": bool(body.get("stream", False)),
        "include_usage": bool(isinstance(options, dict) and options.get("include_usage")),
    }


# -----------------------------------------------------------------------------
# text: tokens -> deltas, with stop strings cut out


def held_back(text, stops):
    """How many characters at the end of text could be the start of a stop string."""
    keep = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:n]):
                keep = max(keep, n)
                break
    return keep


def completion_text(model, tokenizer, p, info):
    """Yield the completion's text in pieces; info gets finish_reason and completion_tokens.

    A piece is sent only once no stop string can still begin inside it, so a stop that
    straddles two tokens is cut before any of it reaches the client.
    """
    gen = torch.Generator()
    if p["seed"] is not None:
        gen.manual_seed(p["seed"] % (1 << 64))  # same seed, same request: same text
    else:
        gen.seed()  # a fresh random seed for each request
    text, sent, n = "", 0, 0
    info.update(finish_reason="length", completion_tokens=0)
    tokens = generate(model, p["ids"], p["max_tokens"], p["temperature"], p["top_k"],
                      p["top_p"], generator=gen)
    for tok in tokens:
        n += 1
        text += tokenizer.decode([tok])
        info["completion_tokens"] = n  # tokens, not characters: a token may hold several
        # the earliest stop string anywhere in the text, also across token boundaries
        cuts = [i for i in (text.find(s) for s in p["stop"]) if i >= 0]
        if cuts:
            info["finish_reason"] = "stop"
            if min(cuts) > sent:
                yield text[sent:min(cuts)]
            return  # the stop string itself is never sent
        safe = len(text) - held_back(text, p["stop"])
        if safe > sent:
            yield text[sent:safe]
            sent = safe
    if len(text) > sent:
        yield text[sent:]  # max_tokens hit: what was held back was not a stop after all


# -----------------------------------------------------------------------------
# HTTP


def usage(p, info):
    prompt = len(p["ids"])
    return {"prompt_tokens": prompt, "completion_tokens": info["completion_tokens"],
            "total_tokens": prompt + info["completion_tokens"]}


class Handler(BaseHTTPRequestHandler):
    """One request. HTTP/1.0: the connection closes after each response, which ends a stream."""

    model = tokenizer = None  # set by create_app
    model_name = "labpath-gpt"

    def do_GET(self):
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": self.model_name, "object": "model", "created": 0, "owned_by": "labpath"}]})
        else:
            self.send_json(404, APIError(404, f"no route GET {self.path}").body())

    def do_POST(self):
        routes = {"/v1/completions": False, "/v1/chat/completions": True}
        if self.path not in routes:
            self.send_json(404, APIError(404, f"no route POST {self.path}").body())
            return
        try:
            n = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(n) or b"null")
            except (ValueError, UnicodeDecodeError) as e:
                raise APIError(400, f"the body is not valid JSON: {e}") from None
            p = parse_request(body, self.tokenizer, chat=routes[self.path])
            self.complete(p, chat=routes[self.path])
        except APIError as e:
            self.send_json(e.status, e.body())
        except Exception as e:  # a bug here must not kill the server, only this request
            self.send_json(500, APIError(500, f"{type(e).__name__}: {e}", type="server_error").body())

    def complete(self, p, chat):
        # one id and one created time for the whole answer, every chunk included
        rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        head = {"id": rid, "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": self.model_name}
        info = {}
        pieces = completion_text(self.model, self.tokenizer, p, info)
        if not p["stream"]:
            text = "".join(pieces)
            if chat:
                choice = {"index": 0, "message": {"role": "assistant", "content": text},
                          "logprobs": None, "finish_reason": info["finish_reason"]}
            else:
                choice = {"index": 0, "text": text, "logprobs": None,
                          "finish_reason": info["finish_reason"]}
            self.send_json(200, {**head, "choices": [choice], "usage": usage(p, info)})
            return
        if chat:
            head["object"] = "chat.completion.chunk"
        extra = {"usage": None} if p["include_usage"] else {}

        def chunk(delta, finish=None):
            if chat:
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            else:
                choice = {"index": 0, "text": delta, "logprobs": None, "finish_reason": finish}
            return {**head, "choices": [choice], **extra}

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            if chat:  # the first chat delta says who speaks
                self.send_event(chunk({"role": "assistant", "content": ""}))
            for piece in pieces:
                # each delta is only the new text: clients concatenate them
                self.send_event(chunk({"content": piece} if chat else piece))
            # exactly one chunk carries the finish_reason, with an empty delta
            self.send_event(chunk({} if chat else "", info["finish_reason"]))
            if p["include_usage"]:
                self.send_event({**head, "choices": [], "usage": usage(p, info)})
            self.wfile.write(b"data: [DONE]\n\n")  # the end, as OpenAI marks it
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client left: stop generating for it

    def send_event(self, obj):
        # one SSE event: a data line, then a blank line that ends the event
        self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
        self.wfile.flush()  # now, not when the buffer fills: that is what streaming is

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # one line per request on stderr is noise here


def create_app(model, tokenizer, model_name="labpath-gpt"):
    """The app: a request handler class bound to one model and tokenizer."""
    return type("ModelHandler", (Handler,), {"model": model, "tokenizer": tokenizer,
                                             "model_name": model_name})


class Server(ThreadingHTTPServer):
    """One thread per request."""

    daemon_threads = True  # a hanging client never keeps the process alive
    # socketserver's listen backlog is 5 connections: a sixth client arriving at once is
    # reset. Clients come in bursts (an agent's parallel calls), so make room for them.
    request_queue_size = 128


def serve(model, tokenizer, host="127.0.0.1", port=8000, model_name="labpath-gpt"):
    """Serve until interrupted. Loopback by default: nothing outside this machine can connect."""
    server = Server((host, port), create_app(model, tokenizer, model_name))
    print(f"listening on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Serve a GPT checkpoint with OpenAI's API.")
    ap.add_argument("--checkpoint", required=True, help="a nanoGPT ckpt.pt")
    ap.add_argument("--meta", help="its meta.pkl (default: next to the checkpoint)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--model-name", default="labpath-gpt")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    model, tokenizer = load_model(args.checkpoint, args.meta, args.device)
    serve(model, tokenizer, args.host, args.port, args.model_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
