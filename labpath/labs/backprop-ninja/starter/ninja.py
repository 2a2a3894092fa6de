"""
Lab - backprop ninja: every gradient of a two-layer BatchNorm MLP, by hand.

labpath runs the lecture's chunked forward pass and hands you its tensors in `cache`,
a dict with these keys (n = batch size; the check uses vocab 27, block 3, n_embd 10,
n_hidden 64, n 32, all float64):

    C, W1, b1, W2, b2, bngain, bnbias   parameters
    Xb (n, block), Yb (n,), n           the batch (Xb reuses rows of C on purpose)

    emb = C[Xb]                                   # (n, block, n_embd)
    embcat = emb.view(n, -1)                      # (n, block * n_embd)
    hprebn = embcat @ W1 + b1                     # (n, n_hidden)
    bnmeani = 1/n * hprebn.sum(0, keepdim=True)   # (1, n_hidden)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1/(n-1) * bndiff2.sum(0, keepdim=True)  # Bessel's correction: n-1
    bnvar_inv = (bnvar + 1e-5)**-0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = torch.tanh(hpreact)
    logits = h @ W2 + b2                          # (n, vocab)
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdim=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()

Every gradient must have the shape of its tensor (dbngain is (1, n_hidden), db1 is
(n_hidden,)). Do not call .backward() or torch.autograd: autograd is what the checks
compare you with. Read README.md first; check with `labpath check backprop-ninja`.
"""

import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401


def manual_backward(cache):
    """Return {"dlogprobs": ..., ..., "dC": ...}: d loss / d every tensor of the forward pass."""
    # TODO: delete this line when you start. Gradients you leave as None are reported
    # as missing, so you can check your work group by group.
    raise NotImplementedError("manual_backward")

    C, W1, W2, bngain = cache["C"], cache["W1"], cache["W2"], cache["bngain"]  # noqa: F841
    Xb, Yb, n = cache["Xb"], cache["Yb"], cache["n"]  # noqa: F841

    # TODO: cross-entropy, from the loss back to the logits
    dlogprobs = None
    dprobs = None
    dcounts_sum_inv = None
    dcounts_sum = None
    dcounts = None  # counts is used twice: add both contributions
    dnorm_logits = None
    dlogit_maxes = None
    dlogits = None  # logits is used twice too

    # TODO: second linear layer (logits = h @ W2 + b2) and the tanh
    dh = None
    dW2 = None
    db2 = None
    dhpreact = None

    # TODO: BatchNorm scale and shift, then its statistics
    dbngain = None
    dbnbias = None
    dbnraw = None
    dbnvar_inv = None
    dbnvar = None
    dbndiff2 = None
    dbndiff = None
    dbnmeani = None
    dhprebn = None

    # TODO: first linear layer and the embedding (a row of C used twice gets two shares)
    dembcat = None
    dW1 = None
    db1 = None
    demb = None
    dC = None

    return {
        "dlogprobs": dlogprobs, "dprobs": dprobs, "dcounts_sum_inv": dcounts_sum_inv,
        "dcounts_sum": dcounts_sum, "dcounts": dcounts, "dnorm_logits": dnorm_logits,
        "dlogit_maxes": dlogit_maxes, "dlogits": dlogits, "dh": dh, "dW2": dW2, "db2": db2,
        "dhpreact": dhpreact, "dbngain": dbngain, "dbnbias": dbnbias, "dbnraw": dbnraw,
        "dbnvar_inv": dbnvar_inv, "dbnvar": dbnvar, "dbndiff2": dbndiff2, "dbndiff": dbndiff,
        "dbnmeani": dbnmeani, "dhprebn": dhprebn, "dembcat": dembcat, "dW1": dW1, "db1": db1,
        "demb": demb, "dC": dC,
    }


def cross_entropy_backward(logits, Yb):
    """d F.cross_entropy(logits, Yb) / d logits in one expression, shape (n, vocab)."""
    # TODO: derive it on paper first: the whole softmax chain collapses to a few ops.
    raise NotImplementedError("cross_entropy_backward")


def batchnorm_backward(hprebn, bngain, bnvar_inv, bnraw, dhpreact):
    """d loss / d hprebn through the Bessel-corrected BatchNorm, given dhpreact."""
    # TODO: sum the three paths from hprebn to hpreact (direct, through the mean,
    # through the variance) and simplify; n is hprebn.shape[0].
    raise NotImplementedError("batchnorm_backward")
