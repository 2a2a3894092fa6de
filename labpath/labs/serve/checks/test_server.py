"""Checks of the HTTP API: the learner's server as a subprocess, driven over loopback.

One server serves every check (`python serve.py --port P --checkpoint ckpt.pt`, no
--host); each request has a 10 s timeout. Expected texts are greedy continuations from
the learner's own GPT forward (no cache), so the server's cached generation must agree.
"""

import http.client
import json

from http_ref import chat_prompt, deltas, finish_reasons, joined, stream
from serve_ref import MODEL_NAME, listen_address, post_json, request

from labpath.checks import kit


def completion(server, body, path="/v1/completions"):
    status, reply = post_json(server.port, path, {"model": MODEL_NAME, **body})
    if status != 200 or not isinstance(reply, dict):
        kit.fail(f"POST {path} {json.dumps(body)[:100]} answered HTTP {status}",
                 yours=str(reply)[:300])
    return reply


def choice(reply, what):
    choices = reply.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        kit.fail(f"{what}: 'choices' must be a list of one choice", yours=str(choices)[:200])
    return choices[0]


def text_of(server, body, what):
    return choice(completion(server, body), what).get("text")


def test_server_listens_on_loopback_by_default(server):
    """Started without --host, the server accepts connections on 127.0.0.1 only."""
    status, _, _ = request(server.port, "GET", "/health")
    if status != 200:
        kit.fail("GET /health must answer 200", yours=status, expected=200)
    where = listen_address(server.port)
    if where is not None and where not in ("127.0.0.1", "::1"):
        kit.fail(f"started without --host, your server listens on {where}, reachable from "
                 "other machines", expected="127.0.0.1",
                 diagnosis="bind to loopback by default: --host defaults to 127.0.0.1",
                 hint='ap.add_argument("--host", default="127.0.0.1")')


def test_models_lists_the_served_model(server):
    """GET /v1/models lists one model, named by --model-name."""
    status, headers, data = request(server.port, "GET", "/v1/models")
    try:
        reply = json.loads(data)
    except ValueError:
        kit.fail("GET /v1/models must answer JSON", yours=data[:200])
    kind = headers.get("content-type", "")
    if not kind.split(";")[0].strip().lower().endswith("json"):
        kit.fail("GET /v1/models must say its body is JSON in the Content-Type header",
                 yours=kind or "no Content-Type", expected="application/json",
                 hint='send_header("Content-Type", "application/json") before end_headers()')
    ids = [m.get("id") for m in reply.get("data", []) if isinstance(m, dict)]
    if status != 200 or reply.get("object") != "list" or ids != [MODEL_NAME]:
        kit.fail('GET /v1/models must answer {"object": "list", "data": [{"id": NAME, '
                 '"object": "model"}]}', yours=str(reply)[:200], expected=[MODEL_NAME])


def test_completion_matches_greedy_generation(server, expect, tok):
    """POST /v1/completions at temperature 0: OpenAI's schema, the greedy text, token counts."""
    prompt = expect.prompts(12, 1)[0]
    want = expect.text(prompt, 12)
    reply = completion(server, {"prompt": prompt, "max_tokens": 12, "temperature": 0})
    c = choice(reply, "a completion")
    if reply.get("object") != "text_completion" or not isinstance(reply.get("id"), str):
        kit.fail("a completion has 'id' (a string) and 'object': 'text_completion'",
                 yours={k: reply.get(k) for k in ("id", "object")})
    if c.get("text") != want:
        kit.fail(f"the completion of {prompt!r} at temperature 0 is not the greedy "
                 "continuation of your GPT", yours=c.get("text"), expected=want,
                 hint="check test_cached_generation_equals_uncached first")
    if c.get("finish_reason") != "length":
        kit.fail("finish_reason after max_tokens tokens", yours=c.get("finish_reason"),
                 expected="length")
    n_prompt = len(tok.encode(prompt))
    usage = reply.get("usage") or {}
    want_usage = {"prompt_tokens": n_prompt, "completion_tokens": 12,
                  "total_tokens": n_prompt + 12}
    got = {k: usage.get(k) for k in want_usage}
    if got != want_usage:
        chars = (usage.get("prompt_tokens") == len(prompt)
                 or usage.get("completion_tokens") == len(want))
        kit.fail("usage must count tokens (the prompt's tokens, the generated ones)",
                 yours=got, expected=want_usage,
                 diagnosis="usage counts characters, not tokens" if chars else None)


