"""The reference LSTM, but forward() zeroes the (h_0, c_0) it is given, in place."""

import importlib.util
from pathlib import Path

import torch

import labpath

_file = Path(labpath.__file__).parent / "labs" / "lstm" / "solution" / "lstm.py"
_spec = importlib.util.spec_from_file_location("lstm_solution", _file)
_solution = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_solution)
LSTMCell, LSTM, CharLSTM = _solution.LSTMCell, _solution.LSTM, _solution.CharLSTM
_real_forward = LSTM.forward


def _forward(self, x, state=None):
    if state is not None:
        with torch.no_grad():
            for s in state:
                s.zero_()
    return _real_forward(self, x, state)


LSTM.forward = _forward
