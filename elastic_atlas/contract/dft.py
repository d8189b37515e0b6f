"""The sanity rule of a DFT elastic entry, once: which DFT moduli may stand beside a prediction.

A DFT elastic tensor can fail: an unstable structure gives a negative bound, an unconverged fit
absurd values (Materials Project 2023 gives G = 5.6e13 GPa for mp-13686). Such a value is not a
number to compare a prediction with, so the tables carry it as null with a status that says why
(`dft_status`), the held-out evaluation leaves it out, and `validate` checks status and values
agree. The rules are checked in the order of `DftStatus`; the first that fails names the status.
"""

from __future__ import annotations

import math

from elastic_atlas.contract.enums import FactEnum
from elastic_atlas.contract.physics import MAX_DFT_MODULUS

# The Voigt and Reuss bounds of a DFT table, where it has them (Materials Project's has).
BOUND_COLUMNS = ("k_voigt", "k_reuss", "g_voigt", "g_reuss")
# Reuss ≤ Voigt holds exactly for a real tensor; the tables round to a few digits.
BOUND_ORDER_SLACK = 1e-6


class DftStatus(FactEnum):
    """The value of `dft_status`: what the build's DFT table says of a row's material."""

    description: str

    OK = "ok", "sane DFT moduli, published in k_vrh_dft and g_vrh_dft"
    NO_ENTRY = "no_entry", "the DFT table has no entry for the material"
    REJECTED_MISSING_VALUE = "rejected_missing_value", "K_VRH or G_VRH empty or not a number"
    REJECTED_MISSING_BOUNDS = (
        "rejected_missing_bounds", "the table has Voigt/Reuss bounds but not for this entry",
    )  # fmt: skip
    REJECTED_NON_POSITIVE = "rejected_non_positive", "a modulus or bound is zero or negative"
    REJECTED_ABOVE_LIMIT = (
        "rejected_above_limit", f"a modulus or bound is at or above {MAX_DFT_MODULUS:g} GPa",
    )  # fmt: skip
    REJECTED_VOIGT_BELOW_REUSS = (
        "rejected_voigt_below_reuss", "a Voigt bound is below its Reuss bound",
    )  # fmt: skip


def dft_status(k: float, g: float, bounds: dict[str, float] | None = None) -> DftStatus:
    """The status of one DFT entry: moduli K, G (GPa) and, when the table has them, the bounds
    {k_voigt, k_reuss, g_voigt, g_reuss} (NaN where a cell is empty)."""
    if not (math.isfinite(k) and math.isfinite(g)):
        return DftStatus.REJECTED_MISSING_VALUE
    values = [k, g]
    if bounds is not None:
        if not all(math.isfinite(bounds.get(name, math.nan)) for name in BOUND_COLUMNS):
            return DftStatus.REJECTED_MISSING_BOUNDS
        values += [bounds[name] for name in BOUND_COLUMNS]
    if any(v <= 0 for v in values):
        return DftStatus.REJECTED_NON_POSITIVE
    if any(v >= MAX_DFT_MODULUS for v in values):
        return DftStatus.REJECTED_ABOVE_LIMIT
    if bounds is not None and any(
        bounds[f"{m}_reuss"] > bounds[f"{m}_voigt"] * (1 + BOUND_ORDER_SLACK) for m in "kg"
    ):
        return DftStatus.REJECTED_VOIGT_BELOW_REUSS
    return DftStatus.OK
