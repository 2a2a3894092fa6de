"""The tabular-embeddings lab: correct variants pass, the data are seeded, run.py works end to end."""

import csv
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labpath import labs
from labpath.checks.runner import run_checks

LAB = labs.load("tabular-embeddings")
RUN = LAB.directory / "run.py"
TRAINING = [
    "test_embedding_model_beats_the_additive_one_hot_baseline",
    "test_fit_reports_the_rmse_of_the_model_it_returns",
    "test_fit_is_seeded_and_never_learns_from_the_validation_rows",
    "test_one_hot_mlp_is_trained_and_reported",
    "test_store_embeddings_recover_the_true_latents",
]


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variant(tmp_path: Path, edits) -> Path:
    dest = tmp_path / "code"
    shutil.copytree(LAB.solution_dir, dest)
    path = dest / "tabular.py"
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return dest


def passes(dest: Path, select=None):
    report = run_checks(LAB, dest, select=select)
    assert report.ok, [(r.name, r.what, r.yours, r.expected) for r in report.results]


def test_reference_generator_is_deterministic_per_seed():
    ref = load(LAB.directory / "checks" / "tabular_ref.py", "tabular_ref_for_test")
    a, b, c = ref.synthetic(5), ref.synthetic(5), ref.synthetic(6)
    assert a["train"]["store"] == b["train"]["store"]
    assert np.array_equal(a["train"]["y"], b["train"]["y"])
    assert np.array_equal(a["valid"]["x"], b["valid"]["x"])
    assert not np.array_equal(a["train"]["y"], c["train"]["y"])
    assert len(a["train"]["y"]) == 6000 and len(a["valid"]["y"]) == 3000
    held = ref.synthetic(5, n_stores=40, unseen=5)
    assert max(held["train"]["store_index"]) < 35 <= max(held["valid"]["store_index"])


@pytest.mark.torch
def test_the_labs_generator_is_the_checks_generator():
    """The copy given in tabular.py draws exactly the rows the checks draw."""
    ref = load(LAB.directory / "checks" / "tabular_ref.py", "tabular_ref_for_test")
    for start in (LAB.solution_dir, LAB.directory / "starter"):
        mine = load(start / "tabular.py", f"tabular_{start.name}").synthetic(
            11, unseen=3
        )
        theirs = ref.synthetic(11, unseen=3)
        for split in ("train", "valid"):
            for key in ("store", "day", "promo"):
                assert mine[split][key] == theirs[split][key]
            assert np.array_equal(mine[split]["y"], theirs[split]["y"])


@pytest.mark.torch
@pytest.mark.slow
def test_checks_accept_the_2018_rule_as_the_default(tmp_path):
    dest = variant(
        tmp_path,
        [
            (
                'def emb_size(n_cat, rule="fastai"):',
                'def emb_size(n_cat, rule="fastai2018"):',
            )
        ],
    )
    passes(dest)


@pytest.mark.torch
@pytest.mark.slow
def test_checks_accept_tables_with_one_more_row_than_n(tmp_path):
    """n counted without the unknown slot, the table adding it: nn.Embedding(n + 1, d)."""
    dest = variant(
        tmp_path,
        [
            (
                "self.embeds = nn.ModuleList([nn.Embedding(n, d) for n, d in emb_szs])",
                "self.embeds = nn.ModuleList([nn.Embedding(n + 1, d) for n, d in emb_szs])",
            )
        ],
    )
    passes(dest)


@pytest.mark.torch
@pytest.mark.slow
def test_checks_accept_a_wider_mlp_in_fastais_other_layer_order(tmp_path):
    """Hidden widths doubled, BatchNorm and dropout before each Linear (lin_first=False)."""
    dest = variant(
        tmp_path,
        [
            (
                "sizes = [self.n_emb + n_cont] + list(layers)",
                "sizes = [self.n_emb + n_cont] + [2 * w for w in layers]",
            ),
            (
                "            blocks += [nn.Linear(n_in, n_out, bias=not use_bn), nn.ReLU()]\n"
                "            if use_bn:\n"
                "                blocks.append(nn.BatchNorm1d(n_out))\n"
                "            if p:\n"
                "                blocks.append(nn.Dropout(p))\n",
                "            if use_bn:\n"
                "                blocks.append(nn.BatchNorm1d(n_in))\n"
                "            if p:\n"
                "                blocks.append(nn.Dropout(p))\n"
                "            blocks += [nn.Linear(n_in, n_out, bias=not use_bn), nn.ReLU()]\n",
            ),
        ],
    )
    passes(dest)


@pytest.mark.torch
@pytest.mark.slow
def test_checks_accept_the_unknown_slot_at_the_last_index(tmp_path):
    dest = variant(
        tmp_path,
        [
            ('self.classes = ["#na#"] + uniques', 'self.classes = uniques + ["#na#"]'),
            (
                "self.index = {v: i for i, v in enumerate(self.classes) if i > 0}",
                "self.index = {v: i for i, v in enumerate(uniques)}",
            ),
            (
                "codes = [0 if _missing(v) else self.index.get(v, 0) for v in values]",
                "unk = len(self.index)\n"
                "        codes = [unk if _missing(v) else self.index.get(v, unk) for v in values]",
            ),
        ],
    )
    passes(dest)


