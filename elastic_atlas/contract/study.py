"""What the study published (Liu et al., Acta Physica Sinica 74, 120702 (2025)), for the
section of every release that says how it differs from the study's dataset."""

from __future__ import annotations

from elastic_atlas.contract.targets import Target

# Rows of the study's tables (its section 5; 80,664 in all).
ROWS = {"mped": 54_359, "ned": 26_305}
INPUTS = {
    "mped": "Materials Project structures (retrieved by the authors, date not stated)",
    "ned": "GNoME stable structures, 377,221 CIFs of by_composition, with GNoME's summary CSV "
    "(band gaps)",
}
# Test MAE in log10 GPa of the study's two CGCNN models (one per modulus).
TEST_MAE = {Target.LOG10_K_VRH.value: 0.0790, Target.LOG10_G_VRH.value: 0.0981}
MODELS = "two CGCNN models, one per modulus, trained on Matbench v0.1 log10 K_VRH / G_VRH"
SCREEN = "PBE band gap 0.1-3.0 eV and no radioactive element, for both tables"
# The study's eq. (5) prints ħ in the Debye temperature; the project uses h (docs/PHYSICS.md).
DEBYE = (
    "θ_D = (h/k_B)(3N/4πV)^(1/3) v_s with Planck's h: the study's eq. (5) prints ħ, which would "
    "make every θ_D 2π times smaller than the Debye temperatures of known crystals"
)
