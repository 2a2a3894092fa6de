"""
Lab 1 - micrograd: a scalar autograd engine.

Build `Value`, a number that remembers how it was computed, then `backward()`, which
fills in the gradient of the output with respect to every value it depends on.
Read README.md in this folder first; check your work with `labpath check micrograd`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import math  # noqa: F401  (you will want math.exp / math.tanh)


class Value:
    """One scalar in the computation graph, with the gradient that flows into it."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0  # d(output)/d(this value); backward() fills it in
        self._backward = lambda: None  # pushes self.grad into the children
        self._prev = set(_children)  # the Values this one was computed from
        self._op = _op  # e.g. "+", handy when you draw the graph

    def __add__(self, other):
        # TODO: wrap plain numbers in a Value, build the output node with both
        # operands as children, and give it a _backward that applies the chain rule.
        # Remember a node can be used twice (a + a): accumulate gradients.
        raise NotImplementedError("Value.__add__")

    def __mul__(self, other):
        # TODO: like __add__; d(a*b)/da = b and d(a*b)/db = a.
        raise NotImplementedError("Value.__mul__")

    def __pow__(self, exponent):
        # TODO: exponent is a plain int or float; use the power rule.
        raise NotImplementedError("Value.__pow__")

    def relu(self):
        # TODO: max(0, x); its slope is 1 for x > 0 and 0 otherwise.
        raise NotImplementedError("Value.relu")

    def tanh(self):
        # TODO: d tanh(x)/dx = 1 - tanh(x)**2.
        raise NotImplementedError("Value.tanh")

    def exp(self):
        # TODO: e**x is its own derivative.
        raise NotImplementedError("Value.exp")

    def backward(self):
        # TODO: order every node so it comes after the nodes it was computed from
        # (a topological sort, visiting each node once), seed this node's grad with 1,
        # then call each node's _backward from the output back to the leaves.
        raise NotImplementedError("Value.backward")

    # TODO: the rest can be written with the operations above:
    # -a, a - b, 1 - a, 1 + a, 2 * a, a / b, 2 / a.
    def __neg__(self):
        raise NotImplementedError("Value.__neg__")

    def __radd__(self, other):
        raise NotImplementedError("Value.__radd__")

    def __sub__(self, other):
        raise NotImplementedError("Value.__sub__")

    def __rsub__(self, other):
        raise NotImplementedError("Value.__rsub__")

    def __rmul__(self, other):
        raise NotImplementedError("Value.__rmul__")

    def __truediv__(self, other):
        raise NotImplementedError("Value.__truediv__")

    def __rtruediv__(self, other):
        raise NotImplementedError("Value.__rtruediv__")

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"
