"""
Lab - serve: your GPT behind an OpenAI-compatible HTTP API, with sampling and a KV cache.

Read README.md in this folder first; check your work with `labpath check serve`, then
measure it with `labpath run serve`. Every gap below is marked TODO and raises
NotImplementedError until you fill it in. The tokenizer, the checkpoint loader, the
request plumbing of do_POST and main are given.

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
import math  # noqa: F401  (1 / math.sqrt(head size) in attend)
import pickle
import sys
import time  # noqa: F401  (the created time of a response)
import uuid  # noqa: F401  (a response id: uuid.uuid4().hex)
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch
from torch.nn import functional as F  # noqa: F401

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
    # TODO: divide by the temperature; with top_k, set everything below the k-th
    # largest value of each row to float("-inf") (torch.topk(..., dim=-1)); with top_p < 1,
    # sort each row descending, softmax, and drop a token when the mass of the tokens before
    # it already reaches top_p (the token that crosses stays). Every step on the last axis.
    raise NotImplementedError("filter_logits")


def sample_next(logits, temperature, top_k=None, top_p=None, generator=None):
    """One token id from logits (V,); temperature 0 means greedy (argmax)."""
    # TODO: temperature 0 is greedy: the argmax, without dividing by zero. Else
    # softmax(filter_logits(...)) and torch.multinomial(probs, 1, generator=generator).
    raise NotImplementedError("sample_next")


# -----------------------------------------------------------------------------
# the KV cache: the model's forward again, over its nanoGPT-named modules


class KVCache:
    """Keys and values of every layer for the positions seen so far, each (B, n_head, T, hs)."""

    def __init__(self, n_layer):
        self.k = [None] * n_layer
        self.v = [None] * n_layer

    def __len__(self):
        """How many positions are cached."""
        # TODO: the number of positions cached (axis 2 of a layer's keys), 0 when empty.
        raise NotImplementedError("__len__")

    def update(self, layer, k, v):
        """Append this step's (B, nh, T, hs) keys and values; return all of them."""
        # TODO: concatenate the new (B, nh, T, hs) keys and values after this layer's
        # cached ones on the time axis, store them, return (all keys, all values).
        raise NotImplementedError("update")


def attend(attn, x, n_head, cache=None, layer=0):
    """The block's causal self-attention on x (B, T, C), with past keys from the cache."""
    # TODO: GPT-2's attention with a cache: q, k, v from attn.c_attn(x), each viewed
    # as (B, nh, T, hs); with a cache, k, v = cache.update(layer, k, v) (L = all keys);
    # scores q @ k^T / sqrt(hs) of shape (B, nh, T, L); query i sits at position L - T + i
    # and may see keys 0 .. L - T + i; softmax over the keys, @ v, heads side by side,
    # attn.c_proj.
    raise NotImplementedError("attend")


def forward(model, idx, cache=None, pos=0):
    """Logits (B, T, V) at every position of idx (B, T), whose first token is at position pos.

    Without a cache this is the model's own forward (in eval mode). With one, the keys
    and values of idx are appended to it, and idx attends to everything cached before.
    """
    # TODO: position ids pos .. pos + T - 1; wte(idx) + wpe(positions); for each block
    # x = x + attend(block.attn, block.ln_1(x), n_head, cache, i); x = x + block.mlp(block.ln_2(x));
    # then ln_f and lm_head on every position: (B, T, V).
    raise NotImplementedError("forward")


@torch.no_grad()
def generate(model, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
             stop_ids=(), generator=None, use_cache=True):
    """Yield up to max_new_tokens token ids after the prompt ids (a list); a stop id ends it unyielded.

    Every prediction sees the last block_size tokens (nanoGPT's crop). The cache lives
    only as long as this call: a new request always starts with an empty one.
    """
    # TODO: a fresh KVCache for this call (when use_cache); prefill the last block_size
    # prompt ids, then per step: sample_next, stop (without yielding) on a stop id, yield,
    # and run the new token alone through the cache at position len(cache). Once the cache
    # holds block_size positions, crop: run the last block_size ids without a cache.
    raise NotImplementedError("generate")


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
    # TODO: return a dict with ids (the encoded prompt, a string or a list holding one
    # string, or the chat template via render_chat when chat), max_tokens (default 16),
    # temperature (0..2, default 1), top_p ((0, 1], default 1), top_k (None when absent, 0
    # or -1), stop (a list of at most 4 strings; a single string becomes a list), seed (None
    # or any 64-bit int, negative too), stream (bool) and include_usage (from stream_options).
    # Refuse with APIError(400, message, param): a body that is not an object, n != 1, a
    # missing or unencodable prompt, any field of the wrong type or out of range (_number
    # does the type and range checks for you).
    raise NotImplementedError("parse_request")


# -----------------------------------------------------------------------------
# text: tokens -> deltas, with stop strings cut out


def held_back(text, stops):
    """How many characters at the end of text could be the start of a stop string."""
    # TODO: the length of the longest tail of text that is a proper prefix of one of
    # the stop strings (0 when none): that much must wait before it is sent.
    raise NotImplementedError("held_back")


def completion_text(model, tokenizer, p, info):
    """Yield the completion's text in pieces; info gets finish_reason and completion_tokens.

    A piece is sent only once no stop string can still begin inside it, so a stop that
    straddles two tokens is cut before any of it reaches the client.
    """
    # TODO: a torch.Generator seeded with p["seed"] (or gen.seed() when None); run
    # generate, decode each token, and after each one: if a stop string occurs in the text,
    # yield what is left before its first occurrence, set finish_reason "stop" and return;
    # else yield the new text except the held_back tail. After the last token, yield the rest.
    # Keep info["completion_tokens"] (tokens generated) and info["finish_reason"] up to date.
    raise NotImplementedError("completion_text")


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
        # TODO: /health answers 200 (any JSON); /v1/models answers {"object": "list",
        # "data": [{"id": self.model_name, "object": "model"}]}; anything else 404 with
        # APIError(404, ...).body().
        raise NotImplementedError("do_GET")

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
        # TODO: build OpenAI's answer. One id ("cmpl-..." / "chatcmpl-...") and one created
        # time for the whole answer. Without stream: {"id", "object": "text_completion" or
        # "chat.completion", "created", "model": self.model_name, "choices": [one choice], "usage"}
        # via self.send_json(200, ...). With stream: send_response(200), Content-Type
        # text/event-stream, end_headers, then self.send_event(chunk) per piece (chat: a first
        # chunk with delta {"role": "assistant", "content": ""}; object "chat.completion.chunk"),
        # one last chunk with the finish_reason, with include_usage a chunk with "choices": [] and
        # the usage, and finally the line data: [DONE]. Catch BrokenPipeError (the client left).
        raise NotImplementedError("complete")

    def send_event(self, obj):
        # TODO: one SSE event: b"data: " + the JSON + a blank line, then flush so the
        # client sees it now.
        raise NotImplementedError("send_event")

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
