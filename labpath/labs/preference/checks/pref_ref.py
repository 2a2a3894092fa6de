"""labpath's own references for the preference checks, written from the formulas.

Log-probs by one-hot products (not gather), the losses from the papers' equations, the
GPT wrappers the checks hand to your code, and the synthetic preference task.
"""

import math

import torch
import torch.nn as nn

IGNORE = -100
LN2 = math.log(2.0)


# --- references ---------------------------------------------------------------------


def logprobs(logits, labels, average=False, shift=True, mask_pad=True, dim=-1):
    """Summed (or averaged) log-probs of the labelled tokens, (B, T, V) -> (B,).

    The keyword arguments produce the known mistakes a diagnosis compares against.
    """
    logits = logits.double()
    logp = logits - torch.logsumexp(logits, dim=dim, keepdim=True)  # (B, T, V)
    if shift:
        logp, labels = logp[:, :-1], labels[:, 1:]
    keep = (labels != IGNORE) if mask_pad else torch.ones_like(labels, dtype=torch.bool)
    onehot = torch.zeros_like(logp)
    onehot.scatter_(2, labels.clamp_min(0).unsqueeze(2), 1.0)
    per_token = (logp * onehot).sum(-1) * keep  # (B, T')
    total = per_token.sum(-1)
    return total / keep.sum(-1) if average else total


def wrong_shift(logits, labels):
    """Logits at t+1 scoring the token at t (the shift applied the wrong way)."""
    logp = logits.double().log_softmax(-1)[:, 1:]
    lab = labels[:, :-1]
    keep = lab != IGNORE
    tok = torch.gather(logp, 2, lab.clamp_min(0).unsqueeze(2)).squeeze(2)
    return (tok * keep).sum(-1)


def bt_loss(rc, rr, margin=None):
    """-log sigma(rc - rr - margin), mean; log sigma(x) = -log(1 + e^-x), done stably."""
    d = (rc - rr).double()
    if margin is not None:
        d = d - margin
    return (torch.clamp(-d, min=0) + torch.log1p(torch.exp(-d.abs()))).mean()


def dpo(pc, pr, rc, rr, beta, eps=0.0, ipo=False, reference_free=False):
    """(losses, chosen_rewards, rejected_rewards) in float64, from eq. 7 / cDPO / IPO."""
    pc, pr, rc, rr = (x.double() for x in (pc, pr, rc, rr))
    h = (pc - pr) - (0.0 if reference_free else (rc - rr))

    def nls(x):  # -log sigma(x)
        return torch.clamp(-x, min=0) + torch.log1p(torch.exp(-x.abs()))

    if ipo:
        losses = (h - 1.0 / (2.0 * beta)) ** 2
    else:
        losses = (1 - eps) * nls(beta * h) + eps * nls(-beta * h)
    return losses, beta * (pc - rc), beta * (pr - rr)


# --- your GPT, as the checks use it ------------------------------------------------


class Trunk(nn.Module):
    """The gpt2 lab's GPT up to ln_f by nanoGPT's module names: (B, T) -> (B, T, C)."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, idx, *args, **kwargs):  # extra arguments (a mask) are ignored
        tr = self.gpt.transformer
        pos = torch.arange(idx.size(1), device=idx.device)
        x = tr.drop(tr.wte(idx) + tr.wpe(pos))
        for block in tr.h:
            x = block(x)
        return tr.ln_f(x)


class LM(nn.Module):
    """The GPT with logits at every position: (B, T) -> (B, T, V)."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt
        self.trunk = Trunk(gpt)

    def forward(self, idx, *args, **kwargs):
        return self.gpt.lm_head(self.trunk(idx))


class PerPosition(nn.Module):
    """A backbone whose hidden state at t depends on the token at t alone (a probe)."""

    def __init__(self, vocab, n_embd, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.emb = nn.Embedding(vocab, n_embd)
        with torch.no_grad():
            self.emb.weight.copy_(torch.randn(vocab, n_embd, generator=g))

    def forward(self, idx, *args, **kwargs):
        return self.emb(idx)


# --- the synthetic preference task ---------------------------------------------------
# Prompt: 3 to 6 distinct random digits and ':'. Chosen answer: the digits sorted
# ascending; rejected: the same digits sorted descending. Token ids: digits 0-9, ':' 10,
# EOS 11.

SEP, EOS, VOCAB = 10, 11, 12


def task_pairs(n, seed, lo=3, hi=6):
    """n (prompt, chosen, rejected) triples of token-id lists."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        k = int(torch.randint(lo, hi + 1, (1,), generator=g))
        digits = torch.randperm(10, generator=g)[:k].tolist()  # distinct: asc != desc
        out.append((digits + [SEP], sorted(digits), sorted(digits, reverse=True)))
    return out


def pack(prompt, answer, max_length):
    """The reference's build_pair for one answer: ids, labels (prompt -100), EOS once."""
    ids = (list(prompt) + list(answer) + [EOS])[:max_length]
    labels = ([IGNORE] * len(prompt) + list(answer) + [EOS])[:max_length]
    return ids, labels


def collate(pairs, shared=True):
    """Pad a list of build_pair dicts to (B, T) tensors: ids with 0, labels with -100.

    shared: one T for both sides; else each side is padded to its own longest row, as
    eric-mitchell's collate does (chosen and rejected may then differ in length).
    """
    T = max(
        len(p[k]) for p in pairs for k in ("chosen_input_ids", "rejected_input_ids")
    )
    batch = {}
    for side in ("chosen", "rejected"):
        if not shared:
            T = max(len(p[f"{side}_input_ids"]) for p in pairs)
        ids = [list(map(int, p[f"{side}_input_ids"])) for p in pairs]
        lab = [list(map(int, p[f"{side}_labels"])) for p in pairs]
        batch[f"{side}_input_ids"] = torch.tensor([r + [0] * (T - len(r)) for r in ids])
        batch[f"{side}_labels"] = torch.tensor(
            [r + [IGNORE] * (T - len(r)) for r in lab]
        )
        batch[f"{side}_attention_mask"] = torch.tensor(
            [[1] * len(r) + [0] * (T - len(r)) for r in ids]
        )
    return batch


def reference_batch(triples, max_length=16, shared=True):
    """A batch built by labpath's own packing (independent of your build_pair)."""
    pairs = []
    for prompt, ch, rj in triples:
        ci, cl = pack(prompt, ch, max_length)
        ri, rl = pack(prompt, rj, max_length)
        pairs.append(dict(chosen_input_ids=ci, chosen_labels=cl,
                          rejected_input_ids=ri, rejected_labels=rl))
    return collate(pairs, shared)


def uneven_pairs(n, seed, longer="rejected"):
    """Task triples whose `longer` answers carry two extra digits: the sides differ in T."""
    out = []
    for prompt, ch, rj in task_pairs(n, seed, lo=2, hi=5):
        extra = [d for d in range(10) if d not in ch][:2]
        if longer == "rejected":
            rj = rj + extra
        else:
            ch = ch + extra
        out.append((prompt, ch, rj))
    return out


@torch.no_grad()
def implicit_rewards(policy, reference, batch, beta):
    """beta log(pi/pi_ref) of the chosen and rejected rows, by labpath's own log-probs."""
    out = []
    for side in ("chosen", "rejected"):
        ids, lab = batch[f"{side}_input_ids"], batch[f"{side}_labels"]
        out.append(beta * (logprobs(policy(ids), lab) - logprobs(reference(ids), lab)))
    return out
