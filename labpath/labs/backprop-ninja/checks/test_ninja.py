"""Checks for the backprop-ninja lab: every hand-written gradient against autograd.

Each group check compares one stretch of the backward pass with autograd of the same
forward steps, fed with *your own* gradient of their outputs: a mistake is reported in
the group where it is made, not again in every group after it. The last gradient check
compares all 26 tensors with autograd end to end, as the lecture's cmp() does.
"""

import torch
import torch.nn.functional as F
from ninja_ref import (
    ATOL,
    DTYPE,
    GROUPS,
    NAMES,
    RTOL,
    fingerprint,
    format_rows,
    learner_grads,
    local_expected,
    row,
)

from labpath.checks import kit

HINTS = {
    "dlogprobs": "loss = -(mean of the n picked entries of logprobs): each picked entry "
    "gets -1/n, every other entry 0",
    "dprobs": "d log(p)/dp = 1/p",
    "dcounts_sum_inv": "counts_sum_inv (n, 1) was broadcast across each row in "
    "counts * counts_sum_inv: sum over dim 1 with keepdim=True",
    "dcounts_sum": "d x^-1/dx = -x^-2",
    "dcounts": "counts is used twice (in probs and in counts_sum): add both contributions",
    "dnorm_logits": "d exp(x)/dx = exp(x), which is counts",
    "dlogit_maxes": "logit_maxes (n, 1) was subtracted from every column: "
    "-(dnorm_logits summed over dim 1, keepdim=True)",
    "dlogits": "logits is used twice: in norm_logits (slope 1) and in the max, which "
    "passes its gradient only to the column that won (F.one_hot of the argmax)",
    "dh": "logits = h @ W2 + b2, so dh = dlogits @ W2.T; let the shapes guide you",
    "dW2": "dW2 = h.T @ dlogits, shape (n_hidden, vocab)",
    "db2": "b2 was broadcast over the batch: sum dlogits over dim 0",
    "dhpreact": "d tanh(x)/dx = 1 - tanh(x)^2 = 1 - h**2, with the output h, not hpreact",
    "dbngain": "bngain (1, n_hidden) was broadcast over the batch: "
    "(bnraw * dhpreact).sum(0, keepdim=True)",
    "dbnbias": "dhpreact summed over dim 0, keepdim=True",
    "dbnraw": "bngain * dhpreact",
    "dbnvar_inv": "bnraw = bndiff * bnvar_inv, bnvar_inv broadcast over the batch: "
    "(bndiff * dbnraw).sum(0, keepdim=True)",
    "dbnvar": "power rule: d (v + 1e-5)^-0.5 / dv = -0.5 * (v + 1e-5)^-1.5",
    "dbndiff2": "bnvar = 1/(n-1) * bndiff2.sum(0): every row of bndiff2 gets dbnvar / (n-1)",
    "dbndiff": "bndiff is used twice: in bnraw and in bndiff2 (2 * bndiff * dbndiff2); add both",
    "dbnmeani": "bndiff = hprebn - bnmeani with bnmeani broadcast over the batch: "
    "-(dbndiff summed over dim 0, keepdim=True)",
    "dhprebn": "hprebn is used twice: in bndiff (slope 1) and in bnmeani (1/n for each row)",
    "dembcat": "dembcat = dhprebn @ W1.T",
    "dW1": "dW1 = embcat.T @ dhprebn, shape (block * n_embd, n_hidden)",
    "db1": "b1 was broadcast over the batch: sum dhprebn over dim 0",
    "demb": "embcat is a view of emb: dembcat.view(emb.shape)",
    "dC": "send each row of demb back to the row of C it was looked up from; a row used "
    "k times gets k contributions (index_add_, or a loop with +=)",
}


def embedding_diagnosis(yours, expected, Xb):
    """Name the classic dC mistake: rows of C used several times got one contribution."""
    if not torch.is_tensor(yours) or yours.shape != expected.shape:
        return None
    hits = torch.bincount(Xb.reshape(-1), minlength=expected.shape[0])
    good = ((yours.to(DTYPE) - expected).abs() <= ATOL + RTOL * expected.abs()).all(1)
    once, many = hits <= 1, hits > 1
    if bool(good[once].all()) and not bool(good[many].any()):
        return (f"rows of C looked up once are right, the {int(many.sum())} rows looked up "
                "several times are wrong: each use must add its contribution "
                "(dC[Xb] += demb and dC[Xb] = demb keep only one of them)")
    return None


def check_group(ninja, reference, group):
    cache, true = reference
    yours = learner_grads(ninja, cache)
    names = GROUPS[group]
    missing = [n for n in names if n not in yours]
    if missing:
        kit.fail(f"{group}: manual_backward's dict has no {', '.join(missing)} (or it is None)",
                 hint=f'return them in the dict, e.g. {{"{missing[0]}": {missing[0]}, ...}}')
    rows, expected = [], {}
    for name in names:
        expected[name] = local_expected(name, cache, yours, true)
        rows.append(row(name, yours[name], expected[name]))
    bad = [r for r in rows if not r["close"]]
    if not bad:
        return
    first = bad[0]
    name = first["tensor"]
    diagnosis = fingerprint(name, yours[name], expected[name], cache["n"])
    if name == "dC":
        diagnosis = embedding_diagnosis(yours[name], expected[name], cache["Xb"]) or diagnosis
    where = None
    if "worst_index" in first:
        where = f"{name}{first['worst_index']}"
    what = (f"{name} is wrong ({group} gradients vs autograd of the same forward steps, "
            f"fed with your own upstream gradients)\n" + " " * 15 + format_rows(rows))
    kit.fail(what, yours=first.get("yours"), expected=first.get("expected"), where=where,
             hint=HINTS[name], diagnosis=diagnosis, table=rows)


