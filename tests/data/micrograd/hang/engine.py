"""A Value whose backward never returns."""


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._prev = set(_children)

    def __add__(self, other):
        return Value(self.data + getattr(other, "data", other), (self,))

    def __mul__(self, other):
        return Value(self.data * getattr(other, "data", other), (self,))

    def backward(self):
        while True:
            pass
