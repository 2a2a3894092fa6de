"""A mean that never returns."""

import time


def mean(xs):
    time.sleep(3600)  # far past any time limit
    return sum(xs) / len(xs)


def variance(xs):
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)
