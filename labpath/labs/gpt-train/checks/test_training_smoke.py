"""The whole pipeline once: your prepare() on real git repositories of Python code, your BPE,
your train() on the result.

The code is a fixed slice of Python's own standard library (the gpt2 lab's corpus), put
into three git repositories; the tokenizer is your bpe lab's RegexTokenizer with 32
merges. Figures (initial loss near ln V, a clear fall in 60 steps) are calibrated on the
reference for seeds 0..9; see the README.
"""

import math
import pickle
import sysconfig
from pathlib import Path

import numpy as np
from conftest import git_repo

from labpath.checks import kit

CORPUS_BYTES = 90_000
STEPS = 60
# reference over seeds 0..9: val loss falls from ln V (5.67) by 1.38 to 1.78 in 60 steps
MIN_DROP = 0.7


def stdlib_repos(root):
    lib = Path(sysconfig.get_paths()["stdlib"])
    picked, size = [], 0
    for p in sorted(lib.glob("*.py")):
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not 2_000 < len(text) < 12_000 or max(map(len, text.splitlines()), default=0) > 200:
            continue
        picked.append((p.name, text))
        size += len(text)
        if size > CORPUS_BYTES:
            break
    return [git_repo(root / f"repo{k}", dict(picked[k::3])) for k in range(3)]


@kit.after("test_bin_files_round_trip_as_uint16", "test_end_of_text_ends_each_text_and_has_an_embedding_row",
           "test_batches_are_windows_with_targets_shifted_by_one", "test_accumulated_step_equals_one_big_batch")
def test_training_on_prepared_code_starts_at_ln_v_and_learns(prepare, train, bpe, tmp_path):
    """prepare() on 3 git repos + train() for 60 steps: val loss starts within 0.15 of ln V and falls by 0.7+."""
    repos = stdlib_repos(tmp_path)
    tok = bpe.RegexTokenizer()
    sample = "".join(p.read_text() for p in sorted(repos[0].glob("*.py")))[:12_000]
    tok.train(sample, 256 + 32)
    tok.register_special_tokens({"<|endoftext|>": 256 + 32})
    data = tmp_path / "data"
    result = prepare.prepare([str(r) for r in repos], str(data), tokenizer=tok, val_fraction=0.34, seed=kit.seed())
    # every id the tokenizer emits: minbpe's vocab leaves the registered <|endoftext|> out
    V = max(len(tok.vocab), *(i + 1 for i in tok.special_tokens.values()))
    top = max(int(np.fromfile(data / f"{side}.bin", dtype=np.uint16).max(initial=0)) for side in ("train", "val"))
    with open(data / "meta.pkl", "rb") as f:
        vocab_size = pickle.load(f).get("vocab_size")
    if not isinstance(vocab_size, int) or vocab_size <= top:
        kit.fail(f"meta.pkl's vocab_size leaves id {top} of the .bin files without an embedding row",
                 yours=vocab_size, expected=V,
                 hint="vocab_size is one past the largest id your tokenizer emits, its special tokens included")
    cfg = train.TrainConfig(out_dir=str(tmp_path / "out"), dataset=str(data), n_layer=2, n_head=2, n_embd=32,
                            block_size=32, batch_size=8, bias=False, dropout=0.0, gradient_accumulation_steps=1,
                            learning_rate=3e-3, max_iters=STEPS, warmup_iters=5, lr_decay_iters=STEPS, min_lr=3e-4,
                            eval_interval=STEPS // 2, eval_iters=8, log_interval=1000, device="cpu", dtype="float32",
                            compile=False, seed=kit.seed())
    out = train.train(cfg)
    first, last = out["evals"][0]["val"], out["evals"][-1]["val"]
    if abs(first - math.log(V)) > 0.15:
        kit.fail(f"the val loss before training is {first:.3f}, not ln V = ln {V} = {math.log(V):.3f}",
                 yours=first, expected=math.log(V),
                 hint="at init the GPT predicts nearly uniformly; a different start means the vocab_size in "
                      "meta.pkl or the ids in the .bin files are not the tokenizer's")
    kit.figure("val loss drop", first - last, ">=", MIN_DROP)
    if first - last < MIN_DROP:
        kit.fail(f"in {STEPS} steps on {result['train_tokens']:,} tokens the val loss fell from {first:.3f} "
                 f"to {last:.3f}", yours=first - last, expected=f">= {MIN_DROP}",
                 hint="the reference falls by 1.4-1.8 here; check the lr schedule and that the optimizer steps")
