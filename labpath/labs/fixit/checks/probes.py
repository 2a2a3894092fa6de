"""Probes shared by the fixit checks: configs, setting weights by name, the V readout.

Every check isolates one behaviour of one component: it builds the learner's module in
float64, sets the weights it needs by nanoGPT's names (c_attn, c_proj, c_fc, ...), and
reads a property that no other fault of the component can change.
"""

from dataclasses import dataclass

import torch

from labpath.checks import kit

B, T, C = 3, 7, 12  # batch, positions, channels: pairwise distinct


@dataclass
class Config:
    """What the block reads from a config (the gpt2 lab's GPTConfig has all of it)."""

    n_embd: int = C
    n_head: int = 2
    block_size: int = 9
    dropout: float = 0.0
    bias: bool = True
    vocab_size: int = 11
    n_layer: int = 2


def build(cls, *args, **cfg):
    """The learner's module in float64 and eval mode: cls(config), or cls(*args)."""
    torch.manual_seed(1234)
    module = cls(*args) if args else cls(Config(**cfg))
    module = module.double()
    module.eval()
    return module


def load(module, what: str, values: dict) -> None:
    """Copy values into the module's parameters by name; a bias not given is zeroed.

    A bias the module does not have (bias=False) is skipped; a missing weight fails.
    """
    have = dict(module.named_parameters())
    for name, value in values.items():
        if name not in have:
            if name.endswith("bias"):
                continue
            kit.fail(f"your {what} has no parameter {name}",
                     hint="keep nanoGPT's names: c_attn, c_proj, c_fc, weight, bias")
        p = have[name]
        if tuple(p.shape) != tuple(value.shape):
            kit.fail(f"your {what}.{name} has shape {tuple(p.shape)}",
                     hint=f"this probe needs the GPT-2 shape {tuple(value.shape)}")
        with torch.no_grad():
            p.copy_(value)
    for name, p in have.items():
        if name.endswith("bias") and name not in values:
            with torch.no_grad():
                p.zero_()


def ones_hot(extra=None):
    """(B, T, C) inputs whose first T channels are position one-hots; the rest extra."""
    x = torch.zeros(B, T, C)
    x[:, torch.arange(T), torch.arange(T)] = 1.0
    if extra is not None:
        x[:, :, T:] = extra
    return x


def attention_probs(attn_cls, Wq, Wk, x, train=False, dropout=0.0):
    """The attention weights P (B, T, T) of one head, read out through its values.

    With one head, v_j = the position one-hot e_j and c_proj = I, the output at
    position i is row i of P: a readout that works for any implementation (fused
    scaled_dot_product_attention included), without a hook on the softmax.
    """
    attn = build(attn_cls, n_head=1, dropout=dropout)
    Wv = torch.zeros(C, C)
    Wv[:T, :T] = torch.eye(T)
    load(attn, "CausalSelfAttention", {
        "c_attn.weight": torch.cat([Wq, Wk, Wv]),
        "c_proj.weight": torch.eye(C),
    })
    if train:
        attn.train()
        if isinstance(getattr(attn, "resid_dropout", None), torch.nn.Module):
            attn.resid_dropout.eval()  # only the attention's own dropout stays on
    with torch.no_grad():
        y = attn(x)
    return y[:, :, :T].double()


def scores(Wq, Wk, x):
    """The raw scores q_i . k_j (B, T, T) the probe's weights give."""
    q, k = x @ Wq.T, x @ Wk.T
    return q @ k.transpose(-2, -1)


def causal():
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def softmax_fit(P, S, columns: bool):
    """Least-squares fit of log P[b,i,j] = tau * S[b,i,j] + c[b,i] (+ d[b,j]) on j <= i.

    Returns (tau, worst residual). A row softmax fits with row offsets alone; a softmax
    over the queries needs column offsets too.
    """
    keep = causal()
    rows, target = [], []
    n_off = B * T * (2 if columns else 1)
    for b in range(B):
        for i in range(T):
            for j in range(T):
                if not keep[i, j]:
                    continue
                p = float(P[b, i, j])
                if not p > 0:
                    return None, float("inf")
                r = torch.zeros(1 + n_off)
                r[0] = S[b, i, j]
                r[1 + b * T + i] = 1.0
                if columns:
                    r[1 + B * T + b * T + j] = 1.0
                rows.append(r)
                target.append(torch.log(torch.tensor(p)))
    A, y = torch.stack(rows), torch.stack(target)
    sol = torch.linalg.lstsq(A, y.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    resid = (A @ sol - y).abs().max().item()
    return sol[0].item(), resid


def stub(fn):
    """A module that computes fn and records every (input, output) it saw."""

    class Stub(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = []

        def forward(self, z):
            out = fn(z)
            self.calls.append((z.detach().clone(), out.detach().clone()))
            return out

    return Stub()


def same(a, b, tol=1e-12) -> bool:
    return tuple(a.shape) == tuple(b.shape) and bool(
        ((a.double() - b.double()).abs() <= tol * (1 + b.double().abs())).all())
