"""The gpt-train lab's tools: the code corpus builder and the training run."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from labpath import corpus, labs
from labpath.errors import UsageError

RUN = labs.load("gpt-train").directory / "run.py"
APP = "def add(a, b):\n    total = a + b\n    return total\n\n\nprint(add(2, 3))\n"


def git_repo(root: Path, files: dict) -> Path:
    root.mkdir(parents=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "code"]):
        subprocess.run(["git", "-C", str(root), *cmd], check=True, capture_output=True)
    return root


def two_repos(tmp_path):
    a = git_repo(
        tmp_path / "alpha",
        {
            "app.py": APP * 3,
            "vendor/lib.py": "x = 1\n",
            "conf.py": 'password = "hunter2hunter2"\n',
        },
    )
    b = git_repo(
        tmp_path / "beta",
        {"copy.py": APP * 3, "tool.js": "function f(x) {\n  return x * 2;\n}\n" * 4},
    )
    return [a, b]


def test_code_corpus_from_git_repositories(tmp_path):
    out = tmp_path / "data"
    result = corpus.build_code_corpus(two_repos(tmp_path), out, vocab_size=270)
    assert result.repos == ("alpha", "beta")
    assert result.train_files + result.val_files == 3  # vendor/ out, the copy once
    assert result.duplicates == 1 and result.skipped == 1
    assert [(s.repo, s.path, s.line) for s in result.secrets] == [
        ("alpha", "conf.py", 1)
    ]
    assert result.vocab_size == 271  # 270 ids and <|endoftext|>
    meta = pickle.loads((out / "meta.pkl").read_bytes())
    assert meta["vocab_size"] == 271
    sizes = [(out / f"{s}.bin").stat().st_size for s in ("train", "val")]
    assert sizes == [2 * result.train_tokens, 2 * result.val_tokens]
    assert min(sizes) > 0


def test_code_corpus_refuses_a_folder_that_is_not_a_repository(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError) as err:
        corpus.build_code_corpus([plain], tmp_path / "data")
    assert "not a git repository" in err.value.message
    assert "git -C" in err.value.hint
    with pytest.raises(UsageError, match="no such folder"):
        corpus.build_code_corpus([tmp_path / "missing"], tmp_path / "data")


def test_code_corpus_keeps_an_existing_corpus_unless_forced(tmp_path):
    repos = two_repos(tmp_path)
    out = tmp_path / "data"
    out.mkdir()
    (out / "train.bin").write_bytes(b"mine")
    with pytest.raises(UsageError) as err:
        corpus.build_code_corpus(repos, out, vocab_size=260)
    assert "--force" in err.value.hint
    assert (out / "train.bin").read_bytes() == b"mine"
    corpus.build_code_corpus(repos, out, vocab_size=260, force=True)
    assert (out / "train.bin").read_bytes() != b"mine"


def test_code_corpus_rejects_bad_settings(tmp_path):
    repos = two_repos(tmp_path)
    with pytest.raises(UsageError, match="vocab-size 70000"):
        corpus.build_code_corpus(repos, tmp_path / "d", vocab_size=70_000)
    with pytest.raises(UsageError, match="val-fraction"):
        corpus.build_code_corpus(repos, tmp_path / "d", val_fraction=1.5)
    with pytest.raises(UsageError, match="no bpe.py"):
        corpus.build_code_corpus(repos, tmp_path / "d", tokenizer_dir=tmp_path)
    empty = git_repo(tmp_path / "docs", {"README.md": "# docs\n"})
    with pytest.raises(UsageError, match="no source files"):
        corpus.build_code_corpus([empty], tmp_path / "d")


def run(args, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("LABPATH_TARGET", None)
    return subprocess.run(
        [sys.executable, str(RUN), "--device", "cpu", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


TINY = [
    "--n-layer",
    "1",
    "--n-head",
    "2",
    "--n-embd",
    "16",
    "--block-size",
    "16",
    "--batch-size",
    "4",
    "--eval-every",
    "5",
    "--eval-iters",
    "2",
    "--functions",
    "3",
    "--max-new-tokens",
    "8",
]


@pytest.mark.slow
def test_run_trains_writes_artifacts_and_resumes(tmp_path):
    repos = tmp_path / "repos"
    for r in two_repos(repos):
        assert r.is_dir()
    out = tmp_path / "out"
    first = run(
        [
            "--data",
            str(repos),
            "--out",
            str(out),
            "--steps",
            "10",
            "--vocab-size",
            "270",
            *TINY,
        ],
        tmp_path,
    )
    assert first.returncode == 0, first.stderr + first.stdout
    assert "tok/s" in first.stderr
    for name in ("gpt-train-loss.png", "ckpt.pt", "completions.md"):
        assert (out / name).is_file(), name
    figures = json.loads((out / "gpt-train-figures.json").read_text())
    assert figures["steps"] == 10 and figures["val_perplexity"] > 1
    again = run(
        ["--data", str(repos), "--out", str(out), "--steps", "20", "--resume", *TINY],
        tmp_path,
    )
    assert again.returncode == 0, again.stderr + again.stdout
    figures = json.loads((out / "gpt-train-figures.json").read_text())
    assert figures["steps"] == 20 and figures["steps_this_run"] == 10
    history = json.loads((out / "history.json").read_text())
    assert len(history["losses"]) == 20


def test_run_resume_without_a_checkpoint_is_an_error(tmp_path):
    done = run(["--out", str(tmp_path / "none"), "--resume"], tmp_path)
    assert done.returncode == 2
    assert "Error: --resume: no checkpoint" in done.stderr


def test_data_code_command_builds_the_corpus_and_says_what_it_found(cli, tmp_path):
    repos = two_repos(tmp_path)
    out = tmp_path / "data"
    r = cli("data", "code", *repos, "--out", out, "--vocab-size", 270)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("alpha, beta: ") and str(out) in r.stdout
    assert "alpha/conf.py:1 looks like a secret" in r.stderr
    assert "hunter2hunter2" not in r.output  # the secret itself is never echoed
    r = cli("data", "code", *repos, "--out", out, "--vocab-size", 270)
    assert r.exit_code == 2 and r.stderr.startswith(f"Error: {out} already holds")
    r = cli(
        "data", "code", *repos, "--out", out, "--vocab-size", 270, "--force", "--json"
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["repos"] == ["alpha", "beta"] and data["vocab_size"] == 271
    assert data["secrets"][0]["path"] == "conf.py"
    r = cli("data", "code", tmp_path / "nowhere", "--out", tmp_path / "d2")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_data_code_uses_the_learners_own_bpe_in_a_workspace(cli, ws, tmp_path):
    assert cli("init", ws).exit_code == 0
    own = ws / "labs" / "bpe"
    own.mkdir(parents=True)
    reference = (labs.load("bpe").solution_dir / "bpe.py").read_text()
    (own / "bpe.py").write_text(reference)
    (repo,) = two_repos(tmp_path)[:1]
    r = cli("data", "code", repo, "--out", tmp_path / "data", "--vocab-size", 270)
    assert r.exit_code == 0, r.output
    assert f"Tokenizer: your {own / 'bpe.py'}" in r.stderr
