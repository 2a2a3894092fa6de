"""Train your TabularModel and OneHotMLP on a table and compare them with simple baselines.

Usage (LABPATH_TARGET is the folder holding your tabular.py; `labpath run
tabular-embeddings` sets it):

    python labpath/labs/tabular-embeddings/run.py                       # the synthetic stores
    python labpath/labs/tabular-embeddings/run.py --unseen 20 --epochs 30
    python labpath/labs/tabular-embeddings/run.py --data train.csv --target Sales

Without --data the table is labpath's synthetic store x day x promotion design (the
checks' generator, seeded by --seed). With --data CSV --target COL it is your own table:
categorical columns are the non-numeric ones and the integer columns with at most
--max-card distinct values (--cat / --cont name them explicitly); numeric columns are
standardised with the training rows' statistics (missing values take the training
mean); rows are split at random (--valid-fraction, --seed); rows without a target are
dropped. The target is standardised for training and the RMSE reported in its own units.

Your code trains both models (your CategoryMap, emb_size, standardize, TabularModel,
OneHotMLP and fit). Writes to --out: tabular-curves.png (validation RMSE per epoch of
each model, baselines as lines), tabular-embeddings.png (a PCA projection of the learned
vectors of the largest categorical column, coloured by the true latent a_s[0] or by the
category's mean target) and tabular-figures.json (every number printed). With
scikit-learn installed a gradient-boosted baseline is added.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "checks"))


def load_learner(target: Path):
    sys.path.insert(0, str(target))
    import tabular

    return tabular


def is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_csv(path: Path, target: str, cat, cont, max_card: int):
    """Columns of a CSV file: (categorical columns as lists of str, numeric as lists of float | None, y)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"Error: {path} has no data rows")
    names = list(rows[0])
    if target not in names:
        raise SystemExit(f"Error: --target {target} is not a column of {path}\nHint: columns: {', '.join(names)}")
    rows = [r for r in rows if (r[target] or "").strip() and is_number(r[target])]
    y = [float(r[target]) for r in rows]
    cats, conts = {}, {}
    for name in names:
        if name == target:
            continue
        values = [(r[name] or "").strip() for r in rows]
        present = [v for v in values if v]
        numeric = bool(present) and all(is_number(v) for v in present)
        integer = numeric and all(float(v).is_integer() for v in present)
        as_cat = name in cat or (name not in cont and (not numeric or (integer and len(set(present)) <= max_card)))
        if as_cat:
            cats[name] = [v if v else None for v in values]
        else:
            conts[name] = [float(v) if v else None for v in values]
    return cats, conts, y


def split_rows(n: int, valid_fraction: float, seed: int):
    import numpy as np

    perm = np.random.default_rng(seed).permutation(n)
    k = max(1, int(round(n * valid_fraction)))
    return perm[k:], perm[:k]


def tensors(tab, cats: dict, conts: dict, y, tr_idx, va_idx):
    """Learner's CategoryMap codes and standardised numeric columns for the two splits."""
    import numpy as np
    import torch

    maps, c_tr, c_va = [], [], []
    for col in cats.values():
        m = tab.CategoryMap().fit([col[i] for i in tr_idx])
        maps.append(m)
        c_tr.append(torch.as_tensor(m.transform([col[i] for i in tr_idx])).long())
        c_va.append(torch.as_tensor(m.transform([col[i] for i in va_idx])).long())
    x_tr = np.zeros((len(tr_idx), len(conts)))
    x_va = np.zeros((len(va_idx), len(conts)))
    for j, col in enumerate(conts.values()):
        a = np.array([np.nan if col[i] is None else col[i] for i in tr_idx], dtype=np.float64)
        b = np.array([np.nan if col[i] is None else col[i] for i in va_idx], dtype=np.float64)
        fill = np.nanmean(a) if np.isfinite(a).any() else 0.0
        x_tr[:, j] = np.where(np.isnan(a), fill, a)
        x_va[:, j] = np.where(np.isnan(b), fill, b)
    a, b = torch.tensor(x_tr, dtype=torch.float32), torch.tensor(x_va, dtype=torch.float32)
    if len(conts):
        a, b = tab.standardize(a, b)
    y = np.asarray(y, dtype=np.float64)
    empty = torch.zeros(len(tr_idx), 0, dtype=torch.long), torch.zeros(len(va_idx), 0, dtype=torch.long)
    xc_tr = torch.stack(c_tr, 1) if c_tr else empty[0]
    xc_va = torch.stack(c_va, 1) if c_va else empty[1]
    return maps, (xc_tr, a.float(), torch.tensor(y[tr_idx], dtype=torch.float32)), \
        (xc_va, b.float(), torch.tensor(y[va_idx], dtype=torch.float32))


