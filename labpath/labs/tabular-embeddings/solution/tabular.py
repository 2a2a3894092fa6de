"""
tabular-embeddings: entity embeddings of categorical columns, and when they beat one-hot.

Every categorical column gets its own learned table of vectors (an nn.Embedding, which is
a Linear layer applied to the one-hot code), the vectors are concatenated with the
standardised numeric columns and an MLP predicts the target. Index 0 of every table is
reserved for values never seen in training ("#na#", as in fastai's Categorify).

References:
- Guo & Berkhahn 2016, Entity Embeddings of Categorical Variables, arXiv 1604.06737
- fastai, fastai/tabular/model.py (TabularModel, emb_sz_rule) and the fast.ai 2018
  Rossmann lesson (cat_sz + 1, min(50, (c + 1) // 2))
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------
# the data: a seeded store x day x promotion table (given; the checks keep their own copy)

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def synthetic(seed=1337, n_stores=300, n_train=6000, n_valid=3000, unseen=0, noise=0.3):
    """Rows whose target has a store x day interaction that a rank-3 factorisation explains.

    a_s, b_d ~ N(0, I_3); x ~ U(-1, 1); promo ~ Bernoulli(0.4);
    y = a_s . b_d + 0.5 a_s[0] x + promo (0.5 + 0.5 a_s[1]) + N(0, noise^2).
    The last `unseen` stores appear only in the validation rows.
    """
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n_stores, 3))  # store latents (S, 3)
    B = rng.standard_normal((len(DAYS), 3))  # day latents (7, 3)
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


# -----------------------------------------------------------------------------
# categories -> integer codes, 0 reserved for unknown


def _missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


class CategoryMap:
    """Codes 1..C for the training values in sorted order; 0 for unseen or missing values."""

    def fit(self, values):
        # sorted, so the codes do not depend on the order the rows come in
        uniques = sorted({v for v in values if not _missing(v)})
        self.classes = ["#na#"] + uniques
        self.index = {v: i for i, v in enumerate(self.classes) if i > 0}
        return self

    def transform(self, values):
        # an unseen value (a new store in the test set) gets the unknown row, never a real one
        codes = [0 if _missing(v) else self.index.get(v, 0) for v in values]
        return torch.tensor(codes, dtype=torch.long)  # (N,)

    def __len__(self):
        return len(self.classes)  # C + 1, the unknown slot included


def emb_size(n_cat, rule="fastai"):
    """Embedding width for a column with n_cat codes (the unknown slot included)."""
    if rule == "fastai":
        return min(600, round(1.6 * n_cat ** 0.56))  # fastai v2 emb_sz_rule
    if rule == "fastai2018":
        return min(50, (n_cat + 1) // 2)  # the 2018 Rossmann lesson
    raise ValueError(f"unknown rule {rule!r}: 'fastai' or 'fastai2018'")


# -----------------------------------------------------------------------------
# models


class TabularModel(nn.Module):
    """Embeddings of each categorical column, concatenated with the numeric columns, then an MLP."""

    def __init__(self, emb_szs, n_cont, out_sz, layers, ps=0.0, embed_p=0.0, y_range=None, use_bn=True):
        super().__init__()
        # one table per column: (n_i, d_i), row 0 the unknown value
        self.embeds = nn.ModuleList([nn.Embedding(n, d) for n, d in emb_szs])
        for e in self.embeds:
            # fastai starts the tables small (std 0.01): what training writes into them then
            # stands out from the initial noise, and the first steps are not dominated by it
            nn.init.trunc_normal_(e.weight, std=0.01, a=-0.02, b=0.02)
        self.emb_drop = nn.Dropout(embed_p)
        self.bn_cont = nn.BatchNorm1d(n_cont) if use_bn and n_cont > 0 else nn.Identity()
        self.n_emb, self.n_cont, self.y_range = sum(d for _, d in emb_szs), n_cont, y_range
        ps = ps if isinstance(ps, (list, tuple)) else [ps] * len(layers)
        sizes = [self.n_emb + n_cont] + list(layers)
        blocks = []
        for n_in, n_out, p in zip(sizes[:-1], sizes[1:], ps):
            # fastai's order with lin_first: Linear, ReLU, BatchNorm, Dropout
            blocks += [nn.Linear(n_in, n_out, bias=not use_bn), nn.ReLU()]
            if use_bn:
                blocks.append(nn.BatchNorm1d(n_out))
            if p:
                blocks.append(nn.Dropout(p))
        blocks.append(nn.Linear(sizes[-1], out_sz))
        self.layers = nn.Sequential(*blocks)

    def forward(self, x_cat, x_cont):
        # x_cat (B, n_cat) long, x_cont (B, n_cont) float
        x = torch.cat([e(x_cat[:, i]) for i, e in enumerate(self.embeds)], dim=1)  # (B, sum d_i)
        x = self.emb_drop(x)
        if self.n_cont:
            x = torch.cat([x, self.bn_cont(x_cont)], dim=1)  # (B, sum d_i + n_cont)
        out = self.layers(x)  # (B, out_sz)
        if self.y_range is not None:
            lo, hi = self.y_range
            out = torch.sigmoid(out) * (hi - lo) + lo
        return out


class OneHotMLP(nn.Module):
    """The baseline: one-hot codes of every column (width n_i each) and the numeric columns, into an MLP.

    Its first Linear on the one-hot block *is* an embedding of width layers[0] shared by
    all columns' codes: the two models differ in the bottleneck, not in what they can express.
    """

    def __init__(self, cardinalities, n_cont, out_sz, layers):
        super().__init__()
        self.cardinalities = list(cardinalities)
        sizes = [sum(self.cardinalities) + n_cont] + list(layers)
        blocks = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            blocks += [nn.Linear(n_in, n_out), nn.ReLU()]
        blocks.append(nn.Linear(sizes[-1], out_sz))
        self.layers = nn.Sequential(*blocks)

    def forward(self, x_cat, x_cont):
        hot = [F.one_hot(x_cat[:, i], n).to(x_cont.dtype) for i, n in enumerate(self.cardinalities)]
        return self.layers(torch.cat(hot + [x_cont], dim=1))  # (B, out_sz)


# -----------------------------------------------------------------------------
# preprocessing and training


def standardize(train, other):
    """(x - mean) / std with the training rows' statistics for both tensors."""
    mean = train.mean(0, keepdim=True)  # (1, n_cont)
    std = train.std(0, keepdim=True).clamp_min(1e-8)
    return (train - mean) / std, (other - mean) / std