@pytest.mark.torch
@pytest.mark.slow
def test_checks_accept_default_init_and_population_std(tmp_path):
    """nn.Embedding's N(0, 1) init (no std 0.01) and standardize with ddof 0."""
    dest = variant(
        tmp_path,
        [
            (
                "nn.init.trunc_normal_(e.weight, std=0.01, a=-0.02, b=0.02)",
                "pass",
            ),
            (
                "std = train.std(0, keepdim=True)",
                "std = train.std(0, keepdim=True, unbiased=False)",
            ),
        ],
    )
    passes(dest, ["test_standardize_uses_training_statistics_only", *TRAINING])


def _run(tmp_path, *args, target=None):
    env = dict(
        os.environ, LABPATH_TARGET=str(target or LAB.solution_dir), OMP_NUM_THREADS="1"
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--device", "cpu", "--out", str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return proc, out


@pytest.mark.torch
def test_run_trains_both_models_on_the_synthetic_stores(tmp_path):
    proc, out = _run(
        tmp_path,
        "--epochs",
        "2",
        "--stores",
        "30",
        "--n-train",
        "300",
        "--n-valid",
        "90",
    )
    assert proc.returncode == 0, proc.stderr
    figs = json.loads((out / "tabular-figures.json").read_text())
    assert set(figs["valid_rmse"]) == {"embeddings", "one-hot MLP"}
    assert len(figs["valid_curves"]["embeddings"]) == 2
    assert (
        "additive one-hot ridge" in figs["baselines"]
        and "oracle (true latents)" in figs["baselines"]
    )
    assert figs["categorical"] == ["store", "day", "promo"] and figs["numeric"] == ["x"]
    assert figs["store_embedding_r2"] is not None
    assert "validation RMSE:" in proc.stdout
    if importlib.util.find_spec("matplotlib"):
        assert (out / "tabular-curves.png").is_file() and (
            out / "tabular-embeddings.png"
        ).is_file()


def _table(path: Path, n=240):
    rng = random.Random(3)
    cities = ["oslo", "bern", "lima", "kiev", "rome", "baku"]
    effect = {c: i * 0.7 for i, c in enumerate(cities)}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["city", "weekday", "price", "sales"])
        for r in range(n):
            city, day, price = rng.choice(cities), rng.randrange(7), rng.uniform(1, 9)
            sales = (
                effect[city] * (1 if day < 5 else -1) + 0.3 * price + rng.gauss(0, 0.2)
            )
            w.writerow(
                [
                    city,
                    day,
                    "" if r % 17 == 0 else f"{price:.3f}",
                    f"{sales:.4f}" if r != 5 else "",
                ]
            )


@pytest.mark.torch
def test_run_on_a_csv_table_with_a_target_column(tmp_path):
    table = tmp_path / "table.csv"
    _table(table)
    proc, out = _run(
        tmp_path,
        "--data",
        str(table),
        "--target",
        "sales",
        "--epochs",
        "3",
        "--batch-size",
        "32",
    )
    assert proc.returncode == 0, proc.stderr
    figs = json.loads((out / "tabular-figures.json").read_text())
    assert figs["categorical"] == ["city", "weekday"] and figs["numeric"] == ["price"]
    assert figs["embedded_column"] == "weekday"  # 7 values + unknown beat 6 + unknown
    assert (
        "191 train / 48 valid" in figs["table"]
    )  # the row without a target is dropped
    assert figs["store_embedding_r2"] is None
    assert all(np.isfinite(v) for v in figs["valid_rmse"].values())


@pytest.mark.torch
def test_run_with_data_but_no_target_says_what_to_add(tmp_path):
    table = tmp_path / "table.csv"
    _table(table, n=20)
    proc, _ = _run(tmp_path, "--data", str(table))
    assert proc.returncode == 2
    assert "--target" in proc.stderr
    proc, _ = _run(tmp_path, "--data", str(table), "--target", "revenue")
    assert proc.returncode != 0 and "revenue" in proc.stderr and "sales" in proc.stderr


@pytest.mark.torch
def test_labpath_run_passes_data_and_the_runs_own_options(tmp_path):
    table = tmp_path / "table.csv"
    _table(table, n=120)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "labpath",
        "run",
        "tabular-embeddings",
        "--path",
        str(LAB.solution_dir),
    ]
    cmd += [
        "--device",
        "cpu",
        "--data",
        str(table),
        "--target",
        "sales",
        "--epochs",
        "1",
        "--out",
        str(out),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figs = json.loads((out / "tabular-figures.json").read_text())
    assert figs["epochs"] == 1 and figs["target"] == "sales"
