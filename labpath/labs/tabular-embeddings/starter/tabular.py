"""
tabular-embeddings: entity embeddings of categorical columns, and when they beat one-hot.

Every categorical column gets its own learned table of vectors (an nn.Embedding, which is
a Linear layer applied to the one-hot code), the vectors are concatenated with the
standardised numeric columns and an MLP predicts the target. Index 0 of every table is
reserved for values never seen in training ("#na#", as in fastai's Categorify).

Read README.md in this folder first; check your work with `labpath check tabular-embeddings`.
The generator `synthetic` is given (the checks use their own copy); every gap below is
marked TODO and raises NotImplementedError until you fill it in.

References:
- Guo & Berkhahn 2016, Entity Embeddings of Categorical Variables, arXiv 1604.06737
- fastai, fastai/tabular/model.py (TabularModel, emb_sz_rule) and the fast.ai 2018
  Rossmann lesson (cat_sz + 1, min(50, (c + 1) // 2))
"""

import math  # noqa: F401  (math.sqrt, math.isnan)

import numpy as np
import torch  # noqa: F401
import torch.nn as nn
import torch.nn.functional as F  # noqa: F401  (F.one_hot, F.mse_loss)

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


class CategoryMap:
    """Codes 1..C for the training values in sorted order; 0 for unseen or missing values."""

    def fit(self, values):
        # TODO: self.classes = ["#na#"] + the sorted distinct training values (None is not a
        # class); remember each value's code (its index in classes); return self.
        raise NotImplementedError("CategoryMap.fit")

    def transform(self, values):
        # TODO: a LongTensor (N,) of codes; unseen values and None get 0.
        raise NotImplementedError("CategoryMap.transform")

    def __len__(self):
        # TODO: C + 1, the unknown slot included.
        raise NotImplementedError("CategoryMap.__len__")


def emb_size(n_cat, rule="fastai"):
    """Embedding width for a column with n_cat codes (the unknown slot included)."""
    # TODO: "fastai": min(600, round(1.6 * n_cat ** 0.56)); "fastai2018": min(50, (n_cat + 1) // 2).
    raise NotImplementedError("emb_size")


# -----------------------------------------------------------------------------
# models


class TabularModel(nn.Module):
    """Embeddings of each categorical column, concatenated with the numeric columns, then an MLP."""

    def __init__(self, emb_szs, n_cont, out_sz, layers, ps=0.0, embed_p=0.0, y_range=None, use_bn=True):
        super().__init__()
        # TODO: self.embeds = nn.ModuleList of one nn.Embedding(n, d) per (n, d) in emb_szs;
        # dropout embed_p on the concatenated embeddings; BatchNorm1d on the numeric columns
        # (use_bn); per hidden width: Linear, ReLU, BatchNorm1d (use_bn), Dropout (ps, one
        # value or one per layer); a last Linear to out_sz; y_range = (lo, hi) squashes the
        # output with a sigmoid into that range.
        raise NotImplementedError("TabularModel.__init__")

    def forward(self, x_cat, x_cont):
        # x_cat (B, n_cat) long, x_cont (B, n_cont) float -> (B, out_sz)
        # TODO: look column i up in table i, concatenate (widths add up), then the numeric
        # columns, then the MLP.
        raise NotImplementedError("TabularModel.forward")


class OneHotMLP(nn.Module):
    """The baseline: one-hot codes of every column (width n_i each) and the numeric columns, into an MLP."""

    def __init__(self, cardinalities, n_cont, out_sz, layers):
        super().__init__()
        # TODO: Linear(sum(cardinalities) + n_cont, layers[0]), ReLU, ..., Linear(layers[-1], out_sz).
        raise NotImplementedError("OneHotMLP.__init__")

    def forward(self, x_cat, x_cont):
        # TODO: F.one_hot of each column (its cardinality wide), concatenated with x_cont, into the MLP.
        raise NotImplementedError("OneHotMLP.forward")


# -----------------------------------------------------------------------------
# preprocessing and training


def standardize(train, other):
    """(x - mean) / std with the training rows' statistics for both tensors."""
    # TODO: mean and std over the rows of train only; return (train_scaled, other_scaled).
    raise NotImplementedError("standardize")


def fit(model, train, valid, epochs, lr, batch_size, seed):
    """Adam on the mean squared error; train and valid are (x_cat, x_cont, y) tuples.

    Returns {"train_rmse": ..., "valid_rmse": ...} of the trained model in evaluation mode
    (optionally "history": per-epoch lists of both, which `labpath run` plots).
    """
    # TODO: g = torch.Generator().manual_seed(seed) for the mini-batch order; each epoch:
    # model.train(), shuffle, Adam steps on F.mse_loss; at the end model.eval() and the RMSE
    # of train and valid.
    raise NotImplementedError("fit")
