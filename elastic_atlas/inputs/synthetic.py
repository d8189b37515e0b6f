"""Synthetic, physically consistent tables for tests and benchmarks (not data of any crystal)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from elastic_atlas.contract import physics
from elastic_atlas.contract.risk import risk_flags
from elastic_atlas.contract.schema import column_order, crystal_systems

_SYSTEMS = crystal_systems()
_FIRST_SPACE_GROUP = (1, 3, 16, 75, 143, 168, 195)
# the coverage factor of the synthetic 95 % intervals (a real table takes its checkpoint's k95)
SYNTHETIC_K95 = 3.0
_ELEMENTS = ("Al", "Ba", "Ca", "Cu", "Fe", "Mg", "N", "Na", "O", "S", "Si", "Ti", "Zn")


def synthetic_table(rows: int, seed: int = 0, table: str = "mped") -> pd.DataFrame:
    """`rows` random rows in schema column order whose derived columns follow PHYSICS.md."""
    rng = np.random.default_rng(seed)
    nsites = rng.integers(1, 80, rows)
    volume = nsites * rng.uniform(8.0, 30.0, rows)
    mass = nsites * rng.uniform(10.0, 120.0, rows)
    g_vrh = 10 ** rng.uniform(0.5, 2.0, rows)
    # ν between 0.05 and 0.40 keeps B/G and the velocities in a realistic range.
    nu = rng.uniform(0.05, 0.40, rows)
    k_vrh = g_vrh * (2.0 * (1.0 + nu)) / (3.0 * (1.0 - 2.0 * nu))
    system = rng.integers(0, len(_SYSTEMS), rows)
    pair = rng.choice(len(_ELEMENTS), size=(rows, 2), replace=True)
    elements = [" ".join(sorted({_ELEMENTS[a], _ELEMENTS[b]})) for a, b in pair]
    if table == "mped":
        ids = [f"mp-{i}" for i in range(1, rows + 1)]
    else:
        ids = [f"{i:010x}" for i in range(1, rows + 1)]
    frame = pd.DataFrame(
        {
            "material_id": ids,
            "formula": [e.replace(" ", "") for e in elements],
            "elements": elements,
            "nelements": [len(e.split()) for e in elements],
            "chemsys": [e.replace(" ", "-") for e in elements],
            "nsites": nsites,
            "crystal_system": np.asarray(_SYSTEMS)[system],
            "space_group_number": np.asarray(_FIRST_SPACE_GROUP)[system],
            "band_gap": rng.uniform(0.1, 3.0, rows),
            "volume": volume,
            "mass": mass,
            "k_vrh": k_vrh,
            "g_vrh": g_vrh,
            "k_vrh_uncertainty": rng.uniform(0.02, 0.12, rows),
            "g_vrh_uncertainty": rng.uniform(0.02, 0.12, rows),
            # DFT values a little off the predictions, as a cross-check table gives them
            "k_vrh_dft": k_vrh * 10 ** rng.normal(0.0, 0.05, rows),
            "g_vrh_dft": g_vrh * 10 ** rng.normal(0.0, 0.07, rows),
            "dft_status": "ok",
            "in_training": rng.random(rows) < 0.3,
        }
    )
    set_intervals(frame)
    derived = physics.derive(k_vrh, g_vrh, nsites, volume, mass=mass)
    for name, values in derived.items():
        frame[name] = values
    flags = risk_flags(
        k_vrh, derived["density"], frame["k_vrh_uncertainty"], frame["g_vrh_uncertainty"]
    )
    for name, values in flags.items():
        frame[str(name)] = values.astype(bool)
    return frame[column_order(table)]


def set_intervals(frame: pd.DataFrame, k95: float = SYNTHETIC_K95) -> None:
    """(Re)write the 95 % interval columns from the moduli and their uncertainties, in place."""
    for symbol in ("k_vrh", "g_vrh"):
        half = k95 * frame[f"{symbol}_uncertainty"].to_numpy(dtype=float)
        values = frame[symbol].to_numpy(dtype=float)
        frame[f"{symbol}_lower"] = values * 10.0**-half
        frame[f"{symbol}_upper"] = values * 10.0**half
