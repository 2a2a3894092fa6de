"""labpath's own tabular references: the synthetic store x day x promotion data and the baselines.

Written from the formulas in README.md (not from the lab's solution), and kept here so
that the data the checks train on cannot be changed by editing the lab file.
"""

from __future__ import annotations

import math

import numpy as np

from labpath.checks import kit

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]  # sorted order is not weekday order


def need(module, *names):
    """Fail with a plain sentence when the learner's module lacks a name the check uses."""
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        kit.fail(f"your tabular.py defines no {', '.join(missing)}",
                 hint="keep the names of the interface in README.md")
    return [getattr(module, n) for n in names]


def synthetic(seed=1337, n_stores=300, n_train=6000, n_valid=3000, unseen=0, noise=0.3):
    """Rows of a store x day x promotion table whose target a rank-3 factorisation explains.

    a_s, b_d ~ N(0, I_3); x ~ U(-1, 1); promo ~ Bernoulli(0.4);
    y = a_s . b_d + 0.5 a_s[0] x + promo (0.5 + 0.5 a_s[1]) + N(0, noise^2).
    The last `unseen` stores never appear in the training rows (validation draws all).
    """
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n_stores, 3))
    B = rng.standard_normal((len(DAYS), 3))
    names = [f"s{i:03d}" for i in range(n_stores)]

    def rows(n, k_stores):
        s = rng.integers(0, k_stores, n)
        d = rng.integers(0, len(DAYS), n)
        p = (rng.random(n) < 0.4).astype(np.int64)
        x = rng.uniform(-1.0, 1.0, n)
        mean = (A[s] * B[d]).sum(1) + 0.5 * A[s, 0] * x + p * (0.5 + 0.5 * A[s, 1])
        y = mean + noise * rng.standard_normal(n)
        return {"store": [names[i] for i in s], "day": [DAYS[i] for i in d], "promo": p.tolist(),
                "x": x, "y": y, "store_index": s, "day_index": d, "mean": mean}

    train = rows(n_train, n_stores - unseen)
    valid = rows(n_valid, n_stores)
    return {"train": train, "valid": valid, "A": A, "B": B, "stores": names, "noise": noise}


CATS = ("store", "day", "promo")


def rmse(pred, y):
    pred, y = np.asarray(pred, dtype=np.float64).reshape(-1), np.asarray(y, dtype=np.float64).reshape(-1)
    return float(math.sqrt(np.mean((pred - y) ** 2)))


def _codes(train_col, other_col):
    """Sorted codes 1..C from the training column; unseen values get 0."""
    index = {v: i + 1 for i, v in enumerate(sorted(set(train_col)))}
    return (np.array([index[v] for v in train_col]), np.array([index.get(v, 0) for v in other_col]),
            len(index) + 1)


def one_hot_design(data):
    """The additive one-hot design [1, one_hot(store), one_hot(day), one_hot(promo), x]."""
    tr, va = data["train"], data["valid"]
    blocks_tr, blocks_va = [np.ones((len(tr["y"]), 1))], [np.ones((len(va["y"]), 1))]
    for c in CATS:
        a, b, n = _codes(tr[c], va[c])
        blocks_tr.append(np.eye(n)[a])
        blocks_va.append(np.eye(n)[b])
    mu, sd = tr["x"].mean(), tr["x"].std()
    blocks_tr.append(((tr["x"] - mu) / sd)[:, None])
    blocks_va.append(((va["x"] - mu) / sd)[:, None])
    return np.hstack(blocks_tr), np.hstack(blocks_va)


def ridge_rmse(data, lam=1.0):
    """Validation RMSE of the additive one-hot linear model, closed-form ridge."""
    Xtr, Xva = one_hot_design(data)
    y = data["train"]["y"]
    reg = lam * np.eye(Xtr.shape[1])
    reg[0, 0] = 0.0  # no penalty on the intercept
    w = np.linalg.solve(Xtr.T @ Xtr + reg, Xtr.T @ y)
    return rmse(Xva @ w, data["valid"]["y"])


def global_mean_rmse(data):
    return rmse(np.full(len(data["valid"]["y"]), data["train"]["y"].mean()), data["valid"]["y"])


