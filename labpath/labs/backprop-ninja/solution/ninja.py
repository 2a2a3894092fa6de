"""
Becoming a backprop ninja: every gradient of a two-layer BatchNorm MLP, by hand.

The network is the makemore MLP of lecture 5 (Neural Networks: Zero to Hero),
forward pass cut into small steps so each one has a simple local derivative:

    emb = C[Xb]                                   # (n, block, n_embd)
    embcat = emb.view(n, -1)                      # (n, block * n_embd)
    hprebn = embcat @ W1 + b1                     # (n, n_hidden)
    bnmeani = 1/n * hprebn.sum(0, keepdim=True)   # (1, n_hidden)
    bndiff = hprebn - bnmeani                     # (n, n_hidden)
    bndiff2 = bndiff**2
    bnvar = 1/(n-1) * bndiff2.sum(0, keepdim=True)  # Bessel's correction: n-1
    bnvar_inv = (bnvar + 1e-5)**-0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = torch.tanh(hpreact)
    logits = h @ W2 + b2                          # (n, vocab)
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes            # subtract the max for stability
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdim=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()

Three rules do all the work below:
- a broadcast in the forward pass is a sum in the backward pass (keepdim=True keeps
  the gradient the shape of the tensor it belongs to);
- a tensor used twice receives the sum of both contributions (+=);
- the gradient of a matrix product is another matrix product: check the shapes.

References:
- Neural Networks: Zero to Hero, lecture 5 (https://karpathy.ai/zero-to-hero.html)
- karpathy/nn-zero-to-hero, lectures/makemore/makemore_part4_backprop.ipynb
"""

import torch
import torch.nn.functional as F


def manual_backward(cache):
    """Return {"dlogprobs": ..., ..., "dC": ...}: d loss / d every tensor of the forward pass."""
    # unpack the forward pass; every tensor here is a plain (no grad) tensor
    C, W1, W2, bngain = cache["C"], cache["W1"], cache["W2"], cache["bngain"]
    Xb, Yb, n = cache["Xb"], cache["Yb"], cache["n"]
    emb, embcat, hprebn = cache["emb"], cache["embcat"], cache["hprebn"]
    bndiff, bnvar, bnvar_inv, bnraw = cache["bndiff"], cache["bnvar"], cache["bnvar_inv"], cache["bnraw"]
    h, logits, counts = cache["h"], cache["logits"], cache["counts"]
    counts_sum, counts_sum_inv, probs = cache["counts_sum"], cache["counts_sum_inv"], cache["probs"]

    # ---- cross-entropy, piece by piece --------------------------------------------
    # loss = -mean of n picked entries: each picked entry gets -1/n, the rest nothing
    dlogprobs = torch.zeros_like(cache["logprobs"])  # (n, vocab)
    dlogprobs[range(n), Yb] = -1.0 / n
    # d log(x)/dx = 1/x
    dprobs = (1.0 / probs) * dlogprobs  # (n, vocab)
    # probs = counts * counts_sum_inv broadcasts counts_sum_inv (n, 1) across the row:
    # its gradient sums over that row
    dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)  # (n, 1)
    dcounts = counts_sum_inv * dprobs  # first of counts' two uses
    dcounts_sum = -counts_sum**-2 * dcounts_sum_inv  # d x^-1/dx = -x^-2
    # counts_sum = counts.sum(1): every element of the row gets the row's gradient
    dcounts += torch.ones_like(counts) * dcounts_sum  # second use: accumulate
    dnorm_logits = counts * dcounts  # exp is its own derivative
    dlogits = dnorm_logits.clone()  # logits - logit_maxes: slope 1 for logits ...
    dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)  # ... and -1 (summed) for the max
    # the max passes its gradient only to the column that won the max
    dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes

    # ---- second linear layer: logits = h @ W2 + b2 ---------------------------------
    dh = dlogits @ W2.T  # (n, vocab) @ (vocab, n_hidden) -> (n, n_hidden)
    dW2 = h.T @ dlogits  # (n_hidden, n) @ (n, vocab) -> (n_hidden, vocab)
    db2 = dlogits.sum(0)  # b2 was broadcast over the batch
    # ---- tanh: d tanh(x)/dx = 1 - tanh(x)^2, written with the output h -------------
    dhpreact = (1.0 - h**2) * dh

    # ---- BatchNorm scale and shift: hpreact = bngain * bnraw + bnbias -------------
    dbngain = (bnraw * dhpreact).sum(0, keepdim=True)  # (1, n_hidden)
    dbnraw = bngain * dhpreact
    dbnbias = dhpreact.sum(0, keepdim=True)
    # ---- BatchNorm statistics ---------------------------------------------------------
    # bnraw = bndiff * bnvar_inv: bndiff's first use, bnvar_inv broadcast over the batch
    dbndiff = bnvar_inv * dbnraw
    dbnvar_inv = (bndiff * dbnraw).sum(0, keepdim=True)
    dbnvar = (-0.5 * (bnvar + 1e-5) ** -1.5) * dbnvar_inv  # power rule
    # bnvar = 1/(n-1) * sum over the batch: each row gets 1/(n-1) of it (Bessel)
    dbndiff2 = (1.0 / (n - 1)) * torch.ones_like(bndiff) * dbnvar
    dbndiff += 2 * bndiff * dbndiff2  # bndiff's second use, through bndiff2
    # bndiff = hprebn - bnmeani: slope 1 for hprebn, -1 (summed over the batch) for the mean
    dhprebn = dbndiff.clone()
    dbnmeani = (-dbndiff).sum(0, keepdim=True)  # (1, n_hidden)
    dhprebn += (1.0 / n) * torch.ones_like(hprebn) * dbnmeani  # the mean used every row

    # ---- first linear layer: hprebn = embcat @ W1 + b1 ----------------------------
    dembcat = dhprebn @ W1.T  # (n, n_hidden) @ (n_hidden, block*n_embd)
    dW1 = embcat.T @ dhprebn  # (block*n_embd, n) @ (n, n_hidden)
    db1 = dhprebn.sum(0)
    # ---- embedding: the view is undone, the lookup is scattered back ---------------
    demb = dembcat.view(emb.shape)  # (n, block, n_embd)
    # A row of C used k times in the batch receives k contributions. dC[Xb] += demb
    # would keep only one of them; index_add_ (or a loop with +=) adds them all.
    dC = torch.zeros_like(C)
    dC.index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))

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
    """d F.cross_entropy(logits, Yb) / d logits in one expression: (softmax - onehot) / n."""
    n = logits.shape[0]
    # the whole chain from logprobs back to logits collapses: p_i - 1[i == y]
    dlogits = F.softmax(logits, 1)  # (n, vocab)
    dlogits[range(n), Yb] -= 1
    return dlogits / n  # the loss is a mean over the batch


def batchnorm_backward(hprebn, bngain, bnvar_inv, bnraw, dhpreact):
    """d loss / d hprebn through the Bessel-corrected BatchNorm, in one expression."""
    n = hprebn.shape[0]
    # Three paths reach each input: directly, through the batch mean and through the
    # batch variance. Summed and simplified (with the n-1 of the unbiased variance):
    return bngain * bnvar_inv / n * (
        n * dhpreact
        - dhpreact.sum(0)  # through the mean
        - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)  # through the variance
    )
