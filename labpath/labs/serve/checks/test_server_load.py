"""Checks of the server under concurrent requests: no state may be shared between them."""

import threading
from concurrent.futures import ThreadPoolExecutor

from http_ref import deltas, stream
from serve_ref import MODEL_NAME, post_json

from labpath.checks import kit

N_TOKENS = 40  # long enough that four generations overlap in time


def streamed_text(port, body):
    chunks, _, _ = stream(port, "/v1/completions", body)
    return "".join(deltas(chunks, chat=False))


def test_interleaved_streams_match_sequential(server, expect):
    """Four streams at once (two greedy, two seeded samples) give the texts they give one by one."""
    p = expect.prompts(N_TOKENS, 2)
    base = {"model": MODEL_NAME, "max_tokens": N_TOKENS}
    bodies = [{**base, "prompt": p[0], "temperature": 0},
              {**base, "prompt": p[1], "temperature": 0},
              {**base, "prompt": p[0], "temperature": 1.3, "seed": 11},
              {**base, "prompt": p[1], "temperature": 1.3, "seed": 12}]
    alone = [streamed_text(server.port, b) for b in bodies]
    for i in (0, 1):
        if alone[i] != expect.text(p[i], N_TOKENS):
            kit.fail(f"a greedy stream of {N_TOKENS} tokens", yours=alone[i],
                     expected=expect.text(p[i], N_TOKENS))
    start = threading.Barrier(len(bodies))

    def run(body):
        start.wait(10)
        return streamed_text(server.port, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        together = list(pool.map(run, bodies))
    for i, (a, b) in enumerate(zip(alone, together)):
        if a != b:
            what = "greedy" if i < 2 else f"seed {bodies[i]['seed']}"
            kit.fail(f"request {i} ({what}) gave another text while three others ran at "
                     "the same time", yours=b, expected=a,
                     diagnosis="requests share state: a global random generator reseeded "
                     "per request (torch.manual_seed), or one cache for all"
                     if i >= 2 and a == alone[i] and together[:2] == alone[:2] else None,
                     hint="give each request its own torch.Generator and its own KVCache")


def test_sixteen_parallel_requests_complete(server, expect):
    """16 requests at once (8 completions, 8 chats, greedy) all answer, each correctly."""
    prompts = expect.prompts(6, 4)
    jobs = []
    for i in range(16):
        prompt = prompts[i % len(prompts)]
        if i % 2:
            jobs.append(("/v1/completions", {"model": MODEL_NAME, "prompt": prompt,
                                             "max_tokens": 6, "temperature": 0},
                         expect.text(prompt, 6)))
        else:
            jobs.append(("/v1/chat/completions",
                         {"model": MODEL_NAME, "max_tokens": 6, "temperature": 0,
                          "messages": [{"role": "user", "content": prompt}]},
                         expect.text(f"user: {prompt}\nassistant: ", 6)))

    def run(job):
        try:
            status, reply = post_json(server.port, job[0], job[1])
        except OSError as e:  # reset or refused: the listen backlog overflowed
            return e
        if status != 200 or not isinstance(reply, dict):
            return f"HTTP {status}: {str(reply)[:100]}"
        c = (reply.get("choices") or [{}])[0]
        return c.get("text") if job[0].endswith("/completions") and "text" in c else \
            (c.get("message") or {}).get("content")

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(run, jobs))
    lost = [a for a in answers if isinstance(a, OSError)]
    if lost:
        kit.fail(f"{len(lost)} of 16 parallel connections failed: {lost[0]!r}",
                 hint="socketserver listens with a backlog of 5 connections "
                 "(request_queue_size); set it to 64 or more before creating the server")
    for (path, _, want), got in zip(jobs, answers):
        if want is not None and got != want:
            kit.fail(f"one of 16 parallel requests to {path}", yours=got, expected=want)
