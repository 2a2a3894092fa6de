"""One detector per function: each probes its function alone."""

from labpath.checks import kit


def test_mean(stats):
    for xs, expected in (([1.0, 2.0, 6.0], 3.0), ([5.0], 5.0), ([2.0, 4.0], 3.0)):
        if abs(stats.mean(xs) - expected) > 1e-12:
            kit.fail(f"mean({xs})", yours=stats.mean(xs), expected=expected)


def test_largest(stats):
    for xs in ([3, 1, 2], [1, 2, 3], [-5, -2, -9]):
        if stats.largest(xs) != max(xs):
            kit.fail(f"largest({xs})", yours=stats.largest(xs), expected=max(xs))


def test_clamp(stats):
    for args, expected in (((5, 0, 3), 3), ((-1, 0, 3), 0), ((2, 0, 3), 2)):
        if stats.clamp(*args) != expected:
            kit.fail(f"clamp{args}", yours=stats.clamp(*args), expected=expected)


def test_words(stats):
    for text, expected in (("a b", 2), ("a  b\nc", 3), ("", 0)):
        if stats.words(text) != expected:
            kit.fail(f"words({text!r})", yours=stats.words(text), expected=expected)


def test_reverse(stats):
    for s in ("abc", "", "ab"):
        if stats.reverse(s) != s[::-1]:
            kit.fail(f"reverse({s!r})", yours=stats.reverse(s), expected=s[::-1])


def test_is_even(stats):
    for n in (0, 3, -4, 7):
        if stats.is_even(n) != (n % 2 == 0):
            kit.fail(f"is_even({n})", yours=stats.is_even(n), expected=n % 2 == 0)
