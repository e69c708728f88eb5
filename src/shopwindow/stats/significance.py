"""Statistics that compare a variant with its control: rates, lift, z-test, chance to beat control.

Pure functions over counts (visitors and the visitors among them who converted);
no I/O and no dependencies beyond the standard library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

STANDARD_NORMAL = NormalDist()
# Below these counts the normal approximations behind the z-test are not trusted:
# the textbook success/failure condition.
MIN_SUCCESSES = 5
# Above this many conversions the exact Beta comparison is replaced by its normal
# approximation (the exact sum has one term per conversion).
EXACT_BETA_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class Comparison:
    """A variant against its control; `lift` is relative (+0.25 = 25% more conversions)."""

    control_rate: float
    rate: float
    difference: float  # rate - control_rate
    difference_low: float
    difference_high: float
    lift: float | None  # None when the control has no conversions
    lift_low: float | None
    lift_high: float | None
    z: float
    p_value: float
    beat_probability: float


def rate(successes: int, trials: int) -> float:
    return successes / trials if trials > 0 else 0.0


def z_for(confidence: float) -> float:
    """The two-sided critical value: 1.96 for 95%."""
    if not 0 < confidence < 1:
        raise ValueError("confidence is between 0 and 1, e.g. 0.95")
    return STANDARD_NORMAL.inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for one rate: sensible even with few or no conversions."""
    if trials <= 0:
        return 0.0, 1.0
    z = z_for(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    margin = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    return max(0.0, centre - margin), min(1.0, centre + margin)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of group 2 against group 1: (z, two-sided p-value)."""
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    spread = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if spread <= 0:
        return 0.0, 1.0  # nobody or everybody converted in both groups: no evidence either way
    z = (x2 / n2 - x1 / n1) / math.sqrt(spread)
    return z, math.erfc(abs(z) / math.sqrt(2))


def difference_interval(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Rate of group 2 minus rate of group 1, with its Wald (unpooled) interval."""
    p1, p2 = rate(x1, n1), rate(x2, n2)
    diff = p2 - p1
    if n1 <= 0 or n2 <= 0:
        return diff, -1.0, 1.0
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    margin = z_for(confidence) * se
    return diff, diff - margin, diff + margin


def lift_interval(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float, float] | None:
    """Relative lift of group 2 over group 1 (rate ratio - 1), with Katz's log interval.

    None when either group has no conversions: the ratio or its interval is undefined.
    """
    if x1 <= 0 or x2 <= 0 or n1 <= 0 or n2 <= 0:
        return None
    ratio = (x2 / n2) / (x1 / n1)
    se = math.sqrt(max(0.0, 1 / x2 - 1 / n2 + 1 / x1 - 1 / n1))
    margin = z_for(confidence) * se
    log_ratio = math.log(ratio)
    return ratio - 1, math.exp(log_ratio - margin) - 1, math.exp(log_ratio + margin) - 1


def probability_to_beat(x1: int, n1: int, x2: int, n2: int) -> float:
    """P(rate 2 > rate 1) with uniform Beta(1, 1) priors on both rates.

    Exact (a finite sum of Beta functions) while the counts are moderate; the
    normal approximation of the two Beta posteriors beyond that.
    """
    a1, b1 = 1 + x1, 1 + max(0, n1 - x1)
    a2, b2 = 1 + x2, 1 + max(0, n2 - x2)
    if min(a1, a2) <= EXACT_BETA_LIMIT:
        # The sum has one term per unit of the second alpha: put the smaller one there.
        if a2 <= a1:
            return _beta_beats(a1, b1, a2, b2)
        return 1.0 - _beta_beats(a2, b2, a1, b1)
    m1, v1 = _beta_moments(a1, b1)
    m2, v2 = _beta_moments(a2, b2)
    return STANDARD_NORMAL.cdf((m2 - m1) / math.sqrt(v1 + v2))


def _beta_beats(a1: int, b1: int, a2: int, b2: int) -> float:
    """P(X2 > X1) for X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2), summing over a2 terms."""
    total = 0.0
    base = _log_beta(a1, b1)
    for i in range(a2):
        total += math.exp(
            _log_beta(a1 + i, b1 + b2) - math.log(b2 + i) - _log_beta(1 + i, b2) - base
        )
    return min(1.0, max(0.0, total))


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_moments(a: int, b: int) -> tuple[float, float]:
    total = a + b
    return a / total, a * b / (total * total * (total + 1))


def enough_data(successes: int, trials: int, min_trials: int) -> bool:
    """Whether a group is large enough for the tests: the minimum sample and 5/5 successes/failures."""
    return (
        trials >= min_trials and successes >= MIN_SUCCESSES and trials - successes >= MIN_SUCCESSES
    )


def compare(control_x: int, control_n: int, x: int, n: int, confidence: float = 0.95) -> Comparison:
    """Everything the report shows for a variant against its control."""
    diff, low, high = difference_interval(control_x, control_n, x, n, confidence)
    lift = lift_interval(control_x, control_n, x, n, confidence)
    z, p = two_proportion_z(control_x, control_n, x, n)
    return Comparison(
        control_rate=rate(control_x, control_n),
        rate=rate(x, n),
        difference=diff,
        difference_low=low,
        difference_high=high,
        lift=lift[0] if lift else None,
        lift_low=lift[1] if lift else None,
        lift_high=lift[2] if lift else None,
        z=z,
        p_value=p,
        beat_probability=probability_to_beat(control_x, control_n, x, n),
    )
