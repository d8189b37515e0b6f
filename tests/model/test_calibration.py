"""The calibration from ensemble spread to a standard uncertainty, on errors of known law."""

from __future__ import annotations

import numpy as np
import pytest

from elastic_atlas.model.calibration import (
    Calibration,
    coverage,
    fit_calibration,
    two_sigma_ceiling,
)


def test_sigma_is_the_quadrature_sum_of_floor_and_scaled_spread():
    calibration = Calibration(a=0.03, b=2.0)
    # hand-computed: √(0.03² + (2·0.02)²) = √(0.0009 + 0.0016) = 0.05
    assert calibration.sigma(np.array([0.0, 0.02])) == pytest.approx([0.03, 0.05])


def test_coverage_counts_errors_within_one_two_and_k95_sigma():
    errors = np.array([0.5, -1.0, 1.5, -2.5, 3.5])
    shares = coverage(errors, np.ones(5), k95=3.0)
    assert shares == {
        "within_1_sigma": 0.4,
        "within_2_sigma": 0.6,
        "within_k95_sigma": 0.8,
        # σ stretched to hold ⌊0.73·5⌋ = 3 ratios (scale 1.5): 2·1.5 = 3 holds 4 of 5
        "two_sigma_ceiling": 0.8,
        "n": 5,
    }


def test_the_two_sigma_ceiling_by_hand():
    # ten ratios: σ may hold at most 7 (scale 7), and 2·7 = 14 holds all but the 100
    assert two_sigma_ceiling(np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 100.0])) == 0.9
    assert two_sigma_ceiling(np.arange(1, 11) / 10) == 1.0  # 2·0.7 = 1.4 holds all ten
    # ties: ten equal ratios can't put 7 within mσ without all 10: mσ stays below them,
    # and 2mσ (just under 2) holds all of them
    assert two_sigma_ceiling(np.ones(10)) == 1.0
    assert np.isnan(two_sigma_ceiling(np.array([1.0])))


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        # normal: q(0.73) of |z| = 1.1031, P(|z| ≤ 2.2063) = 0.9726
        (lambda rng, n: rng.normal(size=n), 0.9726),
        # Laplace: |z| ~ Exp(1), q(0.73) = −ln 0.27 = 1.3093, P(≤ 2.6186) = 1 − 0.27² = 0.9271
        (lambda rng, n: rng.laplace(size=n), 0.9271),
    ],
)
def test_the_two_sigma_ceiling_of_known_laws(draw, expected):
    errors = draw(np.random.default_rng(2), 200_000)
    assert coverage(errors, np.ones_like(errors))["two_sigma_ceiling"] == pytest.approx(
        expected, abs=0.002
    )


def test_normal_errors_give_back_their_law():
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.005, 0.05, 20000)
    truth = Calibration(a=0.04, b=3.0)
    errors = rng.normal(0.0, truth.sigma(spread))
    fitted = fit_calibration(errors, spread)
    assert fitted.a == pytest.approx(0.04, rel=0.05)
    assert fitted.b == pytest.approx(3.0, rel=0.1)
    assert fitted.k95 == pytest.approx(2.0, rel=0.05)  # normal: 2σ holds 95.45 %
    fresh = rng.normal(0.0, truth.sigma(spread))
    shares = coverage(fresh, fitted.sigma(spread), fitted.k95)
    assert shares["within_1_sigma"] == pytest.approx(0.6827, abs=0.01)
    assert shares["within_2_sigma"] == pytest.approx(0.9545, abs=0.01)


def test_heavy_tails_keep_68_percent_within_sigma_and_widen_k95():
    rng = np.random.default_rng(1)
    spread = rng.uniform(0.005, 0.05, 20000)
    errors = 0.03 * rng.standard_t(2, size=spread.size)  # spread says nothing; heavy tails
    fitted = fit_calibration(errors, spread)
    shares = coverage(errors, fitted.sigma(spread), fitted.k95)
    assert shares["within_1_sigma"] == pytest.approx(0.6827, abs=0.002)
    assert shares["within_2_sigma"] < 0.93  # 2σ cannot hold 95 % of a t(2) law
    assert fitted.k95 > 2.5 and shares["within_k95_sigma"] == pytest.approx(0.9545, abs=0.002)


def test_too_few_or_all_zero_errors_are_refused():
    with pytest.raises(ValueError, match="too few"):
        fit_calibration(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="exactly 0"):
        fit_calibration(np.zeros(100), np.ones(100))