def ridge(train, valid, cards, lam=1.0):
    """Validation predictions of the additive one-hot ridge on the same codes and columns."""
    import numpy as np

    def design(part):
        x_cat, x_cont, _ = part
        blocks = [np.ones((len(x_cont), 1))]
        blocks += [np.eye(n)[x_cat[:, i].numpy()] for i, n in enumerate(cards)]
        blocks.append(x_cont.double().numpy())
        return np.hstack(blocks)

    X, V = design(train), design(valid)
    reg = lam * np.eye(X.shape[1])
    reg[0, 0] = 0.0
    w = np.linalg.solve(X.T @ X + reg, X.T @ train[2].double().numpy())
    return V @ w


def gbt(train, valid, seed):
    """sklearn's histogram gradient boosting on the codes (categorical) and numeric columns, if installed."""
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
    except ImportError:
        return None
    import numpy as np

    X = np.hstack([train[0].numpy(), train[1].numpy()])
    V = np.hstack([valid[0].numpy(), valid[1].numpy()])
    mask = [True] * train[0].shape[1] + [False] * train[1].shape[1]
    model = HistGradientBoostingRegressor(categorical_features=mask if any(mask) else None, random_state=seed)
    model.fit(X, train[2].numpy())
    return model.predict(V)


def pca2(E):
    """The 2-D PCA projection of the rows of E (numpy's SVD), and the variance each axis explains."""
    import numpy as np

    X = E - E.mean(0)
    U, S, _ = np.linalg.svd(X, full_matrices=False)
    var = S ** 2 / max(1e-12, (S ** 2).sum())
    Y = U[:, :2] * S[:2]
    if Y.shape[1] < 2:
        Y = np.hstack([Y, np.zeros((len(Y), 2 - Y.shape[1]))])
    return Y, var[:2].tolist()


def train_model(tab, model, train, valid, args, device):

    model = model.to(device)
    move = lambda part: tuple(t.to(device) for t in part)
    t0 = time.time()
    r = tab.fit(model, move(train), move(valid), args.epochs, args.lr, args.batch_size, args.seed)
    hist = r.get("history") or {}
    curve = [float(v) for v in hist.get("valid_rmse", [])] or [float(r["valid_rmse"])]
    return model, {"train_rmse": float(r["train_rmse"]), "valid_rmse": float(r["valid_rmse"]),
                   "valid_curve": curve, "train_curve": [float(v) for v in hist.get("train_rmse", [])],
                   "seconds": time.time() - t0}


