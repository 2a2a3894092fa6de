"""The official openai client against the learner's server (optional: pip install 'labpath[test]')."""

from http_ref import chat_prompt
from serve_ref import MODEL_NAME

from labpath.checks import kit


def client(server):
    (openai,) = kit.optional("openai", extra="test")
    return openai, openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1",
                                 api_key="labpath", max_retries=0, timeout=10.0)


def test_openai_client_reads_completions_and_chat(server, expect, tok):
    """openai.OpenAI(base_url=.../v1): models, a completion, a chat reply and a chat stream."""
    openai, c = client(server)
    ids = [m.id for m in c.models.list()]
    if ids != [MODEL_NAME]:
        kit.fail("client.models.list()", yours=ids, expected=[MODEL_NAME])
    prompt = expect.prompts(8, 1)[0]
    r = c.completions.create(model=MODEL_NAME, prompt=prompt, max_tokens=8, temperature=0)
    if r.choices[0].text != expect.text(prompt, 8) or r.usage.completion_tokens != 8:
        kit.fail("client.completions.create(max_tokens=8, temperature=0)",
                 yours=[r.choices[0].text, r.usage.completion_tokens],
                 expected=[expect.text(prompt, 8), 8])
    messages = [{"role": "user", "content": prompt}]
    want = expect.text(chat_prompt(messages), 8)
    r = c.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=8,
                                  temperature=0)
    if r.choices[0].message.content != want:
        kit.fail("client.chat.completions.create(max_tokens=8, temperature=0)",
                 yours=r.choices[0].message.content, expected=want)
    pieces, usage, roles = [], None, []
    for chunk in c.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=8,
                                           temperature=0, stream=True,
                                           stream_options={"include_usage": True}):
        for ch in chunk.choices:
            roles += [ch.delta.role] if ch.delta.role else []
            pieces += [ch.delta.content] if ch.delta.content else []
        usage = chunk.usage or usage
    if "".join(pieces) != want or roles != ["assistant"]:
        kit.fail("client.chat.completions.create(stream=True): the concatenated deltas "
                 "and the roles", yours=["".join(pieces), roles], expected=[want, ["assistant"]])
    n = len(tok.encode(chat_prompt(messages)))
    if usage is None or (usage.prompt_tokens, usage.completion_tokens) != (n, 8):
        kit.fail("the stream's usage chunk, read by the client",
                 yours=None if usage is None else (usage.prompt_tokens, usage.completion_tokens),
                 expected=(n, 8))


def test_openai_client_raises_bad_request_for_n_2(server, expect):
    """n=2 makes the client raise openai.BadRequestError carrying the server's message."""
    openai, c = client(server)
    prompt = expect.prompts(4, 1)[0]
    try:
        c.completions.create(model=MODEL_NAME, prompt=prompt, max_tokens=2, n=2)
    except openai.BadRequestError as e:
        body = e.body if isinstance(e.body, dict) else {}
        if not isinstance(body.get("message"), str):
            kit.fail("openai.BadRequestError.body must hold the server's error message "
                     '(the body is {"error": {"message", "type"}})', yours=e.body)
        return
    except openai.APIStatusError as e:
        kit.fail("n=2 must be refused with HTTP 400", yours=e.status_code, expected=400)
    kit.fail("client.completions.create(n=2) returned instead of raising BadRequestError")
