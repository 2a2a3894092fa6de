"""
An LSTM from tensor operations: a cell, a layer that runs it over time, and a
character-level language model built on the layer.

The cell is the one torch.nn.LSTMCell computes (same parameter names, shapes and gate
order), so weights move freely between the two:

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)    input gate: how much to write
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)    forget gate: how much to keep
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)       candidate values to write
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)    output gate: how much to show
    c' = f * c + i * g                            the cell state: an additive memory
    h' = o * tanh(c')

The four gates' weights are stacked along dim 0 in the order i, f, g, o, so weight_ih
is (4H, I) and weight_hh is (4H, H). The additive update of c is why gradients survive
many steps: d c'/d c = f, a gate the network can hold near 1, where a plain RNN
multiplies by W_hh and a tanh slope at every step.

References:
- Hochreiter and Schmidhuber 1997, Long Short-Term Memory
- PyTorch docs, torch.nn.LSTMCell and torch.nn.LSTM (the equations and layout above)
- colah, Understanding LSTM Networks (https://colah.github.io/posts/2015-08-Understanding-LSTMs/)
- karpathy/makemore: the RNN and GRU cells and the character-level setup
"""

import math

import torch
import torch.nn as nn
from torch.nn import functional as F


class LSTMCell(nn.Module):
    """One LSTM step: (x, (h, c)) -> (h', c'), laid out like torch.nn.LSTMCell."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        H = hidden_size
        # torch's init: every weight and bias uniform in (-1/sqrt(H), 1/sqrt(H))
        k = 1.0 / math.sqrt(H)
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size).uniform_(-k, k))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H).uniform_(-k, k))
        if bias:
            # two bias vectors, as torch has (only their sum matters, but both are
            # parameters, so a state_dict from torch loads into this module)
            self.bias_ih = nn.Parameter(torch.empty(4 * H).uniform_(-k, k))
            self.bias_hh = nn.Parameter(torch.empty(4 * H).uniform_(-k, k))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def forward(self, x, state=None):
        # x: (B, I); state: (h, c), each (B, H), zeros when not given
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        # all four gates in one matrix product each: (B, I) @ (I, 4H) + (B, H) @ (H, 4H)
        gates = x @ self.weight_ih.T + h @ self.weight_hh.T  # (B, 4H)
        if self.bias_ih is not None:
            gates = gates + self.bias_ih + self.bias_hh
        # split the last dim (not the batch!) into the four (B, H) blocks, order i, f, g, o
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)  # gates in (0, 1)
        g = torch.tanh(g)  # candidate values in (-1, 1)
        c = f * c + i * g  # keep part of the old memory, write part of the new
        h = o * torch.tanh(c)  # expose a squashed view of the memory
        return h, c


class LSTM(nn.Module):
    """A one-layer LSTM over a sequence, with torch.nn.LSTM's inputs and outputs."""

    def __init__(self, input_size, hidden_size, bias=True, batch_first=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.batch_first = batch_first
        self.cell = LSTMCell(input_size, hidden_size, bias=bias)

    def forward(self, x, state=None):
        # x: (B, T, I) with batch_first, else (T, B, I)
        if not self.batch_first:
            x = x.transpose(0, 1)
        B, T, _ = x.shape
        if state is None:
            h = c = x.new_zeros(B, self.hidden_size)
        else:
            # torch's state is (num_layers, B, H) = (1, B, H); the cell wants (B, H)
            h, c = (s.reshape(B, self.hidden_size) for s in state)
        outputs = []
        for t in range(T):
            # the state produced at step t is the state consumed at step t + 1
            h, c = self.cell(x[:, t], (h, c))
            outputs.append(h)
        out = torch.stack(outputs, dim=1)  # (B, T, H): the hidden state at every step
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, (h.unsqueeze(0), c.unsqueeze(0))  # h_n, c_n: (1, B, H)


class CharLSTM(nn.Module):
    """Character-level language model: embedding -> LSTM -> logits for the next char."""

    def __init__(self, vocab_size, n_embd, hidden_size):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)  # a vector per character
        self.lstm = LSTM(n_embd, hidden_size, batch_first=True)
        self.lm_head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, targets=None):
        # idx: (B, T) character indices -> logits (B, T, vocab_size)
        x = self.wte(idx)  # (B, T, n_embd)
        out, _ = self.lstm(x)  # (B, T, H)
        logits = self.lm_head(out)  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            # -1 marks padding after the end of a word: no loss there
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1),
                                   ignore_index=-1)
        return logits, loss