def test_softmax_gradients(ninja, reference):
    """dlogprobs, dprobs, dcounts_sum_inv, dcounts_sum, dcounts match autograd."""
    check_group(ninja, reference, "softmax")


def test_logits_gradients(ninja, reference):
    """dnorm_logits, dlogit_maxes, dlogits match autograd."""
    check_group(ninja, reference, "logits")


def test_second_layer_gradients(ninja, reference):
    """dh, dW2, db2 (logits = h @ W2 + b2) match autograd."""
    check_group(ninja, reference, "second layer")


def test_tanh_gradient(ninja, reference):
    """dhpreact (h = tanh(hpreact)) matches autograd."""
    check_group(ninja, reference, "tanh")


def test_batchnorm_scale_and_shift_gradients(ninja, reference):
    """dbngain, dbnbias, dbnraw (hpreact = bngain * bnraw + bnbias) match autograd."""
    check_group(ninja, reference, "batchnorm scale and shift")


def test_batchnorm_statistics_gradients(ninja, reference):
    """dbnvar_inv, dbnvar, dbndiff2, dbndiff, dbnmeani, dhprebn match autograd."""
    check_group(ninja, reference, "batchnorm statistics")


def test_first_layer_gradients(ninja, reference):
    """dembcat, dW1, db1 (hprebn = embcat @ W1 + b1) match autograd."""
    check_group(ninja, reference, "first layer")


def test_embedding_gradients_accumulate_repeated_rows(ninja, reference):
    """demb and dC match autograd; rows of C used several times add up."""
    cache, _ = reference
    hits = torch.bincount(cache["Xb"].reshape(-1))
    assert int(hits.max()) > 1, "the check's batch must reuse a row of C"
    check_group(ninja, reference, "embedding")


def test_every_gradient_matches_autograd(ninja, reference):
    """All 26 gradients against loss.backward(), end to end (the lecture's cmp table)."""
    cache, true = reference
    yours = learner_grads(ninja, cache)
    rows = [row(name, yours.get(name), true[name]) for name in NAMES]
    bad = [r for r in rows if not r["close"]]
    if bad:
        first = bad[0]
        kit.fail(f"{first['tensor']} is the first of your gradients that differs from "
                 "loss.backward()'s\n"
                 + " " * 15 + format_rows(rows), yours=first.get("yours"),
                 expected=first.get("expected"), hint=HINTS[first["tensor"]], table=rows)


# ---- the fused passes ---------------------------------------------------------------


def test_fused_cross_entropy_backward(ninja, reference):
    """cross_entropy_backward(logits, Yb) equals autograd of F.cross_entropy."""
    cache, _ = reference
    logits, Yb, n = cache["logits"], cache["Yb"], cache["n"]
    leaf = logits.clone().requires_grad_(True)
    F.cross_entropy(leaf, Yb).backward()
    expected = leaf.grad
    yours = ninja.cross_entropy_backward(logits.clone(), Yb.clone())

    def diagnose(y):
        y = y.detach().to(DTYPE)
        p = F.softmax(logits, 1)
        if torch.allclose(y, p / n, atol=1e-12):
            return "yours is softmax / n: the -1 at each example's target column is missing"
        return fingerprint("dlogits", y, expected, n)

    kit.close(yours, expected, "d cross_entropy(logits, Yb) / d logits", rtol=RTOL, atol=ATOL,
              dims="n vocab", diagnose=diagnose,
              hint="dlogits = (softmax(logits) - one_hot(Yb)) / n")


def test_fused_batchnorm_backward(ninja, reference):
    """batchnorm_backward(...) equals autograd through the Bessel-corrected BatchNorm."""
    cache, true = reference
    n = cache["n"]
    dhpreact = true["dhpreact"]
    args = [cache[k].clone() for k in ("hprebn", "bngain", "bnvar_inv", "bnraw")]
    yours = ninja.batchnorm_backward(*args, dhpreact.clone())
    expected = true["dhprebn"]
    bngain, bnvar_inv, bnraw = cache["bngain"], cache["bnvar_inv"], cache["bnraw"]
    # the same formula for a BatchNorm whose variance divides by n
    biased = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0)
                                       - bnraw * (dhpreact * bnraw).sum(0))

    def diagnose(y):
        y = y.detach().to(DTYPE)
        if torch.allclose(y, biased, rtol=1e-8, atol=1e-12):
            return ("yours is the gradient of a BatchNorm with the biased variance (1/n); "
                    "bnvar here uses Bessel's correction, 1/(n-1): the variance term "
                    "carries a factor n/(n-1)")
        return fingerprint("dhprebn", y, expected, n)

    kit.close(yours, expected, "d loss / d hprebn through BatchNorm", rtol=RTOL, atol=ATOL,
              dims="n n_hidden", diagnose=diagnose,
              hint="dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) "
              "- n/(n-1) * bnraw * (dhpreact * bnraw).sum(0))")
