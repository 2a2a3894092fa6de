"""
A scalar-valued autograd engine: every number remembers how it was made, so the
gradient of a final result with respect to every input can be found by walking the
graph backwards and applying the chain rule at each node.

References:
- Neural Networks: Zero to Hero, lecture 1 (https://karpathy.ai/zero-to-hero.html)
- micrograd's public interface (https://github.com/karpathy/micrograd)
"""

import math


class Value:
    """One scalar in the computation graph, with the gradient that flows into it."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0  # d(final output) / d(this value), filled in by backward()
        # how to push this node's grad into its children; leaves have nothing to do
        self._backward = lambda: None
        self._prev = set(_children)  # the nodes this one was computed from
        self._op = _op  # the operation that produced it, for printing graphs
        self.label = label

    # ---- binary operations --------------------------------------------------------

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            # d(a + b)/da = 1 and d(a + b)/db = 1: the gradient passes through unchanged.
            # "+=" and not "=": a node used twice (a + a) receives two contributions.
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            # d(a * b)/da = b and d(a * b)/db = a: each side is scaled by the other.
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        # the exponent is a plain number; x ** y with y a Value would need log(x)
        assert isinstance(exponent, (int, float)), "only int/float exponents"
        out = Value(self.data**exponent, (self,), f"**{exponent}")

        def _backward():
            # power rule: d(x^n)/dx = n * x^(n-1)
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    # ---- nonlinearities -----------------------------------------------------------

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "ReLU")

        def _backward():
            # slope 1 where the input was positive, 0 elsewhere (0 at exactly 0, like torch)
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            # d tanh(x)/dx = 1 - tanh(x)^2, written with the output t we already have
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            # e^x is its own derivative: reuse the output, not the input
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    # ---- backpropagation ----------------------------------------------------------

    def backward(self):
        """Fill in .grad of every node that this value depends on."""
        # Order the graph so each node comes after everything it was computed from
        # (a topological order). Iterative depth-first search: no recursion limit.
        topo, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                topo.append(node)
            elif node not in visited:
                visited.add(node)  # each node exactly once, however many paths reach it
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        # d(self)/d(self) = 1 seeds the chain rule; then walk from the output to the
        # leaves, so a node's grad is complete before it is passed on to its children.
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

    # ---- everything else is built from the operations above -----------------------

    def __neg__(self):  # -a
        return self * -1

    def __radd__(self, other):  # 1 + a; also lets sum([...]) start from 0
        return self + other

    def __sub__(self, other):  # a - b
        return self + (-other)

    def __rsub__(self, other):  # 1 - a
        return other + (-self)

    def __rmul__(self, other):  # 2 * a
        return self * other

    def __truediv__(self, other):  # a / b = a * b^-1
        return self * other**-1

    def __rtruediv__(self, other):  # 2 / a
        return other * self**-1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"