def test_max_tokens_defaults_to_16_and_ends_with_length(server, expect, tok):
    """max_tokens=5 gives 5 tokens, no max_tokens gives 16; both finish with "length"."""
    prompt = expect.prompts(16, 2)[1]
    for body, n in (({"max_tokens": 5}, 5), ({}, 16)):
        reply = completion(server, {"prompt": prompt, "temperature": 0, **body})
        c = choice(reply, "a completion")
        want = expect.text(prompt, n)
        if c.get("text") != want:
            kit.fail(f"completion with {body or 'no max_tokens'}: {n} greedy tokens",
                     yours=c.get("text"), expected=want,
                     hint="OpenAI's default max_tokens is 16" if not body else None)
        if c.get("finish_reason") != "length":
            kit.fail(f"finish_reason when max_tokens ({n}) is reached",
                     yours=c.get("finish_reason"), expected="length",
                     diagnosis='finish_reason is "stop" although max_tokens was hit'
                     if c.get("finish_reason") == "stop" else None)


def test_chat_completion_renders_the_plain_template(server, expect, tok):
    """POST /v1/chat/completions continues "role: content\\n" lines and "assistant: "."""
    for user in ("hello there", "what is it?", "tell me more"):
        messages = [{"role": "system", "content": "be brief."}, {"role": "user", "content": user}]
        want = expect.text(chat_prompt(messages), 10)
        if want is not None:
            break
    reply = completion(server, {"messages": messages, "max_tokens": 10, "temperature": 0},
                       "/v1/chat/completions")
    c = choice(reply, "a chat completion")
    msg = c.get("message") or {}
    if reply.get("object") != "chat.completion" or msg.get("role") != "assistant":
        kit.fail("a chat completion has 'object': 'chat.completion' and a message with "
                 "role 'assistant'", yours={"object": reply.get("object"),
                                            "role": msg.get("role")})
    if msg.get("content") != want:
        kit.fail("the chat reply at temperature 0 is not the greedy continuation of "
                 f"{chat_prompt(messages)!r}", yours=msg.get("content"), expected=want,
                 hint='render each message as f"{role}: {content}\\n", then "assistant: "')
    parts = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in messages]
    again = completion(server, {"messages": parts, "max_tokens": 10, "temperature": 0},
                       "/v1/chat/completions")
    got = (choice(again, "a chat completion").get("message") or {}).get("content")
    if got != want:
        kit.fail('messages whose content is a list of parts [{"type": "text", "text": ...}] '
                 "(as newer clients send) must give the same reply", yours=got, expected=want,
                 hint="join the text of the parts")
    n = len(tok.encode(chat_prompt(messages)))
    if (reply.get("usage") or {}).get("prompt_tokens") != n:
        kit.fail("usage.prompt_tokens of a chat request counts the rendered template's "
                 "tokens", yours=(reply.get("usage") or {}).get("prompt_tokens"), expected=n)


def test_completion_stream_is_sse_ending_with_done(server, expect):
    """stream: true sends data: chunks of new text, one finish_reason, then data: [DONE]."""
    prompt = expect.prompts(12, 3)[2]
    want = expect.text(prompt, 12)
    chunks, _, _ = stream(server.port, "/v1/completions",
                          {"model": MODEL_NAME, "prompt": prompt, "max_tokens": 12,
                           "temperature": 0})
    if any(c.get("object") != "text_completion" for c in chunks):
        kit.fail("every completion chunk has 'object': 'text_completion'",
                 yours=sorted({str(c.get("object")) for c in chunks}))
    text = joined(deltas(chunks, chat=False), want, "a streamed completion")
    if text != want:
        kit.fail("the concatenated stream is not the non-streamed completion", yours=text,
                 expected=want)
    reasons = finish_reasons(chunks)
    if reasons != ["length"]:
        kit.fail("exactly one chunk of a stream carries a finish_reason", yours=reasons,
                 expected=["length"])


