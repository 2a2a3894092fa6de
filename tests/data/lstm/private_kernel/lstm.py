"""The reference LSTMCell, with a layer that runs torch's own LSTM kernel by its aten name."""

import importlib.util
from pathlib import Path

import torch

import labpath

_file = Path(labpath.__file__).parent / "labs" / "lstm" / "solution" / "lstm.py"
_spec = importlib.util.spec_from_file_location("lstm_solution", _file)
_solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_solution)
LSTMCell, LSTM, CharLSTM = _solution.LSTMCell, _solution.LSTM, _solution.CharLSTM


def _forward(self, x, state=None):
    B = x.shape[0]
    if state is None:
        zeros = x.new_zeros(1, B, self.hidden_size)
        state = (zeros, zeros)
    cell = self.cell
    weights = [cell.weight_ih, cell.weight_hh]
    if cell.bias_ih is not None:
        weights += [cell.bias_ih, cell.bias_hh]
    out, h, c = torch.ops.aten.lstm.input(
        x, list(state), weights, cell.bias_ih is not None, 1, 0.0, False, False, True
    )
    return out, (h, c)


LSTM.forward = _forward
