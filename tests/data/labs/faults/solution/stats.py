"""Four small functions, each checked on its own."""


def mean(xs):
    """The arithmetic mean of a non-empty list."""
    # divide by n: every element counts once
    return sum(xs) / len(xs)


def largest(xs):
    """The largest element of a non-empty list."""
    best = xs[0]
    for x in xs[1:]:
        if x > best:  # keep the larger one
            best = x
    return best


def clamp(x, lo, hi):
    """x limited to the interval [lo, hi]."""
    return max(lo, min(x, hi))


def words(text):
    """How many words text holds (split on any whitespace)."""
    return len(text.split())


def reverse(s):
    """s backwards."""
    return s[::-1]


def is_even(n):
    """Whether the integer n is even."""
    return n % 2 == 0
