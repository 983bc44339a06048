"""Statistics for comparing runs: spread over seeds and confidence intervals of paired differences.

Plain Python (and NumPy for the bootstrap): no SciPy at run time. The Student t quantile is
computed from its CDF, written with the regularised incomplete beta function,

    P(|T| > t) = I_x(nu/2, 1/2),   x = nu / (nu + t^2),

evaluated by its continued fraction and inverted by bisection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Spread:
    """n values: their mean, sample standard deviation (ddof=1; None for n=1), min and max."""

    n: int
    mean: float
    std: float | None
    low: float
    high: float


def spread(values: Sequence[float]) -> Spread:
    """Mean, sample std (``sqrt(sum((v - mean)^2) / (n - 1))``), min and max of ``values``."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("spread of no values")
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return Spread(n=n, mean=mean, std=std, low=min(values), high=max(values))


@dataclass(frozen=True)
class Interval:
    """A confidence interval of a mean difference, and how it was computed."""

    mean: float
    low: float
    high: float
    level: float
    method: str

    @property
    def contains_zero(self) -> bool:
        """True when the interval does not exclude a zero difference: not significant."""
        return self.low <= 0.0 <= self.high


def paired_t_interval(differences: Sequence[float], level: float = 0.95) -> Interval:
    """Paired t-interval of the mean of ``differences`` (one per pair, n >= 2):
    ``d_mean +- t_{(1+level)/2, n-1} * s_d / sqrt(n)``."""
    summary = spread(differences)
    if summary.n < 2:
        raise ValueError("a t-interval needs at least two paired differences")
    half = t_quantile((1 + level) / 2, summary.n - 1) * summary.std / math.sqrt(summary.n)
    return Interval(summary.mean, summary.mean - half, summary.mean + half, level,
                    f"paired t, {summary.n - 1} degrees of freedom")


def bootstrap_interval(differences: Sequence[Sequence[float]], level: float = 0.95,
                       replicates: int = 10_000, seed: int = 0) -> Interval:
    """Percentile bootstrap of the mean of a (images, seeds) matrix of paired differences:
    each replicate draws the images and, independently, the seeds with replacement, so the
    interval covers both the choice of test images and training randomness."""
    matrix = np.asarray(differences, dtype=np.float64)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(f"expected a non-empty (images, seeds) matrix, got shape {matrix.shape}")
    images, seeds = matrix.shape
    rng = np.random.default_rng(seed)
    image_draws = rng.integers(0, images, size=(replicates, images))
    seed_draws = rng.integers(0, seeds, size=(replicates, seeds))
    means = matrix[image_draws[:, :, None], seed_draws[:, None, :]].mean(axis=(1, 2))
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(matrix.mean()), float(low), float(high), level,
                    f"bootstrap over {images} images x {seeds} seeds, {replicates} replicates, RNG seed {seed}")


def t_quantile(probability: float, df: float) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom."""
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if probability < 0.5:
        return -t_quantile(1.0 - probability, df)
    if probability == 0.5:
        return 0.0
    tail = 1.0 - probability  # wanted P(T > t)
    low, high = 0.0, 1.0
    while _upper_tail(high, df) > tail:
        high *= 2.0
    for _ in range(200):
        middle = (low + high) / 2
        if _upper_tail(middle, df) > tail:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    return 1.0 - _upper_tail(t, df) if t >= 0 else _upper_tail(-t, df)


def _upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0: half the two-sided tail I_x(df/2, 1/2), x = df / (df + t^2)."""
    return 0.5 * regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5)


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) = B(x; a, b) / B(a, b), by its continued fraction (on the side where it
    converges fast, with I_x(a, b) = 1 - I_{1-x}(b, a) on the other)."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if x == 0.0 or x == 1.0:
        return x
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - regularized_incomplete_beta(1.0 - x, b, a)
    log_prefactor = a * math.log(x) + b * math.log1p(-x) - math.log(a) \
        - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    return math.exp(log_prefactor) / _beta_continued_fraction(x, a, b)


def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    """1 + d1/(1 + d2/(1 + ...)) with d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)) and
    d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)), by the modified Lentz method."""
    tiny, value = 1e-300, 1.0
    numerator_ratio, denominator = 1.0, 0.0  # Lentz's C and D
    for j in range(1, 10_000):
        m = j // 2
        if j % 2:
            d = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            d = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        denominator = 1.0 + d * denominator
        denominator = 1.0 / (denominator if abs(denominator) > tiny else tiny)
        numerator_ratio = 1.0 + d / numerator_ratio
        numerator_ratio = numerator_ratio if abs(numerator_ratio) > tiny else tiny
        step = numerator_ratio * denominator
        value *= step
        if abs(step - 1.0) < 1e-15:
            return value
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (x={x}, a={a}, b={b})")