@torch.no_grad()
def _rmse(model, data, batch_size=4096):
    model.eval()  # BatchNorm's running statistics, no dropout
    x_cat, x_cont, y = data
    se = 0.0
    for i in range(0, len(y), batch_size):
        pred = model(x_cat[i:i + batch_size], x_cont[i:i + batch_size]).reshape(-1)
        se += ((pred - y[i:i + batch_size].reshape(-1)) ** 2).sum().item()
    return math.sqrt(se / len(y))


def fit(model, train, valid, epochs, lr, batch_size, seed):
    """Adam on the mean squared error; train and valid are (x_cat, x_cont, y) tuples.

    Returns the final train and valid RMSE (evaluation mode) and their history per epoch.
    """
    g = torch.Generator().manual_seed(seed)  # the order of the mini-batches
    x_cat, x_cont, y = train
    y = y.reshape(-1, 1).to(x_cont.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"train_rmse": [], "valid_rmse": []}
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2 and any(isinstance(m, nn.BatchNorm1d) for m in model.modules()):
                continue  # BatchNorm cannot normalise a batch of one
            loss = F.mse_loss(model(x_cat[idx], x_cont[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        history["train_rmse"].append(_rmse(model, train))
        history["valid_rmse"].append(_rmse(model, valid))
    return {"train_rmse": _rmse(model, train), "valid_rmse": _rmse(model, valid), "history": history}
