"""The experiment: your TabularModel trained by your fit on the store x day x promotion data.

The data come from labpath's own generator (tabular_ref.synthetic, seeded by the check's
seed): 300 stores, 7 days, a promotion flag and one numeric column, 6,000 training and
3,000 validation rows; y = a_s . b_d + 0.5 a_s[0] x + promo (0.5 + 0.5 a_s[1]) + noise 0.3.
The check fits an additive one-hot ridge itself; your OneHotMLP is trained and reported,
never required to lose (a one-hot input into a Linear is an embedding).
"""

import json
import math

import numpy as np
import pytest
import torch
from tabular_ref import (
    CATS,
    cell_mean_rmse,
    global_mean_rmse,
    linear_r2,
    need,
    oracle_rmse,
    predict,
    prepare,
    ridge_rmse,
    rmse,
    synthetic,
)

from labpath.checks import kit

LAYERS, PS, EPOCHS, LR, BATCH = [64, 32], 0.05, 20, 1e-2, 256
# Calibrated over seeds 1337 and 0..9 (README): the reference (tables initialised with
# std 0.01, as fastai does) reaches 0.40 to 0.49 (0.39 to 0.51 with the 2018 sizes), the same
# model with nn.Embedding's N(0, 1) init 0.49 to 0.61 (seeds 1337, 0..6); the additive ridge
# scores 1.16 to 2.02 and the oracle 0.29 to 0.31. The reference closes 79 to 92 % of the
# gap between the ridge and the oracle (74 % at worst with the N(0, 1) init).
MAX_RMSE, MIN_GAIN = 0.75, 0.5

FIGURES: dict = {}
PIECES = ["test_category_map_codes_sorted_values_and_reserves_unknown",
          "test_tabular_model_concatenates_embeddings_then_numeric_columns",
          "test_standardize_uses_training_statistics_only"]


_PATH: list = []


def _save(check):
    """One figures file, listed once (under the first check that writes it), updated by the others."""
    if not _PATH:
        _PATH.append(kit.artifact_path(check, "tabular-figures.json"))
    _PATH[0].write_text(json.dumps(FIGURES, indent=2))


def _result(r, what):
    if not isinstance(r, dict) or "valid_rmse" not in r or "train_rmse" not in r:
        kit.fail(f"{what} must return a dict with train_rmse and valid_rmse",
                 yours=sorted(r) if isinstance(r, dict) else type(r).__name__,
                 hint="return {'train_rmse': ..., 'valid_rmse': ...}")
    return float(r["train_rmse"]), float(r["valid_rmse"])


@pytest.fixture(scope="module")
def data():
    return synthetic(kit.seed())


@pytest.fixture(scope="module")
def trained(tab, data):
    """Your TabularModel (fastai sizes, layers [64, 32], ps 0.05) after your fit, 20 epochs."""
    emb_size, TabularModel, fit = need(tab, "emb_size", "TabularModel", "fit")
    maps, train, valid = prepare(tab, data)
    szs = [(len(m), emb_size(len(m))) for m in maps]
    torch.manual_seed(kit.seed())
    model = TabularModel(szs, 1, 1, LAYERS, ps=PS)
    r = fit(model, train, valid, EPOCHS, LR, BATCH, kit.seed())
    reported = _result(r, "fit(model, train, valid, epochs, lr, batch_size, seed)")
    small = prepare(tab, synthetic(kit.seed(), n_stores=24, n_train=300, n_valid=90))[1:]
    return {"model": model, "maps": maps, "train": train, "valid": valid, "szs": szs, "tab": tab,
            "reported": reported, "history": r.get("history"), "small_data": small}


@kit.after(*PIECES)
def test_embedding_model_beats_the_additive_one_hot_baseline(trained, data):
    """Val RMSE <= 0.75 and at least half the way from the additive one-hot ridge to the noise floor."""
    model, (x_cat, x_cont, y) = trained["model"], trained["valid"]
    pred = predict(model, x_cat, x_cont)
    valid = rmse(pred.numpy(), y.numpy())
    ridge, oracle = ridge_rmse(data), oracle_rmse(data)
    gain = (ridge - valid) / (ridge - oracle)
    FIGURES.update({"seed": kit.seed(), "embedding_sizes": trained["szs"],
                    "embedding_rows": [int(e.num_embeddings) for e in model.embeds],
                    "valid_rmse": {"embeddings": valid, "additive_one_hot_ridge": ridge, "global_mean": global_mean_rmse(data),
                                   "store_x_day_cell_mean": cell_mean_rmse(data), "oracle": oracle},
                    "gain_toward_oracle": gain})
    _save("test_embedding_model_beats_the_additive_one_hot_baseline")
    if valid < 0.9 * oracle:
        kit.fail(f"validation RMSE {valid:.3f} is below the noise floor {oracle:.3f}, which no model can beat",
                 diagnosis="the model learnt from the validation rows",
                 hint="fit trains on the training rows only; valid is for measuring")
    kit.figure("validation RMSE", valid, "<=", MAX_RMSE)
    kit.figure("gain toward the noise floor", gain, ">=", MIN_GAIN)
    if not (valid <= MAX_RMSE and gain >= MIN_GAIN):
        flat = float(pred.std()) < 0.05 * float(y.std()) and abs(valid - global_mean_rmse(data)) < 0.02 * valid
        kit.fail(f"validation RMSE after {EPOCHS} epochs (additive one-hot ridge {ridge:.3f}, noise floor "
                 f"{oracle:.3f}, reference 0.40 to 0.61)", yours=round(valid, 4),
                 expected=f"<= {MAX_RMSE} and <= {ridge - MIN_GAIN * (ridge - oracle):.3f}",
                 diagnosis=f"your model predicts a constant (std {float(pred.std()):.4f}, about the training "
                 "mean): an MSE between (B, 1) predictions and (B,) targets broadcasts to (B, B); "
                 "reshape one to match the other" if flat else None,
                 hint="check that fit steps the optimizer on every mini-batch with the MSE of the "
                 "model's predictions, and that every column has its own table")


