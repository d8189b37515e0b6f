"""Every column name of the MPED/NED tables, once (the schema is the contract; a test keeps this
enum equal to schema/tables.json's column order). Units, symbols and descriptions live in the
schema, never in a name."""

from __future__ import annotations

from enum import StrEnum


class Column(StrEnum):
    MATERIAL_ID = "material_id"
    FORMULA = "formula"
    ELEMENTS = "elements"
    NELEMENTS = "nelements"
    CHEMSYS = "chemsys"
    NSITES = "nsites"
    CRYSTAL_SYSTEM = "crystal_system"
    SPACE_GROUP_NUMBER = "space_group_number"
    BAND_GAP = "band_gap"
    VOLUME = "volume"
    MASS = "mass"
    DENSITY = "density"
    K_VRH = "k_vrh"
    G_VRH = "g_vrh"
    K_VRH_UNCERTAINTY = "k_vrh_uncertainty"
    G_VRH_UNCERTAINTY = "g_vrh_uncertainty"
    K_VRH_LOWER = "k_vrh_lower"
    K_VRH_UPPER = "k_vrh_upper"
    G_VRH_LOWER = "g_vrh_lower"
    G_VRH_UPPER = "g_vrh_upper"
    V_LONGITUDINAL = "v_longitudinal"
    V_TRANSVERSE = "v_transverse"
    V_MEAN = "v_mean"
    POISSON_RATIO = "poisson_ratio"
    DEBYE_TEMPERATURE = "debye_temperature"
    K_VRH_DFT = "k_vrh_dft"
    G_VRH_DFT = "g_vrh_dft"
    DFT_STATUS = "dft_status"
    IN_TRAINING = "in_training"
    RISK_HIGH_UNCERTAINTY = "risk_high_uncertainty"
    RISK_SOFT = "risk_soft"
    RISK_LOW_DENSITY = "risk_low_density"


# Facts of a row that come from the structure or the summary (the rest come from the models).
STRUCTURE_FACTS = (
    Column.FORMULA, Column.ELEMENTS, Column.NELEMENTS, Column.CHEMSYS, Column.NSITES,
    Column.CRYSTAL_SYSTEM, Column.SPACE_GROUP_NUMBER, Column.BAND_GAP, Column.VOLUME, Column.MASS,
)  # fmt: skip
# (target of a checkpoint, the column of its calibrated uncertainty)
