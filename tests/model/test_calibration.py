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


def grouped() -> Calibration:
    """Two bands of the base σ (edge 0.05) × predicted soft (B < 32 GPa): four groups."""
    from elastic_atlas.model.calibration import Groups

    groups = Groups(edges=(0.05,), soft_bulk_modulus=32.0, multipliers=(1.0, 2.0, 1.5, 3.0),
                    coverage_factors=(3.0, 2.5, 2.8, 2.2), leave_out_weight=0.35)  # fmt: skip
    return Calibration(a=0.03, b=2.0, k95=3.1, groups=groups)


def test_a_grouped_calibration_scales_each_row_by_its_groups_multiplier():
    calibration = grouped()
    spread = np.array([0.0, 0.0, 0.02, 0.02])  # base σ 0.03, 0.03, 0.05, 0.05 (by hand)
    bulk = np.array([100.0, 10.0, 100.0, 10.0])
    # groups: band 0 hard, band 0 soft, band 1 hard (0.05 is the edge: band 1), band 1 soft
    assert calibration.groups.index(calibration.base(spread), bulk).tolist() == [0, 1, 2, 3]
    assert calibration.sigma(spread, bulk) == pytest.approx([0.03, 0.06, 0.075, 0.15])
    assert calibration.factor(spread, bulk) == pytest.approx([3.0, 2.5, 2.8, 2.2])
    assert calibration.expanded(spread, bulk) == pytest.approx([0.09, 0.15, 0.21, 0.33])
    with pytest.raises(ValueError, match="predicted B"):
        calibration.sigma(spread)  # the soft groups need the bulk moduli


def test_a_grouped_calibration_survives_the_model_card():
    calibration = grouped()
    entry = calibration.as_dict()
    assert entry["groups"]["multipliers"] == (1.0, 2.0, 1.5, 3.0)
    import json

    assert Calibration.from_dict(json.loads(json.dumps(entry))) == calibration
    assert "groups" not in Calibration(0.03, 2.0, 3.0).as_dict()  # plain cards stay as they were


def test_groups_must_match_their_count_and_ascend():
    from elastic_atlas.model.calibration import Groups

    with pytest.raises(ValueError, match="4 groups"):
        Groups((0.05,), 32.0, (1.0, 2.0), (3.0, 3.0), 0.35)
    with pytest.raises(ValueError, match="ascend"):
        Groups((0.06, 0.05), None, (1.0, 1.0, 1.0), (3.0, 3.0, 3.0), 0.35)


def test_fit_groups_takes_the_weighted_quantiles_of_each_group():
    from elastic_atlas.model.calibration import fit_groups

    rng = np.random.default_rng(1)
    # band 0 (base σ 0.03): |error|/σ uniform on (0, 1); band 1 (0.06): uniform on (0, 2) —
    # no soft axis. 68.27 % quantiles: 0.68 and 1.37; 95.45 % / 68.27 %: 1.40 in both.
    n = 20_000
    ratio = np.concatenate([rng.uniform(0, 1, n), rng.uniform(0, 2, n)])
    base = np.concatenate([np.full(n, 0.03), np.full(n, 0.06)])
    weights = np.full(2 * n, 1.0)
    fitted = fit_groups(Calibration(0.03, 1.0), ratio, base, None, weights, (0.045,), None, 0.3)
    assert fitted.groups.multipliers == pytest.approx((0.6827, 1.3654), rel=0.02)
    assert fitted.groups.coverage_factors == pytest.approx((1.398, 1.398), rel=0.02)
    # weights count, not entries: band 1's ratios above 1 weighted ×0 leave uniform(0, 1)
    heavy = np.where((base == 0.06) & (ratio > 1), 0.0, 1.0)
    refit = fit_groups(Calibration(0.03, 1.0), ratio, base, None, heavy, (0.045,), None, 0.3)
    assert refit.groups.multipliers[1] == pytest.approx(0.6827, rel=0.03)
    with pytest.raises(ValueError, match="< 20"):
        fit_groups(Calibration(0.03, 1.0), ratio[:30], base[:30], None, weights[:30], (0.045,),
                   None, 0.3)  # fmt: skip
