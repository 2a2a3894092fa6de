"""Shared fixtures for the serve checks: the learner's serve.py, their GPT, one running server."""

import pickle
import re
from pathlib import Path

import http_ref
import pytest
import serve_ref
import torch

from labpath.checks import kit

NAMES = ("filter_logits", "sample_next", "KVCache", "forward", "generate", "main")
START_TIMEOUT = 30.0  # seconds for the server to answer /health (torch's import included)


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check model is tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()


@pytest.fixture(scope="session")
def gpt():
    """The GPT to serve: model.py here, else the learner's gpt2 lab (labs/gpt2/model.py)."""
    module = kit.learner_module("model", lab="gpt2")
    for name in ("GPTConfig", "GPT"):
        if not hasattr(module, name):
            kit.fail(f"the gpt2 lab's model.py defines no {name}",
                     hint="finish `labpath check gpt2` first: this lab serves that GPT")
    return module


@pytest.fixture(scope="session")
def serve(gpt):
    """The learner's serve.py; it must define the contract's functions and classes."""
    module = kit.learner_module("serve")
    missing = [n for n in NAMES if not hasattr(module, n)]
    if missing:
        kit.fail(f"your serve.py defines no {', '.join(missing)}",
                 hint="keep the starter's names: filter_logits, sample_next, KVCache, "
                 "forward, generate and main")
    return module


@pytest.fixture(scope="session")
def tok():
    return serve_ref.RefTokenizer()


@pytest.fixture(scope="session")
def model64(gpt):
    """The tiny GPT in float64, where cached and full forwards agree to ~1e-15."""
    return serve_ref.build_model(gpt, kit.seed(), torch.float64)


@pytest.fixture(scope="session")
def model32(gpt):
    """The same weights in float32, as the server loads them."""
    return serve_ref.build_model(gpt, kit.seed(), torch.float32)


@pytest.fixture(scope="session")
def expect(model32, tok):
    """Greedy texts of the fp32 model from your GPT's full forward: what the server must say."""
    return http_ref.Expect(model32, tok)


@pytest.fixture(scope="session")
def server(serve, gpt, model32, tmp_path_factory):
    """One server for every HTTP check: `python serve.py --port P --checkpoint ckpt.pt`."""
    folder = tmp_path_factory.mktemp("serve")
    ckpt = folder / "ckpt.pt"
    torch.save({"model_args": dict(serve_ref.CONFIG), "model": model32.state_dict()}, ckpt)
    tok = serve_ref.RefTokenizer()
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": tok.vocab_size, "itos": tok.itos, "stoi": tok.stoi}, f)
    proc = serve_ref.Server(Path(serve.__file__), Path(gpt.__file__).parent, ckpt,
                            folder / "server.log")
    try:
        problem = proc.wait_ready(START_TIMEOUT)
        todo = re.findall(r"NotImplementedError: (\w+)", proc.output(40)) if problem else []
        if todo:
            kit.fail(f"your server started, but {todo[-1]} still raises NotImplementedError "
                     "(a TODO in serve.py)", hint=f"fill in {todo[-1]}: the HTTP checks need it")
        if problem:
            kit.fail(f"{problem}; its last output:\n{proc.output()}",
                     hint="run it yourself: python serve.py --checkpoint ckpt.pt --port 8000, "
                     "then curl http://127.0.0.1:8000/health")
        yield proc
    finally:
        proc.stop()  # always, even when a check failed: no process or port is left behind