def test_chat_stream_starts_with_the_role_and_ends_with_usage(server, expect, tok):
    """A chat stream: role first, content deltas, and with include_usage a last chunk of usage."""
    messages = [{"role": "user", "content": expect.prompts(8, 4)[3]}]
    want = expect.text(chat_prompt(messages), 8)
    if want is None:
        messages = [{"role": "user", "content": "hello there"}]
        want = expect.text(chat_prompt(messages), 8)
    chunks, _, _ = stream(server.port, "/v1/chat/completions",
                          {"model": MODEL_NAME, "messages": messages, "max_tokens": 8,
                           "temperature": 0, "stream_options": {"include_usage": True}})
    if any(c.get("object") != "chat.completion.chunk" for c in chunks):
        kit.fail("every chat chunk has 'object': 'chat.completion.chunk'",
                 yours=sorted({str(c.get("object")) for c in chunks}))
    first = (chunks[0].get("choices") or [{}])[0].get("delta") or {}
    if first.get("role") != "assistant":
        kit.fail("the first chat chunk's delta must say role: assistant", yours=first)
    last = chunks[-1]
    n = len(tok.encode(chat_prompt(messages)))
    want_usage = {"prompt_tokens": n, "completion_tokens": 8, "total_tokens": n + 8}
    got = {k: (last.get("usage") or {}).get(k) for k in want_usage}
    if last.get("choices") != [] or got != want_usage:
        kit.fail("with stream_options.include_usage the last chunk has choices: [] and the "
                 "usage", yours={"choices": last.get("choices"), "usage": last.get("usage")},
                 expected={"choices": [], "usage": want_usage})
    text = joined(deltas(chunks, chat=True), want, "a streamed chat reply")
    if text != want:
        kit.fail("the concatenated chat stream is not the greedy reply", yours=text,
                 expected=want)
    if finish_reasons(chunks) != ["length"]:
        kit.fail("exactly one chunk of a stream carries a finish_reason",
                 yours=finish_reasons(chunks), expected=["length"])


def stop_cases(expect, tok):
    """(prompt, stop, expected text) with one stop across two tokens and one inside a token."""
    cases = []
    for prompt in expect.prompts(16, 6):
        ids = expect.tokens(prompt, 16)
        full = tok.decode(ids)
        ends = [len(tok.decode(ids[: i + 1])) for i in range(len(ids))]
        across = inside = None
        for i in range(2, 14):
            b = ends[i]
            s = full[b - 1 : b + 1]  # the last character of token i and the first of i + 1
            if across is None and s not in tok.stoi and full.find(s) >= 2:
                across = s
            piece = tok.itos[ids[i]]
            if inside is None and len(piece) == 2 and full.find(piece[1]) == ends[i] - 1:
                inside = piece[1]  # a stop that ends half way through a token
        if across and not cases:
            cases.append((prompt, across, full[: full.find(across)], full))
        elif inside and len(cases) == 1:
            cases.append((prompt, inside, full[: full.find(inside)], full))
        if len(cases) == 2:
            return cases
    raise kit.HarnessError("no prompt gives both stop cases")


def stop_mistake(yours, want, stop, full):
    if yours == full:
        return ("the stop string was never found: it spans two tokens (or ends inside "
                "one), so search the decoded text, not each token")
    if yours.startswith(want + stop):
        return "the stop string is included in the output: cut the text before it"
    if yours.startswith(want) and len(yours) < len(want) + len(stop):
        return ("part of the stop string leaked into the output: hold back text that "
                "could be the start of a stop string until it is decided")
    return None


def test_stop_strings_are_cut_and_never_streamed(server, expect, tok):
    """stop: the text ends before the first stop string, also across tokens and in streams."""
    for prompt, stop, want, full in stop_cases(expect, tok):
        body = {"model": MODEL_NAME, "prompt": prompt, "max_tokens": 16, "temperature": 0}
        for stops in (stop, ["zzzz", stop]):
            c = choice(completion(server, {**body, "stop": stops}), "a completion")
            if c.get("text") != want or c.get("finish_reason") != "stop":
                kit.fail(f"completion of {prompt!r} with stop={stops!r} (greedy text "
                         f"{full!r})", yours=[c.get("text"), c.get("finish_reason")],
                         expected=[want, "stop"],
                         diagnosis=stop_mistake(c.get("text") or "", want, stop, full))
        chunks, _, _ = stream(server.port, "/v1/completions", {**body, "stop": [stop]})
        text = "".join(deltas(chunks, chat=False))
        if text != want or finish_reasons(chunks) != ["stop"]:
            kit.fail(f"streamed completion of {prompt!r} with stop={[stop]!r} (greedy text "
                     f"{full!r})", yours=[text, finish_reasons(chunks)],
                     expected=[want, ["stop"]],
                     diagnosis=stop_mistake(text, want, stop, full))


