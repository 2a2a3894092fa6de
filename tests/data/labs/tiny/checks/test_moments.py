"""Checks for the tiny lab: mean and variance against Python's statistics module."""

import random
import statistics

from labpath.checks import kit

SAMPLES = [[1.0, 2.0, 4.0], [-3.5, 0.25, 8.0, 1.5, -1.0], [2.0]]


def _lists():
    rng = random.Random(kit.seed())
    return SAMPLES + [[rng.uniform(-5, 5) for _ in range(n)] for n in (3, 7, 12)]


def test_mean_matches_statistics(moments):
    """mean(xs) equals statistics.fmean(xs)."""
    for xs in _lists():
        yours, expected = moments.mean(xs), statistics.fmean(xs)
        if not isinstance(yours, (int, float)) or abs(yours - expected) > 1e-9:
            kit.fail(f"mean({xs})", yours=yours, expected=expected)


@kit.after("test_mean_matches_statistics")
def test_variance_matches_statistics(moments):
    """variance(xs) equals statistics.pvariance(xs), the population variance."""
    for xs in _lists():
        yours, expected = moments.variance(xs), statistics.pvariance(xs)
        if not isinstance(yours, (int, float)) or abs(yours - expected) > 1e-9:
            sample = statistics.variance(xs) if len(xs) > 1 else None
            kit.fail(
                f"variance({xs})",
                yours=yours,
                expected=expected,
                hint="the mean of the squared distances from the mean",
                diagnosis="divide by len(xs), not len(xs) - 1"
                if sample is not None and abs(yours - sample) < 1e-9
                else None,
            )
