"""Checks for the bigram lab: counts, probabilities, NLL, sampling and the neural bigram.

The data is kit.words() (labpath's names, or `--data FILE`); every expected value is
computed from it by labpath's own reference in bigram_ref.py.
"""

import math

import torch
import torch.nn.functional as F
from bigram_ref import as_float, as_tensor, reference, reg_variants, words_of

from labpath.checks import kit

# The training check uses every 8th word (the same vocabulary, an eighth of the events).
TRAIN_EVERY = 8
TRAIN_STEPS, TRAIN_LR = 100, 50.0
# Reference: NLL after 100 steps is 0.032-0.033 above the count model on the shipped
# names (8 seeds); a run that has not converged is well above this.
MAX_GAP = 0.06
# sample() draws until '.'; a loop that misses it never returns. 2,000 words take about
# 0.2 s in the reference; past this the check fails and names the line it was stuck on.
SAMPLE_LIMIT = 10.0


def _sample(bg, ref, P, n, g):
    """bg.sample(P, itos, n, g) under SAMPLE_LIMIT; once one call has overrun, the
    next ones fail at once instead of waiting again."""
    hint = "each word ends the moment '.' (index 0) is drawn: break out of the loop then"
    with kit.within(SAMPLE_LIMIT, f"sample(P, itos, {n}, g)", hint=hint, key="sample"):
        return bg.sample(P.clone(), dict(ref.itos), n, g)


def test_vocab_puts_dot_at_zero(bg, ref):
    """build_vocab: '.' is 0, the characters follow in sorted order from 1, itos inverts stoi."""
    stoi, itos = bg.build_vocab(ref.words)
    if stoi.get(".") != 0:
        kit.fail("stoi['.']", yours=stoi.get("."), expected=0,
                 hint="one token '.' marks both the start and the end of a word and gets index 0")
    if dict(stoi) != ref.stoi:
        wrong = sorted(set(stoi.items()) ^ set(ref.stoi.items()))[:6]
        kit.fail(f"stoi differs from '.' -> 0, then sorted characters -> 1..{ref.V - 1}",
                 yours=wrong, hint="chars = sorted(set(''.join(words))); stoi = {c: i + 1 ...}")
    for i, ch in ref.itos.items():
        if itos[i] != ch:
            kit.fail(f"itos[{i}]", yours=itos[i], expected=ch, hint="itos must invert stoi")


def test_bigram_pairs_cover_every_event(bg, ref):
    """bigram_pairs: one (xs, ys) pair per character transition, '.' at both ends of each word."""
    xs, ys = bg.bigram_pairs(ref.words, ref.stoi)
    xs, ys = torch.as_tensor(xs), torch.as_tensor(ys)
    n = len(ref.xs)
    if xs.shape != (n,) or ys.shape != (n,):
        hint = None
        if xs.numel() == n - 2 * len(ref.words):
            hint = "no start/end events: wrap every word as ['.'] + list(w) + ['.']"
        elif xs.numel() == n - len(ref.words):
            hint = "one end of the word is missing its '.' event"
        kit.fail(f"shapes of xs, ys: expected ({n},) each (bigram events in the data)",
                 yours=(tuple(xs.shape), tuple(ys.shape)), expected=((n,), (n,)), hint=hint)
    if xs.is_floating_point() or ys.is_floating_point():
        kit.fail("xs and ys must be integer tensors (torch.long) to index and one-hot",
                 yours=str(xs.dtype))
    V = ref.V
    got = torch.bincount(xs.long() * V + ys.long(), minlength=V * V)[: V * V].view(V, V)
    kit.close(got, ref.N, "how often each (x, y) pair occurs in xs, ys", atol=0, rtol=0,
              dims="x y", hint="xs[k] is the character before ys[k]")


def test_counts_match_reference(bg, ref):
    """count_bigrams: N[i, j] counts how often j follows i (shape V x V, '.' at index 0)."""
    N = bg.count_bigrams(ref.words, ref.stoi)
    got = as_tensor(N, "count_bigrams(words, stoi)")
    _plot_counts(ref)

    def diagnose(yours):
        y = torch.as_tensor(yours).double()
        if y.shape == ref.N.shape and torch.equal(y, ref.N.T.double()):
            return "your matrix is transposed: the row is the first character, the column the next"
        if y.shape == ref.N.shape and y.sum() == ref.N.sum() - 2 * len(ref.words):
            return "start/end events are missing: count ['.'] + list(w) + ['.']"
        return None

    kit.close(got, ref.N, "bigram counts N", atol=0, rtol=0, dims="first next",
              hint=f"N.sum() should be {int(ref.N.sum())} and N[0].sum() {len(ref.words)} "
              "(one start event per word)", diagnose=diagnose)