def cell_mean_rmse(data):
    """Mean of the training rows of the same store x day cell, else the store's, else all."""
    tr, va = data["train"], data["valid"]
    sums = {}
    for key_fn in (lambda r: (tr["store"][r], tr["day"][r]), lambda r: (tr["store"][r],)):
        for r in range(len(tr["y"])):
            k = key_fn(r)
            s, n = sums.get(k, (0.0, 0))
            sums[k] = (s + tr["y"][r], n + 1)
    g = tr["y"].mean()
    pred = []
    for r in range(len(va["y"])):
        for k in ((va["store"][r], va["day"][r]), (va["store"][r],)):
            if k in sums:
                s, n = sums[k]
                pred.append(s / n)
                break
        else:
            pred.append(g)
    return rmse(pred, va["y"])


def oracle_rmse(data):
    return rmse(data["valid"]["mean"], data["valid"]["y"])


def emb_size_fastai(n):
    return min(600, round(1.6 * n ** 0.56))


def emb_size_2018(n):
    return min(50, (n + 1) // 2)


def linear_r2(E, A, split=None):
    """R^2 of the least-squares map [E, 1] -> A (in sample, or fit on `split` and scored on the rest)."""
    E = np.asarray(E, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    X = np.hstack([E, np.ones((len(E), 1))])
    fit = np.arange(len(E)) if split is None else split
    score = np.arange(len(E)) if split is None else np.setdiff1d(np.arange(len(E)), split)
    M, *_ = np.linalg.lstsq(X[fit], A[fit], rcond=None)
    res = A[score] - X[score] @ M
    tot = A[score] - A[score].mean(0)
    return float(1.0 - (res ** 2).sum() / (tot ** 2).sum())


# --- the learner's code on the check's data ----------------------------------------


def reserved_slot(cmap):
    """The index of the '#na#' class (0 in the contract; another documented slot is accepted)."""
    classes = list(getattr(cmap, "classes", []))
    if "#na#" not in classes:
        return None
    return classes.index("#na#")


def as_codes(t, what):
    import torch

    try:
        t = torch.as_tensor(t)
    except (TypeError, ValueError, RuntimeError) as exc:
        kit.fail(f"{what}: not a tensor of codes ({type(t).__name__}: {exc})",
                 hint="transform(values) returns a LongTensor of shape (N,)")
    if t.dtype != torch.long:
        kit.fail(f"{what}: dtype {t.dtype}", expected="torch.int64 (a LongTensor)",
                 hint="nn.Embedding looks rows up with integer codes: torch.tensor(codes, dtype=torch.long)")
    return t.reshape(-1)


def prepare(tab, data):
    """Codes with the learner's CategoryMap, x standardised with the learner's standardize.

    Returns maps, train and valid as (x_cat (N, 3) long, x_cont (N, 1) float32, y (N,) float32).
    """
    import torch

    tr, va = data["train"], data["valid"]
    maps = [tab.CategoryMap().fit(tr[c]) for c in CATS]
    xc_tr = torch.stack([as_codes(m.transform(tr[c]), f"transform of the {c} column") for m, c in zip(maps, CATS)], 1)
    xc_va = torch.stack([as_codes(m.transform(va[c]), f"transform of the {c} column") for m, c in zip(maps, CATS)], 1)
    x_tr = torch.tensor(tr["x"], dtype=torch.float32)[:, None]
    x_va = torch.tensor(va["x"], dtype=torch.float32)[:, None]
    a, b = tab.standardize(x_tr, x_va)
    return maps, (xc_tr, a.float(), torch.tensor(tr["y"], dtype=torch.float32)), \
        (xc_va, b.float(), torch.tensor(va["y"], dtype=torch.float32))


def predict(model, x_cat, x_cont):
    """The model's predictions (N,) in evaluation mode, without gradients."""
    import torch

    model.eval()
    with torch.no_grad():
        out = model(x_cat, x_cont)
    return torch.as_tensor(out).reshape(len(x_cat), -1)[:, 0]


def first_linear(model, x_cat, x_cont):
    """The first nn.Linear the forward pass calls (the one the concatenated inputs enter)."""
    import torch

    seen = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.append(mod))
             for m in model.modules() if isinstance(m, torch.nn.Linear)]
    try:
        model.eval()
        with torch.no_grad():
            model(x_cat, x_cont)
    finally:
        for h in hooks:
            h.remove()
    return seen[0] if seen else None
