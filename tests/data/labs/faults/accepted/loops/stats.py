"""The same four functions written with loops and the standard library."""


def mean(xs):
    total = 0.0
    for x in xs:
        total += x
    return total / len(xs)


def largest(xs):
    return max(xs)


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def words(text):
    return sum(1 for _ in text.split())


def reverse(s):
    return "".join(reversed(s))


def is_even(n):
    return not n & 1