def _plot_counts(ref):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [ref.itos[i] for i in range(ref.V)]
        fig, ax = plt.subplots(figsize=(8, 8))
        ax.imshow(ref.N.numpy(), cmap="Blues")
        ax.set_xticks(range(ref.V), labels)
        ax.set_yticks(range(ref.V), labels)
        ax.set_xlabel("next character")
        ax.set_ylabel("current character")
        ax.set_title(f"bigram counts ({int(ref.N.sum())} events, {len(ref.words)} words)")
        fig.tight_layout()
        fig.savefig(kit.artifact_path("test_counts_match_reference", "bigram-counts.png"), dpi=90)
        plt.close(fig)
    except Exception:  # a figure is a bonus; never fail a check over it
        pass


def test_probabilities_are_normalised_rows(bg, ref):
    """probs_from_counts: (N + smoothing) divided by its row sums, for smoothing 0, 1 and 0.5."""
    for s in (0, 1, 0.5):
        P = as_tensor(bg.probs_from_counts(ref.N.clone(), smoothing=s),
                      f"probs_from_counts(N, smoothing={s})")
        counts = (ref.N + s).double()

        def diagnose(yours, counts=counts):
            y = torch.as_tensor(yours).double()
            if y.shape == counts.shape and torch.allclose(y, counts / counts.sum(1), atol=1e-6):
                return ("you divided by N.sum(1) without keepdim=True: the (V,) row sums broadcast "
                        "along columns, so N[i, j] was divided by row j's total")
            if y.shape == counts.shape and torch.allclose(y, counts / counts.sum(0, keepdim=True), atol=1e-6):
                return "you normalised the columns (sum over dim 0) instead of the rows"
            if y.shape == counts.shape and y.abs().sum() == 0:
                return "every probability is 0: integer division; convert the counts to float first"
            return None

        kit.close(P, counts / counts.sum(1, keepdim=True), f"P with smoothing={s}", rtol=1e-6,
                  atol=1e-7, dims="first next", diagnose=diagnose,
                  hint="P = (N + smoothing).float(); P = P / P.sum(1, keepdim=True)")
        if s > 0 and not bool((P > 0).all()):
            kit.fail(f"with smoothing={s} every probability must be positive", yours=float(P.min()))


def test_avg_nll_matches_cross_entropy(bg, ref):
    """avg_nll: the mean of -log P[x, y] over every bigram event, compared with torch."""
    for s in (0, 1):
        P = ref.probs(s)
        expected = F.nll_loss(torch.log(P)[ref.xs], ref.ys).item()
        got = as_float(bg.avg_nll(P.clone(), ref.words, ref.stoi), "avg_nll(P, words, stoi)")
        n = len(ref.xs)

        def diagnose(yours, expected=expected, n=n):
            if math.isclose(yours, expected * n, rel_tol=1e-5):
                return f"this is the total NLL: divide by the number of events ({n})"
            if math.isclose(yours, -expected, rel_tol=1e-5):
                return "the sign is flipped: the negative log-likelihood is -mean(log p)"
            if math.isclose(yours, math.exp(-expected), rel_tol=1e-3):
                return "this looks like a mean probability, not a mean log-probability"
            return None

        kit.close(got, expected, f"avg_nll with smoothing={s}", rtol=1e-6, atol=1e-8,
                  diagnose=diagnose, hint="-(log of P[x, y] for every event).mean()")


def test_count_model_nll_on_the_data(bg, ref):
    """Your whole pipeline (vocab, counts, P, avg_nll) reproduces the data's NLL figures."""
    stoi, _ = bg.build_vocab(ref.words)
    N = bg.count_bigrams(ref.words, stoi)
    # The brief allows float32, and the lecture adds the n log-probabilities one at a
    # time in a Python loop: each addition rounds by up to eps/2 of the running sum, and
    # those errors add up like a random walk, about sqrt(n) * eps relative. Eight of
    # those still separates smoothing 0 from 1 (3e-3 apart) by a factor of 30.
    n = len(ref.xs)
    rtol = 8 * math.sqrt(n) * torch.finfo(torch.float32).eps / 2
    for s in (0, 1):
        expected = ref.nll(ref.probs(s))
        P = bg.probs_from_counts(N, smoothing=s)
        got = as_float(bg.avg_nll(P, ref.words, stoi), "avg_nll")
        kit.close(got, expected, f"NLL of your count model, smoothing={s}", rtol=rtol, atol=1e-6,
                  hint="on labpath's names: 2.3346 without smoothing, 2.3423 with add-one; "
                  "on makemore's names.txt: 2.4540 and 2.4546")


