"""Risk flags: rows whose prediction is more likely than most to be far from DFT.

Each flag is a plain rule on a row's own columns, so anyone can recompute it (and `validate`
does). The rules and thresholds were chosen on held-out data, the Matbench fold-0 validation
entries, and measured on the fold-0 test entries and on Materials Project 2023 entries outside
the training subset (BENCHMARKS.md, "Risk flags"): how many of the worst 5 % of errors each
flag catches and how many rows it marks.
"""

from __future__ import annotations

import numpy as np

from elastic_atlas.contract.columns import Column

# A predicted bulk modulus below this (GPa): soft, open or layered crystals, few in training.
SOFT_BULK_MODULUS = 32.0
# A density below this (g/cm^3): light, open frameworks and molecular crystals.
LOW_DENSITY = 3.0
# Calibrated uncertainties (log10 GPa) above which a row is unusually uncertain: each is the
# 85th percentile of that modulus's u on the fold-0 validation entries under the packaged
# checkpoint's grouped calibration, so together they mark 22.0 % of those
# entries (BENCHMARKS.md). One per modulus: G's floor `a` is higher than K's.
HIGH_UNCERTAINTY = {"k_vrh": 0.085, "g_vrh": 0.125}

FLAG_COLUMNS = (Column.RISK_HIGH_UNCERTAINTY, Column.RISK_SOFT, Column.RISK_LOW_DENSITY)


def risk_flags(
    k_vrh: np.ndarray,
    density: np.ndarray,
    k_vrh_uncertainty: np.ndarray,
    g_vrh_uncertainty: np.ndarray,
) -> dict[Column, np.ndarray]:
    """The flags of rows as 1.0 / 0.0, NaN where the rule has no input (the uncertainty flag of
    a row without uncertainties is null)."""
    # how far the larger of the two uncertainties is above its threshold (NaN: neither known)
    excess = np.fmax(
        np.asarray(k_vrh_uncertainty, float) / HIGH_UNCERTAINTY["k_vrh"],
        np.asarray(g_vrh_uncertainty, float) / HIGH_UNCERTAINTY["g_vrh"],
    )
    return {
        Column.RISK_HIGH_UNCERTAINTY: _below(-excess, -1.0),
        Column.RISK_SOFT: _below(np.asarray(k_vrh, float), SOFT_BULK_MODULUS),
        Column.RISK_LOW_DENSITY: _below(np.asarray(density, float), LOW_DENSITY),
    }


def _below(values: np.ndarray, threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(values), np.nan, (values < threshold).astype(float))
