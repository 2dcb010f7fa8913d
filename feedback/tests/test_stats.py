"""The report statistics against figures worked out by hand (in the comments)."""

import pytest

from feedback import stats


def close(interval, estimate, low, high, tol=1e-3):
    assert interval.estimate == pytest.approx(estimate, abs=tol)
    assert interval.low == pytest.approx(low, abs=tol)
    assert interval.high == pytest.approx(high, abs=tol)


def test_t_interval_of_a_mean():
    # 6, 8, 10: mean 8, SD 2, t(2) = 4.303, half-width 4.303 · 2 / √3 = 4.9687
    close(stats.mean_interval(8, 2, 3), 8, 3.0313, 12.9687)
    # n = 40: beyond the table, z = 1.96: 5 ± 1.96 · 1 / √40 = 5 ± 0.3099
    close(stats.mean_interval(5, 1, 40), 5, 4.6901, 5.3099)


def test_no_interval_below_two_values_or_without_a_mean():
    assert stats.mean_interval(7, None, 1) is None
    assert stats.mean_interval(None, None, 0) is None
    assert stats.mean_interval(7, 0.5, 1) is None


def test_wilson_interval_of_a_share():
    # 5 of 10: the textbook Wilson interval is 0.2366 to 0.7634
    close(stats.wilson(5, 10), 0.5, 0.2366, 0.7634)
    # 0 of 10: centre = (z²/2n)/(1 + z²/n) = 0.19207/1.38415 = 0.13877 = the half-width
    close(stats.wilson(0, 10), 0.0, 0.0, 0.2775)
    close(stats.wilson(10, 10), 1.0, 0.7225, 1.0)
    assert stats.wilson(0, 0) is None


def test_median():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([]) is None


def test_shrinkage_by_hand():
    # Two clinicians, four clients each, client means 8 (SD 1) and 6 (SD 1).
    # σ² = (3·1 + 3·1)/6 = 1; Var(means) = 2; τ² = 2 − mean(1/4, 1/4) = 1.75
    # weights 1/(1.75 + 0.25) = 0.5 each: μ = 7, Var(μ) = 1; B = 1.75/2 = 0.875
    # A: 7 + 0.875·1 = 7.875, Var = 0.875·0.25 + 0.125²·1 = 0.234375, half = 1.96·0.48412
    result = stats.shrink([stats.Group(4, 8, 1), stats.Group(4, 6, 1)])
    assert result.within_var == pytest.approx(1)
    assert result.between_var == pytest.approx(1.75)
    close(result.practice, 7, 7 - 1.95996, 7 + 1.95996)
    close(result.estimates[0], 7.875, 7.875 - 0.94887, 7.875 + 0.94887)
    close(result.estimates[1], 6.125, 6.125 - 0.94887, 6.125 + 0.94887)


def test_noise_alone_shrinks_everyone_to_the_practice_mean():
    # Means 7 and 7.5 from two clients each, SD 2: σ² = 4, Var(means) = 0.125, τ² = max(0, 0.125 − 2) = 0
    # so every estimate is μ = 7.25 and its interval is μ's: ± 1.96·√(1/(1/2 + 1/2))
    result = stats.shrink([stats.Group(2, 7, 2), stats.Group(2, 7.5, 2)])
    assert result.between_var == 0
    close(result.estimates[0], 7.25, 7.25 - 1.95996, 7.25 + 1.95996)
    close(result.estimates[1], 7.25, 7.25 - 1.95996, 7.25 + 1.95996)


def test_a_small_caseload_is_pulled_further_towards_the_practice():
    result = stats.shrink([stats.Group(20, 8, 1), stats.Group(20, 6, 1), stats.Group(2, 9.5, 1)])
    small = result.estimates[2]
    assert small.estimate < 9.5  # pulled in
    big = result.estimates[0]
    assert (9.5 - small.estimate) / (9.5 - result.practice.estimate) > (
        8 - big.estimate
    ) / (8 - result.practice.estimate)


def test_nothing_to_compare_with_one_group_or_no_spread():
    assert stats.shrink([stats.Group(5, 8, 1)]) is None
    assert stats.shrink([stats.Group(1, 8, None), stats.Group(1, 7, None)]) is None
    assert stats.shrink([stats.Group(3, 8, 0), stats.Group(3, 8, 0)]) is None
    assert stats.shrink([]) is None