def test_samples_only_use_seen_transitions(bg, ref):
    """sample from the unsmoothed model: only vocabulary characters and bigrams that occur in the data."""
    P = ref.probs(0)
    g = torch.Generator().manual_seed(kit.seed())
    samples = words_of(_sample(bg, ref, P, 200, g), "sample(P, itos, 200, g)")
    if len(samples) != 200:
        kit.fail("number of samples from sample(P, itos, 200, g)", yours=len(samples), expected=200)
    for w in samples:
        if any(c not in ref.stoi or c == "." for c in w):
            kit.fail(f"sample {w!r} contains a '.' or a character outside the vocabulary",
                     hint="stop as soon as '.' (index 0) is drawn")
        chs = ["."] + list(w) + ["."]
        for a, b in zip(chs, chs[1:]):
            if ref.N[ref.stoi[a], ref.stoi[b]] == 0:
                kit.fail(f"sample {w!r} contains the bigram {a + b!r}, which has probability 0",
                         hint="draw each next character from row P[ix] of the current character ix "
                         "(torch.multinomial(P[ix], 1, replacement=True, generator=g))")


def test_sample_first_letters_follow_P0(bg, ref):
    """2000 samples: the frequency of each first character is within 5 sigma of P[0]."""
    P = ref.probs(1)
    n = 2000
    g = torch.Generator().manual_seed(kit.seed() + 1)
    samples = words_of(_sample(bg, ref, P, n, g), f"sample(P, itos, {n}, g)")
    firsts = torch.tensor([ref.stoi[w[0]] if w else 0 for w in samples])
    freq = torch.bincount(firsts, minlength=ref.V).double() / len(samples)
    p0 = P[0]
    sigma = (p0 * (1 - p0) / n).sqrt()
    bad = (freq - p0).abs() > 5 * sigma + 1.0 / n
    if bool(bad.any()):
        i = int(((freq - p0).abs() / sigma).argmax())
        kit.fail(f"share of samples starting with {ref.itos[i]!r}", yours=round(freq[i].item(), 4),
                 expected=round(p0[i].item(), 4), where=f"{n} samples",
                 hint="the first character is drawn from row 0 (the row of '.')")


def test_sample_is_reproducible_with_generator(bg, ref):
    """The same seeded generator gives the same samples; the global RNG plays no part."""
    P = ref.probs(1)
    torch.manual_seed(1)
    a = _sample(bg, ref, P, 20, torch.Generator().manual_seed(kit.seed()))
    torch.manual_seed(2)
    b = _sample(bg, ref, P, 20, torch.Generator().manual_seed(kit.seed()))
    if list(a) != list(b):
        kit.fail("two runs with identically seeded generators gave different samples",
                 yours=[list(a)[:3], list(b)[:3]],
                 hint="pass generator=g to torch.multinomial; do not use the global RNG")


def _model(bg, V, seed):
    model = bg.NeuralBigram(V, generator=torch.Generator().manual_seed(seed))
    W = getattr(model, "W", None)
    if W is None or tuple(W.shape) != (V, V):
        kit.fail(f"NeuralBigram({V}).W must be a ({V}, {V}) tensor",
                 yours=None if W is None else tuple(W.shape))
    if not W.requires_grad:
        kit.fail("NeuralBigram.W has requires_grad=False", hint="create W with requires_grad=True")
    return model


def _batch(V, n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (n,), generator=g), torch.randint(0, V, (n,), generator=g)


def test_neural_forward_is_one_hot_times_W(bg, ref):
    """NeuralBigram.forward(xs): logits = one_hot(xs) @ W, shape (n, V), for 13 random inputs."""
    V = ref.V
    model = _model(bg, V, kit.seed())
    xs, _ = _batch(V, 13, kit.seed())
    logits = as_tensor(model.forward(xs), "forward(xs)")
    W = model.W.detach().double()

    def diagnose(yours):
        if torch.allclose(torch.as_tensor(yours).double(), W.T[xs], atol=1e-6):
            return "your logits use W transposed: one_hot(xs) @ W picks row xs[k] of W"
        return None

    kit.close(logits, W[xs], "logits", rtol=1e-6, atol=1e-6, dims="n V", diagnose=diagnose,
              hint="xenc = F.one_hot(xs, num_classes=V).float(); logits = xenc @ W")


def test_neural_loss_matches_cross_entropy_plus_l2(bg, ref):
    """NeuralBigram.loss(xs, ys, reg): cross-entropy + reg * mean(W**2), value and dW."""
    V = ref.V
    for reg in (0.01, 0.0, 0.1):
        model = _model(bg, V, kit.seed() + 7)
        xs, ys = _batch(V, 17, kit.seed() + 3)
        loss = model.loss(xs, ys, reg=reg)
        W = model.W.detach().double().requires_grad_()
        expected = F.cross_entropy(W[xs], ys) + reg * (W**2).mean()
        variants = reg_variants(W.detach(), xs, ys, reg)

        def diagnose(yours, variants=variants):
            for name, value in variants.items():
                if math.isclose(float(yours), value.item(), rel_tol=1e-5):
                    return name
            return None

        kit.close(as_float(loss, "loss(xs, ys, reg)"), expected.item(), f"loss with reg={reg}",
                  rtol=1e-5, atol=1e-7, diagnose=diagnose,
                  hint="softmax over dim 1 (the next character), -log p of the targets, mean, "
                  "plus reg * (W**2).mean()")
        if not getattr(loss, "requires_grad", False):
            kit.fail("loss(xs, ys) is not connected to W (requires_grad is False)",
                     hint="compute it with torch operations on W, not on W.data or numpy")
        model.W.grad = None
        loss.backward()
        expected.backward()
        kit.close(model.W.grad, W.grad, f"dloss/dW with reg={reg}", rtol=1e-4, atol=1e-7,
                  dims="V V")


