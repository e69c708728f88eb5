"""The statistics behind `shopwindow stats`, checked against published textbook values."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.stats.significance import (
    compare,
    difference_interval,
    enough_data,
    lift_interval,
    probability_to_beat,
    two_proportion_z,
    wilson_interval,
    z_for,
)

# Physicians' Health Study (Agresti, An Introduction to Categorical Data Analysis,
# sections 2.2 and 2.4): myocardial infarction in 189 of 11,034 on placebo and
# 104 of 11,037 on aspirin. Placebo plays the variant, aspirin the control.
ASPIRIN = (104, 11_037)
PLACEBO = (189, 11_034)


def test_critical_values_of_the_standard_normal() -> None:
    assert z_for(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_for(0.90) == pytest.approx(1.644854, abs=1e-6)
    assert z_for(0.99) == pytest.approx(2.575829, abs=1e-6)


def test_difference_of_proportions_and_its_interval() -> None:
    diff, low, high = difference_interval(*ASPIRIN, *PLACEBO)
    # Agresti: 0.0171 - 0.0094 = 0.0077, 95% CI (0.005, 0.011)
    assert diff == pytest.approx(0.0077, abs=5e-5)
    assert low == pytest.approx(0.005, abs=5e-4)
    assert high == pytest.approx(0.011, abs=5e-4)


def test_relative_risk_and_its_interval() -> None:
    lift = lift_interval(*ASPIRIN, *PLACEBO)
    assert lift is not None
    ratio, low, high = (1 + x for x in lift)
    # Agresti: relative risk 1.82, 95% CI (1.43, 2.30)
    assert ratio == pytest.approx(1.82, abs=0.005)
    assert low == pytest.approx(1.43, abs=0.005)
    assert high == pytest.approx(2.30, abs=0.01)


def test_z_test_matches_pearsons_chi_squared() -> None:
    z, p = two_proportion_z(*ASPIRIN, *PLACEBO)
    # Agresti: Pearson X^2 = 25.01 (df 1) for this table; for a 2x2 table X^2 = z^2.
    assert z * z == pytest.approx(25.01, abs=0.01)
    assert z > 0
    assert p < 0.0001


def test_pooled_z_and_two_sided_p_value() -> None:
    # 140 of 200 against 255 of 340: pooled p = 0.7315, SE = 0.03949, z = -1.2660.
    z, p = two_proportion_z(255, 340, 140, 200)
    assert z == pytest.approx(-1.266015, abs=1e-6)
    # Standard normal table: P(|Z| > 1.27) = 2 x (1 - 0.8980) = 0.204
    assert p == pytest.approx(0.204, abs=0.002)
    _, p_none = two_proportion_z(50, 1000, 50, 1000)
    assert p_none == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, Table I, Wilson score method
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe(x: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(x, n)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize(
    ("control", "variant", "expected"),
    [
        # Uniform prior, no data vs one success in one trial: P(B > A) = E[B] = 2/3.
        ((0, 0), (1, 1), 2 / 3),
        ((1, 1), (0, 0), 1 / 3),
        # Identical evidence: a coin toss.
        ((5, 50), (5, 50), 0.5),
        ((400, 10_000), (400, 10_000), 0.5),
    ],
)
def test_probability_to_beat_exact_values(
    control: tuple[int, int], variant: tuple[int, int], expected: float
) -> None:
    assert probability_to_beat(*control, *variant) == pytest.approx(expected, abs=1e-9)


def test_probability_to_beat_agrees_with_simulation() -> None:
    rnd = random.Random(7)
    x1, n1, x2, n2 = 40, 1000, 55, 1000
    draws = 40_000
    wins = sum(
        rnd.betavariate(1 + x2, 1 + n2 - x2) > rnd.betavariate(1 + x1, 1 + n1 - x1)
        for _ in range(draws)
    )
    assert probability_to_beat(x1, n1, x2, n2) == pytest.approx(wins / draws, abs=0.01)


def test_probability_to_beat_large_counts_uses_the_normal_approximation() -> None:
    exact_side = probability_to_beat(19_000, 100_000, 19_500, 100_000)
    approx_side = probability_to_beat(25_000, 100_000, 25_000, 100_000)
    assert 0.99 < exact_side < 1
    assert approx_side == pytest.approx(0.5, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(1, 300),
    st.integers(1, 300),
)
def test_probability_to_beat_is_complementary(a: int, b: int, extra1: int, extra2: int) -> None:
    n1, n2 = a + extra1, b + extra2
    forward = probability_to_beat(a, n1, b, n2)
    backward = probability_to_beat(b, n2, a, n1)
    assert 0 <= forward <= 1
    assert forward + backward == pytest.approx(1.0, abs=1e-9)


def test_no_conversions_in_the_control_leaves_lift_undefined() -> None:
    result = compare(0, 500, 10, 500)
    assert result.lift is None and result.lift_low is None
    assert result.difference == pytest.approx(0.02)
    assert result.p_value < 0.01


def test_enough_data_needs_the_minimum_and_five_of_each_outcome() -> None:
    assert enough_data(10, 100, 100)
    assert not enough_data(10, 99, 100)
    assert not enough_data(4, 1000, 100)
    assert not enough_data(996, 1000, 100)
