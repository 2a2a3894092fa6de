"""Reference machinery for the lstm checks: weight loading, variant cells for naming
known mistakes (gate order, wrong nonlinearity, missing terms) and the names data."""

from __future__ import annotations

import itertools
import random

import torch
import torch.nn as nn

from labpath.checks import kit

B, T, I, H = 3, 5, 4, 6  # distinct sizes: 4H = 24 matches nothing else
DTYPE = torch.float64
RTOL, ATOL = 1e-9, 1e-12
GATES = ("i", "f", "g", "o")  # torch's order along dim 0
PARTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def torch_cell(bias=True, seed=0, input_size=I, hidden_size=H):
    """torch.nn.LSTMCell in float64 with random weights and two random bias vectors."""
    torch.manual_seed(seed)
    cell = nn.LSTMCell(input_size, hidden_size, bias=bias).to(DTYPE)
    with torch.no_grad():  # wider than the default init, so every gate matters
        for p in cell.parameters():
            p.uniform_(-0.7, 0.7)
    return cell


def torch_lstm(seed=0):
    torch.manual_seed(seed)
    lstm = nn.LSTM(I, H, batch_first=True).to(DTYPE)
    with torch.no_grad():
        for p in lstm.parameters():
            p.uniform_(-0.7, 0.7)
    return lstm


def learner_params(module, what):
    """The learner's LSTM parameters by torch's names: {"weight_ih": p, ...}."""
    found, extra = {}, []
    for name, p in module.named_parameters():
        base = name.rsplit(".", 1)[-1].removesuffix("_l0")
        if base in PARTS and base not in found:
            found[base] = p
        else:
            extra.append(name)
    missing = [n for n in PARTS[:2] if n not in found]
    if missing or extra:
        kit.fail(
            f"{what}: parameters named {sorted(n for n, _ in module.named_parameters())}",
            expected="weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H), bias_hh (4H)",
            hint="name and shape the parameters exactly like torch.nn.LSTMCell, so torch's "
            "weights can be loaded into yours (one weight matrix per input, gates stacked "
            "along dim 0 in the order i, f, g, o)",
        )
    return found


def copy_weights(module, source, what):
    """Load torch's weights (LSTMCell or LSTM) into the learner's module (in float64)."""
    module.to(DTYPE)
    mine = learner_params(module, what)
    theirs = {name.removesuffix("_l0"): p for name, p in source.named_parameters()}
    if set(mine) != set(theirs):
        kit.fail(f"{what}: your parameters are {sorted(mine)}", expected=sorted(theirs),
                 hint="bias=True gives two bias vectors, bias_ih and bias_hh; bias=False none")
    for name, p in mine.items():
        want = tuple(theirs[name].shape)
        if tuple(p.shape) != want:
            hint = "torch stores (out, in) = (4H, I) and computes x @ W.T"
            if tuple(p.shape) == want[::-1]:
                hint = f"yours is transposed: store {want} and multiply by its .T"
            kit.fail(
                f"{what}: shape of {name}",
                yours=tuple(p.shape),
                expected=want,
                hint=hint,
            )
        with torch.no_grad():
            p.copy_(theirs[name])


def reference_step(
    x, h, c, W_ih, W_hh, b_ih=None, b_hh=None, variant=None, order=GATES
):
    """One LSTM step like torch's, or one of the known mistakes (variant)."""
    gates = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None and variant != "no-bias-ih":
        gates = gates + b_ih
    if b_hh is not None and variant != "no-bias-hh":
        gates = gates + b_hh
    chunks = dict(zip(order, gates.chunk(4, dim=-1)))
    i, f, g, o = (chunks[k] for k in GATES)
    i, o = torch.sigmoid(i), torch.sigmoid(o)
    f = torch.tanh(f) if variant == "f-tanh" else torch.sigmoid(f)
    g = torch.sigmoid(g) if variant == "g-sigmoid" else torch.tanh(g)
    if variant == "o-tanh":
        o = torch.tanh(chunks["o"])
    if variant == "i-tanh":
        i = torch.tanh(chunks["i"])
    if variant == "no-forget":
        c_new = c + i * g
    elif variant == "no-old-c":
        c_new = i * g
    else:
        c_new = f * c + i * g
    if variant == "h-no-tanh":
        h_new = o * c_new
    elif variant == "h-old-c":
        h_new = o * torch.tanh(c)
    else:
        h_new = o * torch.tanh(c_new)
    return h_new, c_new


