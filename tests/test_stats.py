"""jointsr.evaluation.stats: spread over seeds, the Student t quantile, paired confidence intervals."""

from __future__ import annotations

import math

import pytest

from jointsr.evaluation.stats import (
    bootstrap_interval,
    paired_t_interval,
    spread,
    t_cdf,
    t_quantile,
)


def test_spread_is_mean_sample_std_min_max():
    summary = spread([30.0, 31.0, 33.0])
    # mean 94/3; deviations -4/3, -1/3, 5/3; sum of squares 42/9; ddof=1: / 2
    assert summary.n == 3
    assert summary.mean == pytest.approx(94 / 3)
    assert summary.std == pytest.approx(math.sqrt(42 / 9 / 2))
    assert (summary.low, summary.high) == (30.0, 33.0)


def test_one_value_has_no_std_and_no_values_are_an_error():
    summary = spread([30.5])
    assert (summary.n, summary.mean, summary.std, summary.low, summary.high) == (1, 30.5, None, 30.5, 30.5)
    with pytest.raises(ValueError):
        spread([])


@pytest.mark.parametrize("probability", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_matches_the_closed_forms_of_one_and_two_degrees_of_freedom(probability):
    # df=1 is Cauchy: tan(pi (p - 1/2)); df=2: F(t) = 1/2 + t / (2 sqrt(t^2 + 2)) => t = (2p-1)/sqrt(2p(1-p))
    assert t_quantile(probability, 1) == pytest.approx(math.tan(math.pi * (probability - 0.5)), rel=1e-9)
    assert t_quantile(probability, 2) == pytest.approx(
        (2 * probability - 1) / math.sqrt(2 * probability * (1 - probability)), rel=1e-9)


@pytest.mark.parametrize("df,expected", [(2, 4.302653), (3, 3.182446), (4, 2.776445), (5, 2.570582),
                                         (10, 2.228139), (30, 2.042272), (100, 1.983972), (1000, 1.962339)])
def test_t_quantile_matches_published_tables(df, expected):
    """t_{0.975, df} as printed in the tables (six decimals)."""
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-6)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-6)
    assert t_cdf(expected, df) == pytest.approx(0.975, abs=1e-6)
    assert t_cdf(-expected, df) == pytest.approx(0.025, abs=1e-6)


@pytest.mark.parametrize("probability,df,expected", [(0.95, 1, 6.313752), (0.95, 9, 1.833113), (0.995, 4, 4.604095),
                                                     (0.8, 4, 0.940965), (0.5, 7, 0.0)])
def test_one_sided_quantiles_match_published_tables(probability, df, expected):
    assert t_quantile(probability, df) == pytest.approx(expected, abs=1e-6)


def test_a_quantile_outside_its_domain_is_a_value_error():
    with pytest.raises(ValueError, match="probability must be in"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="degrees of freedom must be positive"):
        t_quantile(0.9, 0)
    with pytest.raises(ValueError, match="degrees of freedom must be positive"):
        t_cdf(1.0, -1)


def test_paired_t_interval_by_hand():
    differences = [0.3, 0.5, 0.7]
    # mean 0.5, s = sqrt((0.04 + 0 + 0.04) / 2) = 0.2, se = 0.2 / sqrt(3), t(0.975, 2) = 4.302652730
    half = 4.302652730 * 0.2 / math.sqrt(3)
    interval = paired_t_interval(differences)
    assert interval.mean == pytest.approx(0.5)
    assert (interval.low, interval.high) == (pytest.approx(0.5 - half), pytest.approx(0.5 + half))
    assert interval.low == pytest.approx(0.003172, abs=1e-6) and not interval.contains_zero
    # a wider spread around a smaller mean: the interval holds 0
    wide = paired_t_interval([-0.2, 0.1, 0.4])
    half = 4.302652730 * 0.3 / math.sqrt(3)  # s = sqrt((0.09 + 0 + 0.09) / 2) = 0.3
    assert (wide.low, wide.high) == (pytest.approx(0.1 - half), pytest.approx(0.1 + half))
    assert wide.contains_zero
    with pytest.raises(ValueError, match="at least two"):
        paired_t_interval([0.4])


def test_bootstrap_interval_is_reproducible_and_within_the_observed_range():
    differences = [[0.2, 0.4, 0.3], [0.6, 0.5, 0.9], [0.1, 0.3, 0.2], [0.4, 0.4, 0.5]]  # 4 images x 3 seeds
    first, second = bootstrap_interval(differences), bootstrap_interval(differences)
    assert first == second  # a fixed RNG seed
    assert first.mean == pytest.approx(4.8 / 12)
    assert 0.1 <= first.low < first.mean < first.high <= 0.9 and not first.contains_zero
    # all-equal differences: no spread at all
    flat = bootstrap_interval([[0.0, 0.0], [0.0, 0.0]])
    assert (flat.low, flat.high) == (0.0, 0.0) and flat.contains_zero
    with pytest.raises(ValueError, match="matrix"):
        bootstrap_interval([0.1, 0.2])