@kit.after(*PIECES)
def test_fit_reports_the_rmse_of_the_model_it_returns(trained):
    """fit's train_rmse and valid_rmse equal the RMSE of the trained model in evaluation mode (rtol 1e-4)."""
    model = trained["model"]
    yours = trained["reported"]
    mine = tuple(rmse(predict(model, *trained[k][:2]).numpy(), trained[k][2].numpy()) for k in ("train", "valid"))
    _same_rmse(yours, mine, "")
    hist = trained["history"]
    if hist is not None:
        curve = list(hist.get("valid_rmse", [])) if isinstance(hist, dict) else []
        if len(curve) != EPOCHS or not math.isclose(float(curve[-1]), yours[1], rel_tol=1e-4):
            kit.fail(f"fit's history['valid_rmse'] after {EPOCHS} epochs", yours=curve[-3:] if curve else hist,
                     expected=f"{EPOCHS} values, the last equal to valid_rmse {yours[1]:.6f}",
                     hint="append the validation RMSE after every epoch (or return no history)")
        train_curve = hist.get("train_rmse") if isinstance(hist, dict) else None
        if train_curve is not None and len(list(train_curve)) != EPOCHS:
            kit.fail(f"fit's history['train_rmse'] after {EPOCHS} epochs", yours=len(list(train_curve)),
                     expected=f"{EPOCHS} values, one per epoch",
                     hint="append the training RMSE after every epoch, as the validation one")
    # the same on 90 validation rows, where skipping one row shows
    model, small = _small(trained["tab"], kit.seed())
    data = trained["small_data"]
    mine = tuple(rmse(predict(model, *part[:2]).numpy(), part[2].numpy()) for part in data)
    _same_rmse(small, mine, " (300 training, 90 validation rows)")


def _same_rmse(yours, mine, where):
    for name, y, m in zip(("train_rmse", "valid_rmse"), yours, mine):
        if not math.isclose(y, m, rel_tol=2e-5, abs_tol=1e-6):
            diag = None
            if math.isclose(y, m * m, rel_tol=1e-3):
                diag = "you report the mean squared error: take its square root"
            elif y > m:
                diag = "measured in train mode (dropout on, BatchNorm batch statistics): call model.eval() first"
            kit.fail(f"fit's {name} vs the RMSE of the returned model in eval mode{where}", yours=y, expected=m,
                     diagnosis=diag, hint="after the last epoch: model.eval(), predict, sqrt(mean((pred - y)^2))")


def _small(tab, seed, scramble=False, disturb=False, hook=None, n_train=300, batch=32, epochs=2):
    """Two epochs on 24 stores, without dropout; the validation targets optionally scrambled."""
    emb_size, TabularModel, fit = need(tab, "emb_size", "TabularModel", "fit")
    maps, train, valid = prepare(tab, synthetic(seed, n_stores=24, n_train=n_train, n_valid=90))
    if scramble:
        g = torch.Generator().manual_seed(seed + 5)
        valid = (valid[0], valid[1], valid[2][torch.randperm(len(valid[2]), generator=g)] * 3.0 + 1.0)
    torch.manual_seed(seed)
    model = TabularModel([(len(m), emb_size(len(m))) for m in maps], 1, 1, [16])
    if disturb:
        torch.manual_seed(seed + 77)  # fit's seed, not torch's global generator, orders the batches
    if hook is not None:
        model.register_forward_hook(hook)
    r = fit(model, train, valid, epochs, 1e-2, batch, seed)
    return model, _result(r, "fit")


