"""Correct code written another way passes: variants of the reference solutions, run for real."""

import shutil
from pathlib import Path

import pytest

from labpath import labs
from labpath.checks.runner import run_checks

pytestmark = pytest.mark.torch  # bigram's and mlp-lm's checks


def variant(tmp_path: Path, lab_id: str, file: str, edits) -> tuple[labs.Lab, Path]:
    lab = labs.load(lab_id)
    dest = tmp_path / "code"
    shutil.copytree(lab.solution_dir, dest)
    path = dest / file
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return lab, dest


FLOAT32_LOOP = '''def avg_nll(P, words, stoi):
    """The lecture's way: one float32 log-probability at a time, in a Python loop."""
    log_likelihood, n = 0.0, 0
    for w in words:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            log_likelihood += torch.log(P[stoi[ch1], stoi[ch2]])
            n += 1
    return (-log_likelihood / n).item()


def _unused_avg_nll(P, words, stoi):'''


@pytest.mark.slow
def test_bigram_accepts_the_lectures_float32_loop(tmp_path):
    lab, dest = variant(
        tmp_path,
        "bigram",
        "bigram.py",
        [
            ("P = (N + smoothing).double()", "P = (N + smoothing).float()"),
            ("def avg_nll(P, words, stoi):", FLOAT32_LOOP),
        ],
    )
    report = run_checks(lab, dest, select=["test_count_model_nll_on_the_data"])
    assert report.ok, [(r.name, r.what, r.yours, r.expected) for r in report.results]


@pytest.mark.slow
def test_mlp_lm_accepts_the_nn_linear_layout(tmp_path):
    lab, dest = variant(
        tmp_path,
        "mlp-lm",
        "mlp_lm.py",
        [
            (
                "W1 = torch.randn((fan_in, n_hidden), generator=g)",
                "W1 = torch.randn((n_hidden, fan_in), generator=g)",
            ),
            (
                "W2 = torch.randn((n_hidden, vocab_size), generator=g)",
                "W2 = torch.randn((vocab_size, n_hidden), generator=g)",
            ),
            ("@ W1 + b1)", "@ W1.T + b1)"),
            ("return h @ W2 + b2", "return h @ W2.T + b2"),
        ],
    )
    checks = [
        "test_forward_matches_torch_reference",
        "test_init_keeps_tanh_units_out_of_saturation",
        "test_documented_defaults",
        "test_lr_sweep_steps_with_ten_to_the_exponent",
        "test_train_drops_lr_tenfold_at_decay_at",
        "test_minibatches_are_drawn_from_every_row",
    ]
    report = run_checks(lab, dest, select=checks)
    assert report.ok, [(r.name, r.what, r.message) for r in report.results]
    assert report.passed == len(checks)
