"""A Value that hands its gradients to torch.autograd: correct numbers, forbidden route."""

import torch


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.t = data if isinstance(data, torch.Tensor) else torch.tensor(float(data), dtype=torch.float64, requires_grad=True)
        self.data = float(self.t.detach())
        self.grad = 0.0
        self._prev = set(_children)
        self._leaves = {self} if not _children else set().union(*(c._leaves for c in _children))

    def _wrap(self, other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        other = self._wrap(other)
        return Value(self.t + other.t, (self, other))

    def __mul__(self, other):
        other = self._wrap(other)
        return Value(self.t * other.t, (self, other))

    def backward(self):
        leaves = list(self._leaves)
        grads = torch.autograd.grad(self.t, [v.t for v in leaves], allow_unused=True)
        self.grad = 1.0
        for v, g in zip(leaves, grads):
            v.grad = 0.0 if g is None else float(g)
