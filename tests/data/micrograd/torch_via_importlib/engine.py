"""A Value that reaches torch.autograd through importlib: correct numbers, forbidden route."""

import importlib

_torch = importlib.import_module("torch")


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.t = _torch.tensor(float(data), dtype=_torch.float64, requires_grad=True)
        self.data = float(data)
        self.grad = 0.0
        self._prev = set(_children)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other))

    def backward(self):
        self.grad = 1.0