def test_neural_bigram_converges_to_count_model(bg, ref):
    """train_neural_bigram, 100 steps at lr 50: the net's NLL ends within 0.06 of the count model's."""
    words = ref.words[::TRAIN_EVERY]
    sub = reference(words)
    if sub.V != ref.V:  # a tiny --data file: train on all of it
        sub = ref
    xs, ys = sub.xs, sub.ys
    floor = sub.nll(sub.probs(0))  # the maximum-likelihood bigram model: no net can go below
    model = _model(bg, ref.V, kit.seed())
    init = F.cross_entropy(model.W.detach().double()[xs], ys).item()
    losses = bg.train_neural_bigram(model, xs.clone(), ys.clone(), steps=TRAIN_STEPS, lr=TRAIN_LR)
    losses = [as_float(v, "a loss returned by train_neural_bigram") for v in losses]
    if len(losses) != TRAIN_STEPS:
        kit.fail("train_neural_bigram must return one loss per step",
                 yours=len(losses), expected=TRAIN_STEPS)
    nll = F.cross_entropy(model.W.detach().double()[xs], ys).item()
    where = f"{len(words)} words, {len(xs)} events, {TRAIN_STEPS} steps, lr {TRAIN_LR}"
    if not math.isfinite(nll) or nll > init:
        kit.fail("the NLL went up during training", yours=nll, expected=f"< {init:.4f} (at init)",
                 where=where, hint="step against the gradient (W -= lr * W.grad) and reset "
                 "W.grad before every backward()")
    kit.figure("NLL after training", nll, "<=", floor + MAX_GAP, fmt=".4f")
    if nll - floor > MAX_GAP:
        kit.fail(f"NLL after training is more than {MAX_GAP} above the count model's {floor:.4f}",
                 yours=round(nll, 4), expected=f"<= {floor + MAX_GAP:.4f}", where=where,
                 hint="the reference ends 0.03 above the count model; check the learning rate, the "
                 "update sign and that W.grad is reset every step")
    if not losses[-1] < losses[0]:
        kit.fail("the returned losses do not go down", yours=[losses[0], losses[-1]])


def test_documented_defaults(bg, ref):
    """The README's defaults: smoothing=1, reg=0.01, and train_neural_bigram's steps=100, lr=50.0, reg=0.01."""
    P = as_tensor(bg.probs_from_counts(ref.N.clone()), "probs_from_counts(N)")
    kit.close(P, ref.probs(1), "probs_from_counts(N) (default smoothing=1)", rtol=1e-6, atol=1e-9,
              dims="first next")
    V = ref.V
    xs, ys = _batch(V, 17, kit.seed() + 3)
    model = _model(bg, V, kit.seed() + 7)
    W = model.W.detach().double()
    expected = F.cross_entropy(W[xs], ys) + 0.01 * (W**2).mean()
    kit.close(as_float(model.loss(xs, ys), "loss(xs, ys)"), expected.item(),
              "loss(xs, ys) (default reg=0.01)", rtol=1e-5, atol=1e-7)
    # 100 full-batch steps on a slice of the events: the defaults fix the whole trajectory.
    xs, ys = ref.xs[:500].clone(), ref.ys[:500].clone()
    model = _model(bg, V, kit.seed())
    W = model.W.detach().double().clone().requires_grad_()
    losses = [as_float(v, "a loss returned by train_neural_bigram") for v in bg.train_neural_bigram(model, xs, ys)]
    expected = []
    for _ in range(100):
        loss = F.cross_entropy(W[xs], ys) + 0.01 * (W**2).mean()
        W.grad = None
        loss.backward()
        with torch.no_grad():
            W -= 50.0 * W.grad
        expected.append(loss.item())
    if len(losses) != 100:
        kit.fail("number of losses from train_neural_bigram(model, xs, ys) (default steps=100)",
                 yours=len(losses), expected=100)
    kit.close(losses, expected, "losses of train_neural_bigram(model, xs, ys) (defaults lr=50.0, reg=0.01)",
              rtol=1e-4, atol=1e-6, dims="step")