@kit.after(*PIECES)
def test_fit_trains_in_train_mode_on_every_row_each_epoch(tab):
    """300 rows, batch 32, 2 epochs: every pass that is backpropagated runs in train mode; 300 (or 288) rows per epoch."""
    steps = []  # (model.training, rows) of every forward pass that a backward pass went through

    def hook(module, args, out):
        if isinstance(out, torch.Tensor) and out.requires_grad:
            training, n = module.training, int(args[0].shape[0])
            out.register_hook(lambda grad: steps.append((training, n)))

    _small(tab, kit.seed(), hook=hook)
    if any(not training for training, _ in steps):
        kit.fail("model.training during fit's training steps", yours="False for some steps", expected="True",
                 diagnosis="the model trains in eval mode: call model.train() at the start of every epoch "
                 "(measuring switched it to eval)",
                 hint="model.train() before the mini-batches, model.eval() before measuring")
    rows = sum(n for _, n in steps)
    if rows not in (2 * 300, 2 * 288):
        kit.fail("rows passed through the model in training steps over 2 epochs of 300 rows, batch 32",
                 yours=rows, expected="600 (or 576 when the last short batch is dropped)",
                 hint="for i in range(0, N, batch_size): idx = perm[i:i + batch_size]")


@kit.after(*PIECES)
def test_fit_trains_on_batches_of_two(tab):
    """10 rows, batch 2, 1 epoch: five full batches, so all 10 rows pass through training steps."""
    rows = []

    def hook(module, args, out):
        if isinstance(out, torch.Tensor) and out.requires_grad:
            n = int(args[0].shape[0])
            out.register_hook(lambda grad: rows.append(n))

    _small(tab, kit.seed(), hook=hook, n_train=10, batch=2, epochs=1)
    if sum(rows) != 10:
        kit.fail("rows passed through the model in training steps over 1 epoch of 10 rows, batch 2",
                 yours=sum(rows), expected=10,
                 diagnosis="batches of 2 rows are skipped: BatchNorm needs more than one row, "
                 "and 2 is enough" if not rows else None,
                 hint="skip only a batch of one row (BatchNorm cannot normalise it); train on every other")


@kit.after(*PIECES)
def test_fit_is_seeded_and_never_learns_from_the_validation_rows(tab):
    """fit(..., seed) gives the same weights whatever torch's global RNG, and with the validation targets scrambled."""
    seed = kit.seed()
    a, ra = _small(tab, seed)
    b, rb = _small(tab, seed, disturb=True)
    c, rc = _small(tab, seed, scramble=True)
    pa, pb, pc = ([p.detach() for p in m.parameters()] for m in (a, b, c))
    if not all(torch.equal(x, y) for x, y in zip(pa, pb)):
        kit.fail("weights after fit with the same seed and initialisation, torch's global RNG reseeded in between",
                 yours="different", expected="identical",
                 hint="draw the mini-batch order from torch.Generator().manual_seed(seed)")
    if not all(torch.equal(x, y) for x, y in zip(pa, pc)) or ra[0] != rc[0]:
        kit.fail("weights after fit with the validation targets scrambled", yours="different",
                 expected="identical to the run with the real targets",
                 diagnosis="the model learnt from the validation rows",
                 hint="train on the training rows only; the validation rows are for measuring")


@kit.after(*PIECES)
def test_one_hot_mlp_is_trained_and_reported(tab, data, trained):
    """OneHotMLP(cardinalities, 1, 1, [64, 32]) after the same fit: (B, 1) outputs, a finite RMSE, reported."""
    (OneHotMLP,) = need(tab, "OneHotMLP")
    fit = tab.fit
    maps, train, valid = trained["maps"], trained["train"], trained["valid"]
    torch.manual_seed(kit.seed())
    model = OneHotMLP([len(m) for m in maps], 1, 1, LAYERS)
    out = predict(model, valid[0][:9], valid[1][:9])
    if tuple(out.shape) != (9,):
        kit.fail("OneHotMLP(...)(x_cat (9, 3), x_cont (9, 1)) shape", yours=tuple(out.shape), expected=(9, 1))
    r = fit(model, train, valid, EPOCHS, LR, BATCH, kit.seed())
    _result(r, "fit")
    valid_rmse = rmse(predict(model, valid[0], valid[1]).numpy(), valid[2].numpy())
    if not math.isfinite(valid_rmse):
        kit.fail("validation RMSE of your OneHotMLP", yours=valid_rmse, expected="a finite number")
    FIGURES.setdefault("valid_rmse", {})["one_hot_mlp"] = valid_rmse
    FIGURES["note"] = ("one-hot into a Linear is an embedding of width layers[0]: the OneHotMLP is "
                       "reported, never required to lose (reference: 0.44 to 0.54)")
    _save("test_one_hot_mlp_is_trained_and_reported")


@kit.after(*PIECES)
def test_store_embeddings_recover_the_true_latents(trained, data):
    """Informational: R^2 of a linear map from the learned store vectors to the true a_s (fit on half the stores)."""
    model, cmap = trained["model"], trained["maps"][CATS.index("store")]
    codes = torch.as_tensor(cmap.transform(data["stores"])).reshape(-1)
    E = model.embeds[0].weight.detach()[codes].double().numpy()  # (S, d)
    A = data["A"]
    split = np.random.default_rng(kit.seed()).permutation(len(A))[: len(A) // 2]
    FIGURES["store_embedding_r2"] = {"in_sample": linear_r2(E, A), "held_out_stores": linear_r2(E, A, split)}
    _save("test_store_embeddings_recover_the_true_latents")