VARIANTS = {
    "f-tanh": "the forget gate uses tanh; it must be a sigmoid (a fraction in (0, 1) to keep)",
    "i-tanh": "the input gate uses tanh; i, f and o are sigmoids, only g is a tanh",
    "o-tanh": "the output gate uses tanh; i, f and o are sigmoids, only g is a tanh",
    "g-sigmoid": "the candidate g uses a sigmoid; it must be tanh (values in (-1, 1))",
    "no-forget": "c' = c + i * g: the forget gate never multiplies the old cell state",
    "no-old-c": "c' = i * g: the old cell state is dropped (it must be f * c + i * g)",
    "h-no-tanh": "h' = o * c': the tanh of the new cell state is missing",
    "h-old-c": "h' = o * tanh(c) with the old c; it must use the new c'",
    "no-bias-hh": "bias_hh is never added (only bias_ih)",
    "no-bias-ih": "bias_ih is never added (only bias_hh)",
}


def diagnose_step(yours_h, yours_c, x, h, c, cell):
    """A sentence naming the mistake a learner's (h', c') matches, or None."""
    W = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
    W = [None if w is None else w.detach() for w in W]

    def same(a, b):
        return (
            torch.is_tensor(a)
            and a.shape == b.shape
            and torch.allclose(a.detach().to(DTYPE), b, rtol=1e-7, atol=1e-10)
        )

    for order in itertools.permutations(GATES):
        if order == GATES:
            continue
        rh, rc = reference_step(x, h, c, *W, order=order)
        if same(yours_h, rh):
            return (f"your gates are in the order {', '.join(order)}; torch's order is "
                    "i, f, g, o (input, forget, cell candidate, output) along dim 0")
    for variant, text in VARIANTS.items():
        rh, rc = reference_step(x, h, c, *W, variant=variant)
        if same(yours_h, rh) and (yours_c is None or same(yours_c, rc)):
            return text
    rh, rc = reference_step(x, h, c, *W)
    if yours_c is not None and same(yours_h, rc) and same(yours_c, rh):
        return "h and c are swapped: forward must return (h, c)"
    return None


# ---- names data ---------------------------------------------------------------------


def name_sequences(words, seed):
    """Words as (x, y) rows: x = '.' + word, y = word + '.', padded (x with 0, y with -1)."""
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    words = list(words)
    random.Random(seed).shuffle(words)
    L = max(len(w) for w in words) + 1
    X = torch.zeros(len(words), L, dtype=torch.long)
    Y = torch.full((len(words), L), -1, dtype=torch.long)
    for k, w in enumerate(words):
        ix = [stoi[ch] for ch in w]
        X[k, 1 : len(ix) + 1] = torch.tensor(ix, dtype=torch.long)
        Y[k, : len(ix)] = torch.tensor(ix, dtype=torch.long)
        Y[k, len(ix)] = 0  # '.' ends the word
    n = int(0.9 * len(words))
    return (X[:n], Y[:n]), (X[n:], Y[n:]), len(chars) + 1


def bigram_dev_loss(words, seed):
    """Dev loss of the add-one count bigram on the same split: the best a model without
    memory of earlier characters can do."""
    (Xtr, Ytr), (Xdev, Ydev), vocab = name_sequences(words, seed)
    N = torch.ones(vocab, vocab)
    m = Ytr >= 0
    N.index_put_((Xtr[m], Ytr[m]), torch.ones(int(m.sum())), accumulate=True)
    P = N / N.sum(1, keepdim=True)
    m = Ydev >= 0
    return float(-P[Xdev[m], Ydev[m]].log().mean())


def logits_of(model, idx):
    """The learner's logits whether forward returns a tensor or (logits, loss)."""
    out = model(idx)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out


def train_char_model(
    make_model, seed, steps, batch=32, lr=1e-2, words=None, device="cpu"
):
    """Train with AdamW on the names; returns (model, train losses, dev loss)."""
    (Xtr, Ytr), (Xdev, Ydev), vocab = name_sequences(words or kit.words(), seed)
    Xtr, Ytr, Xdev, Ydev = (t.to(device) for t in (Xtr, Ytr, Xdev, Ydev))
    torch.manual_seed(seed)
    model = make_model(vocab).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (batch,), generator=g).to(device)
        x, y = Xtr[ix], Ytr[ix]
        L = int((y >= 0).sum(1).max())  # trim the padding every row has
        logits = logits_of(model, x[:, :L])
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           y[:, :L].reshape(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        logits = logits_of(model, Xdev)
        dev = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                          Ydev.reshape(-1), ignore_index=-1).item()
    return model, losses, dev
