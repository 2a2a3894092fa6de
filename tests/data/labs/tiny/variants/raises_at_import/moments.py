"""Fails as soon as it is imported."""

SCALE = {"unit": 1.0}["units"]


def mean(xs):
    return sum(xs) / len(xs) * SCALE


def variance(xs):
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)