def plot(figs, curves, proj, path_curves, path_emb, say):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed: no plots (pip install matplotlib); the figures are in the JSON")
        return []
    from labpath.plots import loss_figure

    # the training RMSE of each epoch (thin) under the validation RMSE (markers)
    loss_figure(
        path_curves,
        train={f"{name}: train": (range(1, len(c) + 1), c)
               for name, c in figs.get("train_curves", {}).items()},
        evals={f"{name}: validation": (range(1, len(c) + 1), c) for name, c in curves.items()},
        hlines=figs["baselines"], title=figs["table"], xlabel="epoch",
        ylabel=f"RMSE ({figs['target']})", logy=True,
    )
    Y, colour, label, var = proj
    fig, ax = plt.subplots(figsize=(5.5, 4.6))
    sc = ax.scatter(Y[:, 0], Y[:, 1], c=colour, cmap="coolwarm", s=14)
    fig.colorbar(sc, label=label)
    ax.set(xlabel=f"PC1 ({var[0]:.0%})", ylabel=f"PC2 ({var[1] if len(var) > 1 else 0:.0%})",
           title=f"learned vectors of '{figs['embedded_column']}'")
    fig.tight_layout()
    fig.savefig(path_emb, dpi=110)
    plt.close(fig)
    return [path_curves, path_emb]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default=os.environ.get("LABPATH_DEVICE", "auto"), help="auto, cpu, cuda or mps")
    ap.add_argument("--out", default="runs/tabular-embeddings", help="folder for the plots and figures")
    ap.add_argument("--data", help="your own table, a CSV file with a header row")
    ap.add_argument("--target", help="the CSV column to predict (with --data)")
    ap.add_argument("--cat", action="append", default=[], help="force a CSV column to be categorical (repeatable)")
    ap.add_argument("--cont", action="append", default=[], help="force a CSV column to be numeric (repeatable)")
    ap.add_argument("--max-card", type=int, default=20, help="integer columns with at most this many values are categorical")
    ap.add_argument("--valid-fraction", type=float, default=0.2)
    ap.add_argument("--stores", type=int, default=300)
    ap.add_argument("--n-train", type=int, default=6000)
    ap.add_argument("--n-valid", type=int, default=3000)
    ap.add_argument("--unseen", type=int, default=0, help="stores that appear only in the validation rows")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--layers", default="64,32", help="hidden widths, comma-separated")
    ap.add_argument("--ps", type=float, default=0.05, help="dropout after each hidden layer")
    ap.add_argument("--rule", default="fastai", choices=["fastai", "fastai2018"])
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    say = print
    target = Path(os.environ.get("LABPATH_TARGET") or HERE / "solution").resolve()
    if not (target / "tabular.py").is_file():
        print(f"Error: no tabular.py in {target}\nHint: labpath start tabular-embeddings, or set LABPATH_TARGET",
              file=sys.stderr)
        return 2
    if args.data and not args.target:
        print("Error: --data needs --target COL, the column to predict", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    import numpy as np
    import tabular_ref as ref
    import torch

    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tab = load_learner(target)
    layers = [int(v) for v in args.layers.split(",") if v.strip()]

    if args.data:
        cats, conts, y = read_csv(Path(args.data), args.target, args.cat, args.cont, args.max_card)
        tr_idx, va_idx = split_rows(len(y), args.valid_fraction, args.seed)
        y = np.asarray(y)
        mu, sd = y[tr_idx].mean(), y[tr_idx].std() or 1.0
        maps, train, valid = tensors(tab, cats, conts, (y - mu) / sd, tr_idx, va_idx)
        scale, names, table = sd, list(cats), f"{Path(args.data).name}: {len(tr_idx)} train / {len(va_idx)} valid rows"
        numeric = list(conts)
        latent = None
    else:
        data = ref.synthetic(args.seed, n_stores=args.stores, n_train=args.n_train, n_valid=args.n_valid,
                             unseen=args.unseen)
        cols = {c: data["train"][c] + data["valid"][c] for c in ref.CATS}
        n_tr = len(data["train"]["y"])
        idx_tr, idx_va = list(range(n_tr)), list(range(n_tr, n_tr + len(data["valid"]["y"])))
        x = list(data["train"]["x"]) + list(data["valid"]["x"])
        yy = list(data["train"]["y"]) + list(data["valid"]["y"])
        maps, train, valid = tensors(tab, cols, {"x": x}, yy, idx_tr, idx_va)
        scale, names, mu, numeric = 1.0, list(ref.CATS), 0.0, ["x"]
        table = f"synthetic stores (seed {args.seed}): {n_tr} train / {len(idx_va)} valid rows"
        latent = data
    if not maps:
        print("Error: the table has no categorical column to embed\nHint: name one with --cat COL", file=sys.stderr)
        return 2
    say(f"{table}; categorical {', '.join(f'{n} ({len(m) - 1})' for n, m in zip(names, maps))}; "
        f"numeric {train[1].shape[1]}")

    szs = [(len(m), tab.emb_size(len(m), rule=args.rule)) for m in maps]
    runs, models = {}, {}
    torch.manual_seed(args.seed)
    emb = tab.TabularModel(szs, train[1].shape[1], 1, layers, ps=args.ps)
    models["embeddings"], runs["embeddings"] = train_model(tab, emb, train, valid, args, device)
    torch.manual_seed(args.seed)
    hot = tab.OneHotMLP([len(m) for m in maps], train[1].shape[1], 1, layers)
    models["one-hot MLP"], runs["one-hot MLP"] = train_model(tab, hot, train, valid, args, device)

    yv = valid[2].double().numpy()
    baselines = {"global mean": ref.rmse(np.full(len(yv), train[2].double().mean().item()), yv) * scale,
                 "additive one-hot ridge": ref.rmse(ridge(train, valid, [len(m) for m in maps]), yv) * scale}
    if latent is not None:
        baselines["store x day cell mean"] = ref.cell_mean_rmse(latent)
        baselines["oracle (true latents)"] = ref.oracle_rmse(latent)
    boosted = gbt(train, valid, args.seed)
    if boosted is not None:
        baselines["gradient boosting (sklearn)"] = ref.rmse(boosted, yv) * scale

    # the largest categorical column's learned vectors, in 2-D
    big = max(range(len(maps)), key=lambda i: len(maps[i]))
    E = models["embeddings"].embeds[big].weight.detach().cpu().double().numpy()
    classes = list(maps[big].classes)
    real = [i for i, c in enumerate(classes) if c != "#na#" and i < len(E)]
    if latent is not None:
        order = {s: i for i, s in enumerate(latent["stores"])}
        rows = [i for i in real if classes[i] in order]
        true = latent["A"][[order[classes[i]] for i in rows]]
        colour, label = true[:, 0], "true latent a_s[0]"
        half = np.random.default_rng(args.seed).permutation(len(rows))[: len(rows) // 2]
        r2 = {"in_sample": ref.linear_r2(E[rows], true), "held_out_stores": ref.linear_r2(E[rows], true, half)}
    else:
        codes = train[0][:, big].numpy()
        ys = train[2].double().numpy()
        rows = [i for i in real if (codes == i).any()]
        colour = np.array([ys[codes == i].mean() for i in rows]) * scale + mu
        label, r2 = f"mean {args.target} of the category", None
    Y, var = pca2(E[rows])

    curves = {k: [v * scale for v in r["valid_curve"]] for k, r in runs.items()}
    figs = {"table": table, "target": args.target or "y", "device": device, "seed": args.seed,
            "categorical": names, "numeric": numeric, "embedding_sizes": szs, "rule": args.rule, "layers": layers, "epochs": args.epochs,
            "valid_rmse": {k: r["valid_rmse"] * scale for k, r in runs.items()},
            "train_rmse": {k: r["train_rmse"] * scale for k, r in runs.items()},
            "seconds": {k: r["seconds"] for k, r in runs.items()},
            "valid_curves": curves, "baselines": baselines,
            "train_curves": {k: [v * scale for v in r["train_curve"]] for k, r in runs.items()}, "embedded_column": names[big],
            "pca_explained_variance": var, "store_embedding_r2": r2}
    (out / "tabular-figures.json").write_text(json.dumps(figs, indent=2))
    wrote = plot(figs, curves, (Y, colour, label, var), out / "tabular-curves.png", out / "tabular-embeddings.png", say)
    width = max(len(k) for k in [*runs, *baselines])
    say("validation RMSE:")
    for k, r in runs.items():
        say(f"  {k:<{width}}  {r['valid_rmse'] * scale:.4f}  (train {r['train_rmse'] * scale:.4f}, {r['seconds']:.1f} s)")
    for k, v in baselines.items():
        say(f"  {k:<{width}}  {v:.4f}")
    if r2 is not None:
        say(f"store vectors -> true latents, linear R^2: {r2['in_sample']:.3f} in sample, "
            f"{r2['held_out_stores']:.3f} on held-out stores")
    if not math.isfinite(runs["embeddings"]["valid_rmse"]):
        say("warning: the embedding model's validation RMSE is not finite")
    say(f"wrote {', '.join(str(p) for p in [*wrote, out / 'tabular-figures.json'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
