"""A Value whose backward crashes the interpreter."""

import ctypes


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0

    def __add__(self, other):
        return Value(self.data + getattr(other, "data", other))

    def __mul__(self, other):
        return Value(self.data * getattr(other, "data", other))

    def backward(self):
        ctypes.string_at(0)  # reads address 0: a segmentation fault
