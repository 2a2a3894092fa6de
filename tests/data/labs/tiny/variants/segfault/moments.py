"""A mean that crashes the interpreter."""

import ctypes


def mean(xs):
    ctypes.string_at(0)  # reads address 0: a segmentation fault
    return sum(xs) / len(xs)


def variance(xs):
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)
