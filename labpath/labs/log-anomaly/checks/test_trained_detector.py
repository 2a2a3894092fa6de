"""A7, A8: your parser, windows, DeepLog (on your LSTM) and detection, trained on
generated normal release runs and tested on normal and abnormal ones.

Small on purpose (one CPU thread, a few seconds): h = 5, one LSTM layer of 32 units,
600 training runs, 6 epochs of Adam. The data come from labpath's own copy of the
generator (la_ref.py), so a variant of the generator in your file changes nothing here.

This file's name sorts after test_log_anomaly.py, so the quick checks run and report
first; the training checks build on them (kit.after) and are skipped when one failed.
"""

import json

import la_ref as ref
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from labpath.checks import kit

H, HIDDEN, LAYERS, EPOCHS, BATCH, LR = 5, 32, 1, 6, 128, 1e-2
N_TRAIN, N_VAL, N_TEST = 600, 200, 400
# Calibrated on the reference over seeds 0..9 (see README): top-1 flags 99-100 % of
# normal runs, g = 3 none; the session score with a threshold at the 99th percentile of
# held-out normal runs reaches F1 0.990-1.000 (4 epochs were not enough: seed 7 missed
# every loop); AUROC 0.991-1.000.
MIN_FP_G1, MAX_FP_G3, MIN_F1_SCORE, MAX_FAR_SCORE, MIN_AUROC = 0.5, 0.02, 0.95, 0.03, 0.98

UNIT = [
    "test_parser_finds_the_thirteen_release_templates",
    "test_parser_maps_unseen_templates_to_key_zero",
    "test_sessionize_separates_interleaved_runs_in_order",
    "test_windows_with_a_pad_key",
    "test_deeplog_logits_have_shape_n_by_num_keys",
    "test_deeplog_runs_your_lstm_on_categorical_inputs",
    "test_first_anomaly_is_the_first_key_outside_the_top_g",
    "test_padded_first_events_are_scored",
    "test_session_without_a_miss_is_normal",
    "test_unknown_key_is_always_anomalous",
    "test_session_scores_are_the_max_negative_log_likelihood",
]


def sessions_of(la, runs):
    """Your sessionize on the interleaved stream; labels and kinds by run id."""
    sessions = la.sessionize(ref.records(ref.interleave(runs)))
    truth = {rid: (label, kind) for rid, _, label, kind in runs}
    ids = list(sessions)
    return [sessions[r] for r in ids], [truth[r][0] for r in ids], [truth[r][1] for r in ids]


@pytest.fixture(scope="module")
def trained(la):
    seed = kit.seed()
    train, _, _ = sessions_of(la, ref.generate_release_logs(N_TRAIN, seed))
    parser = la.LogParser().fit([m for s in train for m in s])
    n = len(parser.templates)
    pad, num_keys = n + 1, n + 2  # keys 1..n, 0 unknown, n + 1 the start (pad) key
    pairs = [la.make_windows(parser.transform(s), H, pad) for s in train]
    X = torch.cat([torch.as_tensor(x) for x, _ in pairs])
    y = torch.cat([torch.as_tensor(t) for _, t in pairs])
    torch.manual_seed(seed)
    model = la.DeepLog(num_keys, h=H, hidden_size=HIDDEN, num_layers=LAYERS)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), BATCH):
            idx = perm[i : i + BATCH]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    val, _, _ = sessions_of(la, ref.generate_release_logs(N_VAL, seed + 2))
    test, labels, kinds = sessions_of(la, ref.generate_release_logs(N_TEST, seed + 1, anomaly_rate=0.5))
    val_keys = [parser.transform(s) for s in val]
    test_keys = [parser.transform(s) for s in test]
    with torch.no_grad():
        flags = {g: [bool(la.is_anomalous(model, k, H, g, pad)) for k in test_keys] for g in (1, 2, 3)}
        val_scores = np.asarray(la.session_scores(model, val_keys, H, pad), dtype=np.float64)
        scores = np.asarray(la.session_scores(model, test_keys, H, pad), dtype=np.float64)
    threshold = float(np.quantile(val_scores, 0.99))
    flags["score"] = [bool(s > threshold) for s in scores]
    figures = {"seed": seed, "final_train_loss": float(loss), "threshold": threshold,
               "auroc": ref.auc(list(scores), labels)}
    for key, pred in flags.items():
        p, r, f1 = ref.prf(labels, pred)
        far = sum(pr for pr, lab in zip(pred, labels) if not lab) / labels.count(0)
        per_kind = {k: float(np.mean([pr for pr, kd in zip(pred, kinds) if kd == k])) for k in ref.KINDS}
        figures[f"g={key}" if key != "score" else "score>threshold"] = dict(
            precision=p, recall=r, f1=f1, false_alarm_rate=far, recall_per_kind=per_kind)
    try:
        path = kit.artifact_path("test_deeplog_trained_on_normal_runs_detects_anomalies",
                                 "log-anomaly-figures.json")
        path.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    except OSError:
        pass
    return figures