def test_seed_makes_sampling_repeatable(server, expect):
    """The same request with seed 7 at temperature 1.5 twice gives one text; seed 8 another."""
    prompt = expect.prompts(4, 1)[0]
    body = {"prompt": prompt, "max_tokens": 20, "temperature": 1.5}
    texts = [choice(completion(server, {**body, "seed": s}), "a completion").get("text")
             for s in (7, 7, 8)]
    if texts[0] != texts[1]:
        kit.fail("two requests with seed 7 sampled different texts", yours=texts[1],
                 expected=texts[0], hint="seed a torch.Generator per request and pass it "
                 "to generate: the same seed must give the same text")
    if texts[0] == texts[2]:
        kit.fail("seeds 7 and 8 sampled the same 20 tokens at temperature 1.5: the seed "
                 "does not reach the sampler", yours=texts[2])


def test_prompt_may_be_a_list_of_one_string(server, expect):
    """"prompt": ["text"], a list holding one string as OpenAI's API takes it, is "text"."""
    prompt = expect.prompts(6, 2)[1]
    want = expect.text(prompt, 6)
    body = {"model": MODEL_NAME, "prompt": [prompt], "max_tokens": 6, "temperature": 0}
    status, reply = post_json(server.port, "/v1/completions", body)
    if status != 200 or not isinstance(reply, dict):
        kit.fail(f'POST /v1/completions with "prompt": {json.dumps([prompt])} (a list of '
                 "one string, which OpenAI's API accepts)", yours=f"HTTP {status}: "
                 f"{str(reply)[:200]}", expected="HTTP 200",
                 hint="a list holding one string is that string's prompt: unwrap it "
                 "before encoding")
    got = choice(reply, "a completion").get("text")
    if got != want:
        kit.fail(f"the completion of the prompt {json.dumps([prompt])} is the completion "
                 f"of {prompt!r}", yours=got, expected=want)


def test_temperature_defaults_to_1(server, expect):
    """A seeded request without temperature samples as with temperature 1 (OpenAI's default)."""
    prompt = expect.prompts(20, 1)[0]
    body = {"prompt": prompt, "max_tokens": 20, "seed": 5}
    at_1 = text_of(server, {**body, "temperature": 1}, "a completion")
    got = text_of(server, body, "a completion")
    if got != at_1:
        greedy = expect.text(prompt, 20)
        kit.fail("a request with seed 5 and no temperature must sample as the same request "
                 "with temperature 1", yours=got, expected=at_1,
                 diagnosis="an omitted temperature is read as 0 (greedy); OpenAI's default "
                 "is 1" if got == greedy != at_1 else None,
                 hint="temperature defaults to 1.0; only an explicit 0 is greedy")


def test_top_k_and_top_p_reach_the_sampler(server, expect):
    """At temperature 1.5, top_k=1 or top_p=0.001 leave the greedy text; top_k 0 or -1 none."""
    prompt = expect.prompts(12, 3)[2]
    want = expect.text(prompt, 12)
    body = {"prompt": prompt, "max_tokens": 12, "temperature": 1.5, "seed": 3}
    for extra in ({"top_k": 1}, {"top_p": 0.001}):
        got = text_of(server, {**body, **extra}, "a completion")
        if got != want:
            kit.fail(f"a completion at temperature 1.5 with {json.dumps(extra)} keeps only "
                     "the likeliest token at each step, so it is the greedy text",
                     yours=got, expected=want,
                     hint="pass the request's top_k and top_p on to generate")
    free = text_of(server, body, "a completion")
    for k in (0, -1):  # vLLM's and llama.cpp's "no top-k"
        got = text_of(server, {**body, "top_k": k}, "a completion")
        if got != free:
            kit.fail(f"top_k={k} turns top-k off, so with seed 3 the text is the one "
                     "without top_k", yours=got, expected=free,
                     hint="read top_k 0 or -1 as None (no top-k)")


def test_values_at_the_ends_of_each_range_are_accepted(server, expect):
    """n 1, temperature 0 and 2, top_p 1, top_k -1, seeds of 64 bits, four stops: all valid."""
    ok = {"model": MODEL_NAME, "prompt": expect.prompts(4, 1)[0], "max_tokens": 2}
    edges = [("n", 1), ("temperature", 0), ("temperature", 2), ("top_p", 1), ("top_k", -1),
             ("seed", -1), ("seed", -(1 << 63)), ("seed", (1 << 63) - 1),
             ("stop", ["zzzz", "qqqq", "jjjj", "xxxx"])]
    for name, value in edges:
        status, reply = post_json(server.port, "/v1/completions", {**ok, name: value})
        if status != 200:
            kit.fail(f'"{name}": {json.dumps(value)} is inside OpenAI\'s range, so the '
                     "request must succeed", yours=f"HTTP {status}: {str(reply)[:200]}",
                     expected="HTTP 200",
                     hint="the ranges include their ends: temperature 0 to 2, top_p up to "
                     "1, n = 1, up to 4 stop strings, any 64-bit seed")


