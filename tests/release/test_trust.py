"""The release's trust figures from a table: predicted vs DFT apart for rows in and not in
training, the uncertainty's coverage there, and the rows each flag marks."""

from __future__ import annotations

import pandas as pd
import pytest

from elastic_atlas.release.trust import dft_comparison, flag_counts


def frame() -> pd.DataFrame:
    # log10 errors of B: +0.09 (u 0.05: within 2u), -0.02 (u 0.05: within u), 0.0 (in
    # training), a row without DFT, an absurd DFT value (ignored) and a row of unknown status
    return pd.DataFrame(
        {
            "k_vrh": [100 * 10**0.09, 100 * 10**-0.02, 50.0, 80.0, 60.0, 70.0],
            "k_vrh_dft": [100.0, 100.0, 50.0, None, 5.6e13, 70.0],
            "k_vrh_uncertainty": [0.05, 0.05, 0.04, 0.05, 0.05, 0.05],
            # 95 % intervals ±0.08 in log10 around the first two (row 0's DFT value lies 0.09
            # below: outside; row 1's 0.02 above: inside) and ±0.1 around the third
            "k_vrh_lower": [100 * 10**0.01, 100 * 10**-0.10, 50 * 10**-0.1, 60.0, 50.0, 60.0],
            "k_vrh_upper": [100 * 10**0.17, 100 * 10**0.06, 50 * 10**0.1, 90.0, 70.0, 80.0],
            "g_vrh": [10.0] * 6,
            "g_vrh_dft": [None] * 6,
            "g_vrh_uncertainty": [0.08] * 6,
            "in_training": pd.array([False, False, True, False, False, None], dtype="boolean"),
            "risk_high_uncertainty": pd.array([True, False, False, None, False, False], "boolean"),
            "risk_soft": [False, False, False, False, False, False],
            "risk_low_density": [True, True, False, False, False, False],
        }
    )


def test_predicted_vs_dft_is_split_by_training_and_counts_coverage():
    result = dft_comparison(frame())
    unseen = result["not_in_training"]["B"]
    assert unseen["n"] == 2  # no DFT, an absurd DFT value and an unknown status are left out
    assert unseen["mae"] == pytest.approx((0.09 + 0.02) / 2)
    assert unseen["mean_signed"] == pytest.approx((0.09 - 0.02) / 2)
    # |e|/u = 1.8 and 0.4: one within u, both within 2u; one DFT value inside its interval
    assert (unseen["within_u"], unseen["within_2u"], unseen["within_interval"]) == (0.5, 1.0, 0.5)
    assert result["in_training"]["B"] == pytest.approx(
        {"n": 1, "mae": 0.0, "mean_signed": 0.0, "within_u": 1.0, "within_2u": 1.0,
         "within_interval": 1.0}
    )  # fmt: skip
    assert "G" not in result["not_in_training"]  # no DFT shear moduli at all


def test_flags_are_counted_with_nulls_as_unmarked():
    assert flag_counts(frame()) == {
        "risk_high_uncertainty": 1,
        "risk_soft": 0,
        "risk_low_density": 2,
    }
