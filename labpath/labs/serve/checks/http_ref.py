"""What the HTTP checks expect: greedy texts from the learner's GPT, prompts with clear margins."""

from __future__ import annotations

import json

import serve_ref

from labpath.checks import kit

CANDIDATES = ("the cat sat on", "once upon a time", "hello there", "what is it?",
              "to be or not", "serve it well", "a short note:", "the end of it",
              "here is a list", "one more line", "rain on the sea", "it was late")
MARGIN = 1e-4  # float32 cached vs full forwards differ by ~1e-6: ties closer than this are skipped


def chat_prompt(messages) -> str:
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "


class Expect:
    """Greedy continuations of the fp32 check model, computed once per prompt and length."""

    def __init__(self, model, tok):
        self.model, self.tok, self.memo = model, tok, {}

    def tokens(self, text: str, n: int) -> list[int] | None:
        """The greedy tokens, or None when a near-tie makes the answer float-dependent."""
        key = (text, n)
        if key not in self.memo:
            ids, margin = serve_ref.greedy(self.model, self.tok.encode(text), n)
            self.memo[key] = ids if margin > MARGIN else None
        return self.memo[key]

    def text(self, text: str, n: int) -> str | None:
        ids = self.tokens(text, n)
        return None if ids is None else self.tok.decode(ids)

    def prompts(self, n: int, count: int) -> list[str]:
        """count prompts whose greedy continuation of n tokens has clear margins."""
        good = [p for p in CANDIDATES if self.tokens(p, n) is not None]
        if len(good) < count:
            raise kit.HarnessError(f"only {len(good)} prompts with clear greedy margins")
        return good[:count]


def stream(port: int, path: str, body: dict) -> tuple[list[dict], dict, str]:
    """POST a streaming request: (JSON chunks, headers, the raw text); fails on bad framing."""
    status, headers, raw = serve_ref.request(port, "POST", path, {**body, "stream": True})
    if status != 200:
        kit.fail(f"POST {path} with stream: true answered HTTP {status}", yours=raw[:200])
    ctype = headers.get("content-type", "")
    if not ctype.startswith("text/event-stream"):
        kit.fail(f"a stream from {path} must have Content-Type: text/event-stream",
                 yours=ctype or None)
    events, problem = serve_ref.sse_events(raw)
    text = raw.decode("utf-8", "replace")
    if problem:
        kit.fail(f"the stream from {path} is not valid server-sent events: {problem}",
                 diagnosis="events must end with a blank line" if "blank line" in problem
                 else None, hint='write each event as "data: " + json + "\\n\\n"')
    if not events or events[-1] != "[DONE]":
        kit.fail(f"the stream from {path} must end with the event data: [DONE]",
                 yours=events[-1][:120] if events else "(no events)",
                 diagnosis="the stream must end with data: [DONE] (the literal text, not "
                 "JSON)" if events and "done" in events[-1].lower() else None)
    chunks = []
    for e in events[:-1]:
        try:
            chunks.append(json.loads(e))
        except ValueError:
            kit.fail(f"an event of the stream from {path} is not JSON", yours=e[:120])
    if not chunks:
        kit.fail(f"the stream from {path} holds no chunk before [DONE]")
    ids = {(c.get("id"), c.get("created")) for c in chunks}
    if len(ids) != 1:
        kit.fail(f"every chunk of one stream from {path} must carry the same id and "
                 "created", yours=sorted(map(str, ids))[:3])
    return chunks, headers, text


def finish_reasons(chunks) -> list:
    return [ch.get("finish_reason") for c in chunks for ch in c.get("choices") or []
            if ch.get("finish_reason") is not None]


def deltas(chunks, chat: bool) -> list[str]:
    out = []
    for c in chunks:
        for ch in c.get("choices") or []:
            piece = (ch.get("delta") or {}).get("content") if chat else ch.get("text")
            if piece:
                out.append(piece)
    return out


def joined(pieces: list[str], expected: str, what: str) -> str:
    """The concatenated deltas, failing with a diagnosis when they repeat the prefix."""
    text = "".join(pieces)
    if text != expected and len(pieces) > 1 and pieces[-1] == expected and all(
            expected.startswith(p) for p in pieces):
        kit.fail(f"{what}: the concatenated deltas are not the completion",
                 yours=text[:120], expected=expected,
                 diagnosis="each chunk re-sends the whole text so far: the concatenated "
                 "deltas repeat the prefix; send only the new text")
    return text
