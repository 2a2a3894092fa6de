"""A mean whose loop never ends and keeps a new list every time round."""


def mean(xs):
    kept = []
    while True:
        kept.append(list(xs))  # never ends: the memory it holds only grows
    return sum(xs) / len(xs)


def variance(xs):
    m = mean(xs)
    return sum((x - m) ** 2 for x in xs) / len(xs)
