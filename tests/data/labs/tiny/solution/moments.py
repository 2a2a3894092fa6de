"""The first two moments of a list of numbers, written by hand."""


def mean(xs):
    """The arithmetic mean of xs (a non-empty list of numbers)."""
    return sum(xs) / len(xs)


def variance(xs):
    """The population variance of xs: the mean squared distance from the mean."""
    m = mean(xs)
    # the population variance divides by n; the sample variance would use n - 1
    return sum((x - m) ** 2 for x in xs) / len(xs)