def test_bad_requests_get_openai_errors(server, expect):
    """Bad requests answer 400 with {"error": {"message", "type", "param"}}; unknown routes 404."""
    prompt = expect.prompts(4, 1)[0]
    ok = {"model": MODEL_NAME, "prompt": prompt, "max_tokens": 2}
    cases = [
        ("a body that is not JSON", "/v1/completions", b'{"prompt": "the", ', 400, None),
        ("a JSON body that is not an object", "/v1/completions", b"[1, 2]", 400, None),
        ("five stop strings (OpenAI takes up to 4)", "/v1/completions",
         {**ok, "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
        ("n=2", "/v1/completions", {**ok, "n": 2}, 400, "n"),
        ("temperature=-1", "/v1/completions", {**ok, "temperature": -1}, 400, "temperature"),
        ('max_tokens="five"', "/v1/completions", {**ok, "max_tokens": "five"}, 400,
         "max_tokens"),
        ("temperature=2.5 (OpenAI's range is 0 to 2)", "/v1/completions",
         {**ok, "temperature": 2.5}, 400, "temperature"),
        ("top_p=1.5 (the range is (0, 1])", "/v1/completions", {**ok, "top_p": 1.5}, 400,
         "top_p"),
        ("top_p=-0.5", "/v1/completions", {**ok, "top_p": -0.5}, 400, "top_p"),
        ("max_tokens=2.5", "/v1/completions", {**ok, "max_tokens": 2.5}, 400, "max_tokens"),
        ("top_k=2.5", "/v1/completions", {**ok, "top_k": 2.5}, 400, "top_k"),
        ("seed=1.5", "/v1/completions", {**ok, "seed": 1.5}, 400, "seed"),
        ("a prompt with characters outside the vocabulary", "/v1/completions",
         {**ok, "prompt": "Zebra #1"}, 400, "prompt"),
        ("no prompt", "/v1/completions", {"model": MODEL_NAME}, 400, "prompt"),
        ("no messages", "/v1/chat/completions", {"model": MODEL_NAME}, 400, "messages"),
        ("a message without a role", "/v1/chat/completions",
         {"model": MODEL_NAME, "messages": [{"content": prompt}]}, 400, "messages"),
        ("a message that is not an object", "/v1/chat/completions",
         {"model": MODEL_NAME, "messages": [prompt]}, 400, "messages"),
        ("an unknown route", "/v1/nothing", ok, 404, None),
    ]
    for what, path, body, code, param in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _, data = request(server.port, "POST", path, raw=raw)
        if status != code:
            kit.fail(f"POST {path} with {what}", yours=f"HTTP {status}",
                     expected=f"HTTP {code}", hint="refuse it with 400 and OpenAI's error "
                     'body {"error": {"message": ..., "type": "invalid_request_error"}}')
        if code != 400:
            continue
        try:
            err = json.loads(data).get("error")
        except (ValueError, AttributeError):
            err = None
        if not (isinstance(err, dict) and isinstance(err.get("message"), str)
                and isinstance(err.get("type"), str)):
            kit.fail(f"the 400 for {what} must have OpenAI's error body",
                     yours=data[:200].decode("utf-8", "replace"),
                     expected='{"error": {"message": "...", "type": "invalid_request_error"}}',
                     diagnosis="the error body is not OpenAI's shape "
                     '{"error": {"message", "type"}}')
        named = err.get("param")
        # the field itself, or a part of it as OpenAI names one: messages[0].role
        if param and not (named == param or (isinstance(named, str) and named.startswith(
                (param + "[", param + ".")))):
            kit.fail(f"the 400 for {what} must name the field in error.param",
                     yours=named, expected=param)
    try:
        status, _, _ = request(server.port, "GET", "/v1/nothing")
    except (OSError, http.client.HTTPException) as e:
        status = f"no answer ({type(e).__name__})"
    if status != 404:
        kit.fail("GET /v1/nothing (an unknown route)", yours=f"HTTP {status}",
                 expected="HTTP 404", hint="do_GET: answer 404 with OpenAI's error body "
                 "for any path other than /health and /v1/models")
    status, _, _ = request(server.port, "GET", "/health")
    if status != 200:
        kit.fail("after the bad requests, GET /health", yours=status, expected=200)
