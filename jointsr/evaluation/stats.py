"""Statistics for comparing runs: spread over seeds and confidence intervals of paired differences.

The Student t distribution is SciPy's (``scipy.stats.t``); the bootstrap is NumPy's.
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
    from scipy.stats import t as student

    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    _check_df(df)
    return float(student.ppf(probability, df))


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t as student

    _check_df(df)
    return float(student.cdf(t, df))


def _check_df(df: float) -> None:
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