@kit.after(*UNIT)
def test_deeplog_trained_on_normal_runs_detects_anomalies(trained):
    f = trained
    rows = [f"g={g}: P {f[f'g={g}']['precision']:.3f} R {f[f'g={g}']['recall']:.3f} "
            f"F1 {f[f'g={g}']['f1']:.3f} false alarms {f[f'g={g}']['false_alarm_rate']:.1%}"
            for g in (1, 2, 3)]
    s = f["score>threshold"]
    rows.append(f"score > {f['threshold']:.2f}: P {s['precision']:.3f} R {s['recall']:.3f} "
                f"F1 {s['f1']:.3f} false alarms {s['false_alarm_rate']:.1%}; AUROC {f['auroc']:.4f}")
    summary = "; ".join(rows)
    hint = ("train on the normal runs only, with every event a target (pad key); "
            "the figures are in log-anomaly-figures.json")
    if f["g=1"]["false_alarm_rate"] < MIN_FP_G1:
        kit.fail("top-1 should flag most normal runs (branching steps have 2-3 valid next keys)",
                 yours=f["g=1"]["false_alarm_rate"], expected=f">= {MIN_FP_G1}", where=summary, hint=hint)
    if f["g=3"]["false_alarm_rate"] > MAX_FP_G3:
        kit.fail("false alarms at g=3 (no normal step has more than 3 valid next keys)",
                 yours=f["g=3"]["false_alarm_rate"], expected=f"<= {MAX_FP_G3}", where=summary, hint=hint)
    kit.figure("AUROC", f["auroc"], ">=", MIN_AUROC, fmt=".4f")
    kit.figure("F1 at the score threshold", s["f1"], ">=", MIN_F1_SCORE, fmt=".3f")
    if f["auroc"] < MIN_AUROC:
        kit.fail("AUROC of the session scores", yours=f["auroc"], expected=f">= {MIN_AUROC}",
                 where=summary, hint=hint)
    if s["f1"] < MIN_F1_SCORE or s["false_alarm_rate"] > MAX_FAR_SCORE:
        kit.fail("F1 with the score threshold set on held-out normal runs (99th percentile)",
                 yours=(round(s["f1"], 3), round(s["false_alarm_rate"], 3)),
                 expected=f"F1 >= {MIN_F1_SCORE}, false alarms <= {MAX_FAR_SCORE}", where=summary, hint=hint)


@kit.after(*UNIT)
def test_unseen_templates_and_runaway_loops_are_caught(trained):
    """A8: recall per anomaly kind; unknown templates must all be caught (key 0), loops
    by the score; missing steps and swaps are reported (some swaps give a valid run)."""
    s = trained["score>threshold"]["recall_per_kind"]
    g3 = trained["g=3"]["recall_per_kind"]
    where = "; ".join(f"{k}: g=3 {g3[k]:.2f}, score {s[k]:.2f}" for k in ref.KINDS)
    if g3["unknown"] < 1.0 or s["unknown"] < 1.0:
        kit.fail("recall on runs with an unseen template", yours=min(g3["unknown"], s["unknown"]),
                 expected=1.0, where=where, hint="key 0 is anomalous whatever the model says")
    if s["loop"] < 0.9:
        kit.fail("recall on runaway retry loops with the score threshold", yours=s["loop"],
                 expected=">= 0.9", where=where, hint="-log p of a retry after a retry is large")
