"""What the networks predict, named once: each target's name (the value, log10 of the modulus
in GPa), the study's symbol, the table columns it fills, and its Matbench task and file stem."""

from __future__ import annotations

from elastic_atlas.contract.columns import Column
from elastic_atlas.contract.enums import FactEnum


class Target(FactEnum):
    """A predicted quantity: log10 of a Voigt-Reuss-Hill modulus in GPa."""

    symbol: str
    column: Column
    uncertainty_column: Column
    lower_column: Column  # bounds of the 95 % interval
    upper_column: Column
    dft_column: Column
    task: str  # the Matbench task
    stem: str  # the Matbench file stem

    LOG10_K_VRH = (
        "log10_k_vrh", "B", Column.K_VRH, Column.K_VRH_UNCERTAINTY, Column.K_VRH_LOWER,
        Column.K_VRH_UPPER, Column.K_VRH_DFT,
        "matbench_log_kvrh", "kvrh",
    )  # fmt: skip
    LOG10_G_VRH = (
        "log10_g_vrh", "G", Column.G_VRH, Column.G_VRH_UNCERTAINTY, Column.G_VRH_LOWER,
        Column.G_VRH_UPPER, Column.G_VRH_DFT,
        "matbench_log_gvrh", "gvrh",
    )  # fmt: skip


TARGET_NAMES = tuple(t.value for t in Target)
# (target of a checkpoint, the column of its calibrated uncertainty)
UNCERTAINTY_OF = {t.value: t.uncertainty_column for t in Target}
TARGET_UNIT = "log10(GPa)"
