"""A Value written to the micrograd repository's interface: relu, reflected - and /,
no tanh and no exp; int grads; a recursive topological sort."""


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        result = Value(self.data + other.data, (self, other), "+")

        def step():
            self.grad += result.grad
            other.grad += result.grad

        result._backward = step
        return result

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        result = Value(self.data * other.data, (self, other), "*")

        def step():
            self.grad += other.data * result.grad
            other.grad += self.data * result.grad

        result._backward = step
        return result

    def __pow__(self, k):
        assert isinstance(k, (int, float))
        result = Value(self.data**k, (self,), f"**{k}")

        def step():
            self.grad += (k * self.data ** (k - 1)) * result.grad

        result._backward = step
        return result

    def relu(self):
        result = Value(0 if self.data < 0 else self.data, (self,), "ReLU")

        def step():
            self.grad += (result.data > 0) * result.grad

        result._backward = step
        return result

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if node not in seen:
                seen.add(node)
                for child in node._prev:
                    visit(child)
                order.append(node)

        visit(self)
        self.grad = 1
        for node in reversed(order):
            node._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"
