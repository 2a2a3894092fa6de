"""
Lab - lstm: an LSTM cell and layer from tensor operations, and a character model.

Your modules must compute exactly what torch.nn.LSTMCell and torch.nn.LSTM compute,
with the same parameter names and shapes, so torch's weights load into yours:

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)    input gate
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)    forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)       cell candidate
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)    output gate
    c' = f * c + i * g
    h' = o * tanh(c')

weight_ih is (4H, I): the four W_i* blocks stacked along dim 0 in the order i, f, g, o;
weight_hh is (4H, H); bias_ih and bias_hh are (4H,). Using torch.nn.LSTM, LSTMCell or
torch's fused LSTM functions is not allowed (the checks notice).
Read README.md first; check your work with `labpath check lstm`.
"""

import math  # noqa: F401

import torch  # noqa: F401
import torch.nn as nn
from torch.nn import functional as F  # noqa: F401


class LSTMCell(nn.Module):
    """One LSTM step: (x, (h, c)) -> (h', c'), laid out like torch.nn.LSTMCell."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # TODO: nn.Parameter weight_ih (4H, I) and weight_hh (4H, H), and when bias is
        # True bias_ih (4H,) and bias_hh (4H,) (else register them as None). Initialise
        # like torch: uniform in (-1/sqrt(H), 1/sqrt(H)).
        raise NotImplementedError("LSTMCell.__init__")

    def forward(self, x, state=None):
        """x: (B, I); state: (h, c), each (B, H), zeros when None. Returns (h', c')."""
        # TODO: the four gates from one product per input, split along the last dim
        # into i, f, g, o; then the new c and h.
        raise NotImplementedError("LSTMCell.forward")


class LSTM(nn.Module):
    """A one-layer LSTM over a sequence, with torch.nn.LSTM's inputs and outputs."""

    def __init__(self, input_size, hidden_size, bias=True, batch_first=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.batch_first = batch_first
        # TODO: one LSTMCell that every time step shares.
        raise NotImplementedError("LSTM.__init__")

    def forward(self, x, state=None):
        """x: (B, T, I) when batch_first, else (T, B, I); state: (h_0, c_0), each
        (1, B, H), zeros when None. Returns (output, (h_n, c_n)): output holds h_t for
        every step, (B, T, H) when batch_first; h_n and c_n are (1, B, H)."""
        # TODO: loop over time, feeding each step the state the previous step returned.
        raise NotImplementedError("LSTM.forward")


class CharLSTM(nn.Module):
    """Character-level language model: embedding -> your LSTM -> logits for the next char."""

    def __init__(self, vocab_size, n_embd, hidden_size):
        super().__init__()
        # TODO: nn.Embedding(vocab_size, n_embd), LSTM(n_embd, hidden_size), and
        # nn.Linear(hidden_size, vocab_size).
        raise NotImplementedError("CharLSTM.__init__")

    def forward(self, idx, targets=None):
        """idx: (B, T) character indices. Returns (logits (B, T, vocab_size), loss), the
        loss a cross-entropy ignoring targets of -1 when targets are given, else None."""
        # TODO
        raise NotImplementedError("CharLSTM.forward")
