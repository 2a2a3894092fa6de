"""The first two moments of a list of numbers, written by hand."""


def mean(xs):
    """The arithmetic mean of xs (a non-empty list of numbers)."""
    # TODO: the sum divided by the count
    raise NotImplementedError("mean")


def variance(xs):
    """The population variance of xs: the mean squared distance from the mean."""
    # TODO: use mean(); divide by len(xs)
    raise NotImplementedError("variance")
