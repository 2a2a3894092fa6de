"""Shared fixtures for the gpt-train checks: your train.py and prepare.py, your GPT and BPE.

train.py imports `from model import GPT, GPTConfig` (the gpt2 lab) and prepare.py
`from bpe import RegexTokenizer` (the bpe lab); both are found here the way the other
labs find them: a copy in this folder, else the lab the learner finished.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labpath.checks import kit

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def gpt():
    """The GPT to train: model.py here, else the learner's gpt2 lab."""
    module = kit.learner_module("model", lab="gpt2")
    for name in ("GPTConfig", "GPT"):
        if not hasattr(module, name):
            kit.fail(f"the gpt2 lab's model.py defines no {name}",
                     hint="finish `labpath check gpt2` first: this lab trains that GPT")
    # train.py says `from model import GPT`: make that name this module
    sys.modules["model"] = module
    return module


@pytest.fixture(scope="session")
def bpe():
    """The tokenizer: bpe.py here, else the learner's bpe lab."""
    module = kit.learner_module("bpe", lab="bpe")
    sys.modules["bpe"] = module
    return module


@pytest.fixture(scope="session")
def train(gpt):
    module = kit.learner_module("train")
    needed = ("TrainConfig", "get_lr", "configure_optimizers", "get_batch", "estimate_loss",
              "train_step", "save_checkpoint", "load_checkpoint", "train")
    missing = [n for n in needed if not hasattr(module, n)]
    if missing:
        kit.fail(f"your train.py defines no {', '.join(missing)}",
                 hint="train.py needs the names of the brief's contract: " + ", ".join(needed))
    return module


@pytest.fixture(scope="session")
def prepare(bpe):
    module = kit.learner_module("prepare")
    needed = ("collect_code_files", "find_secrets", "dedup", "split", "encode_to_bin", "prepare")
    missing = [n for n in needed if not hasattr(module, n)]
    if missing:
        kit.fail(f"your prepare.py defines no {', '.join(missing)}",
                 hint="prepare.py needs the names of the brief's contract: " + ", ".join(needed))
    return module


def code_paths(*modules):
    """The folders a fresh process needs on sys.path to import the learner's files."""
    return [str(Path(m.__file__).resolve().parent) for m in modules]


def run_python(args, timeout, what, errors=None, hint=None, path=None, stuck=None):
    """Run a helper script in a fresh interpreter with one thread; its stdout, or a failure.

    errors: a glob of the files worker.py writes a traceback to (one per process);
    stuck: the hint when the run does not finish in time.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    if path:
        env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    try:
        proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        kit.fail(f"{what} did not finish within {timeout} s",
                 hint=stuck or "the check's runs are a few tiny steps; look for a loop that never ends")
    if proc.returncode != 0:
        text = proc.stderr or proc.stdout
        found = sorted(Path(errors).parent.glob(Path(errors).name)) if errors else []
        if found:
            text = found[0].read_text()
        tail = text.strip().splitlines()[-8:]
        kit.fail(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(tail),
                 hint=hint or "run the same command yourself to see the whole traceback")
    return proc.stdout


def git_repo(root, files, ignored=()):
    """A real git repository at root with files committed ({relpath: text or bytes})."""
    root.mkdir(parents=True)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    if ignored:
        (root / ".gitignore").write_text("\n".join(ignored) + "\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "code"]):
        subprocess.run(["git", "-C", str(root), *cmd], check=True, env=env, capture_output=True)
    return root


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """The check models are tiny: one thread is faster than several fighting for cores."""
    yield from kit.one_thread()
