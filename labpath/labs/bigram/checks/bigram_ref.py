"""labpath's own bigram reference: vocabulary, pairs, counts and helpers for the checks."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from labpath.checks import kit


@dataclass
class Ref:
    words: list
    stoi: dict
    itos: dict
    xs: torch.Tensor  # (n,) current character of every bigram event
    ys: torch.Tensor  # (n,) the character that followed
    N: torch.Tensor  # (V, V) int64 counts

    @property
    def V(self):
        return len(self.stoi)

    def probs(self, smoothing):
        P = (self.N + smoothing).double()
        return P / P.sum(1, keepdim=True)

    def nll(self, P, xs=None, ys=None):
        xs = self.xs if xs is None else xs
        ys = self.ys if ys is None else ys
        return -torch.log(P[xs, ys]).mean().item()


def pairs(words, stoi):
    xs, ys = [], []
    for w in words:
        chs = ["."] + list(w) + ["."]
        xs += [stoi[c] for c in chs[:-1]]
        ys += [stoi[c] for c in chs[1:]]
    return torch.tensor(xs), torch.tensor(ys)


def reference(words):
    chars = sorted(set("".join(words)) - {"."})
    stoi = {".": 0, **{c: i + 1 for i, c in enumerate(chars)}}
    itos = {i: c for c, i in stoi.items()}
    xs, ys = pairs(words, stoi)
    V = len(stoi)
    N = torch.bincount(xs * V + ys, minlength=V * V).view(V, V)
    return Ref(words, stoi, itos, xs, ys, N)


def as_tensor(x, what):
    """The learner's result as a float64 tensor (accepts tensors, numpy arrays, lists)."""
    if isinstance(x, tuple) and x and hasattr(x[0], "shape"):
        x = x[0]  # forward() returning (logits, loss) like makemore's models
    try:
        return torch.as_tensor(x.detach() if hasattr(x, "detach") else x).double()
    except (TypeError, ValueError, RuntimeError) as exc:
        kit.fail(f"{what}: expected a tensor, got {type(x).__name__} ({exc})")


def as_float(x, what):
    try:
        return float(x.item() if hasattr(x, "item") else x)
    except (TypeError, ValueError, RuntimeError) as exc:
        kit.fail(f"{what}: expected a number, got {type(x).__name__} ({exc})")


def reg_variants(W, xs, ys, reg):
    """The loss and common mistaken versions of it, for diagnoses (W float64)."""
    logits = W[xs]
    ce = F.cross_entropy(logits, ys)
    n = len(ys)
    logp0 = torch.log_softmax(logits, 0)[torch.arange(n), ys].mean()
    return {
        "the L2 term uses sum(W**2) instead of mean(W**2)": ce + reg * (W**2).sum(),
        "the L2 term is missing (or ignores reg)": ce,
        "the L2 term is mean(W)**2 instead of mean(W**2)": ce + reg * W.mean() ** 2,
        "the softmax normalises over the batch (dim 0) instead of over the next character (dim 1)":
            -logp0 + reg * (W**2).mean(),
        "the cross-entropy is summed over the examples instead of averaged":
            F.cross_entropy(logits, ys, reduction="sum") + reg * (W**2).mean(),
        "the log-likelihood has the wrong sign (no minus)": -ce + reg * (W**2).mean(),
    }


def words_of(samples, what):
    """Sampled words without their final '.', checked to be a list of strings."""
    if not isinstance(samples, (list, tuple)) or not all(isinstance(s, str) for s in samples):
        kit.fail(f"{what}: expected a list of strings, got {type(samples).__name__}",
                 hint="return the words as strings, e.g. ['mor.', 'axx.', ...]")
    return [s[:-1] if s.endswith(".") else s for s in samples]
