"""The small statistics the trend reports need, as pure functions (checked against
hand-computed fixtures in feedback/tests/test_stats.py).

- t intervals for means (two-sided 95 %), Wilson intervals for shares;
- an empirical Bayes (random-intercept, method-of-moments) estimate per clinician, shrunk
  towards the practice mean in proportion to how little data the clinician has, so that a
  clinician with three clients is not shown as an outlier on noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959964
# Two-sided 95 % critical values of Student's t, by degrees of freedom (1–30); z beyond.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def t95(df: int) -> float:
    if df < 1:
        raise ValueError("A t interval needs at least one degree of freedom.")
    return _T95[df - 1] if df <= len(_T95) else Z95


def mean_interval(mean: float | None, sd: float | None, n: int) -> Interval | None:
    """The 95 % t interval of a mean of n values with sample SD sd; None below two values."""
    if mean is None or sd is None or n < 2:
        return None
    half = t95(n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half)


def wilson(successes: int, n: int) -> Interval | None:
    """The 95 % Wilson score interval of a share (well behaved at 0 % and 100 %)."""
    if n <= 0:
        return None
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Group:
    """One clinician's clients: how many, the mean of their means, the SD of their means."""

    n: int
    mean: float
    sd: float | None


@dataclass(frozen=True)
class Shrinkage:
    practice: Interval  # the grand mean of client means, with its interval
    between_var: float  # tau²: how much clinicians truly differ (0 when noise explains all)
    within_var: float  # sigma²: how much clients of one clinician differ
    estimates: list[Interval | None]  # per group, in the order given; None for empty groups


def shrink(groups: Sequence[Group]) -> Shrinkage | None:
    """Empirical Bayes estimates of each group's mean under a random-intercept model.

    sigma² pools the within-group variances; tau² = max(0, Var(group means) − mean(sigma²/n_j))
    (method of moments); mu weights groups by 1/(tau² + sigma²/n_j); each estimate is
    mu + B_j (mean_j − mu) with B_j = tau² / (tau² + sigma²/n_j) and variance
    B_j·sigma²/n_j + (1 − B_j)²·Var(mu) (Morris 1983). None without two groups or any spread.
    """
    used = [g for g in groups if g.n >= 1]
    pooled_df = sum(g.n - 1 for g in used if g.sd is not None and g.n >= 2)
    if len(used) < 2 or pooled_df < 1:
        return None
    within = sum((g.n - 1) * g.sd**2 for g in used if g.sd is not None and g.n >= 2) / pooled_df
    plain_mean = sum(g.mean for g in used) / len(used)
    spread = sum((g.mean - plain_mean) ** 2 for g in used) / (len(used) - 1)
    between = max(0.0, spread - sum(within / g.n for g in used) / len(used))
    if between == 0 and within == 0:
        return None  # every client gave the same mean: nothing to estimate
    weights = [1 / (between + within / g.n) for g in used]
    mu = sum(w * g.mean for w, g in zip(weights, used)) / sum(weights)
    var_mu = 1 / sum(weights)
    estimates: list[Interval | None] = []
    for g in groups:
        if g.n < 1:
            estimates.append(None)
            continue
        b = between / (between + within / g.n)
        estimate = mu + b * (g.mean - mu)
        half = Z95 * math.sqrt(b * within / g.n + (1 - b) ** 2 * var_mu)
        estimates.append(Interval(estimate, estimate - half, estimate + half))
    half_mu = Z95 * math.sqrt(var_mu)
    return Shrinkage(Interval(mu, mu - half_mu, mu + half_mu), between, within, estimates)
