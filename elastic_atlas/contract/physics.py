"""Derived elastic and thermal properties (PHYSICS.md), vectorised over numpy arrays.

Every formula of the tables lives here and nowhere else: the table builder derives columns with
these functions and the validator recomputes them with the same functions, so a disagreement
between the two can only come from the stored data.

Units: B and G in GPa, density in g/cm^3, volume in Å^3, mass in u, velocities in m/s, θ_D in K.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from pymatgen.core import Structure

# CODATA 2018 (exact or recommended). Planck's h, not ħ: see PHYSICS.md, "Planck constant h".
PLANCK_H = 6.62607015e-34  # J s
BOLTZMANN_K = 1.380649e-23  # J / K
ATOMIC_MASS_UNIT_KG = 1.66053906660e-27  # kg
AVOGADRO = 6.02214076e23  # 1 / mol

GPA_TO_PA = 1e9
# No crystal's VRH modulus reaches this (diamond: K 443, G 535 GPa); a DFT value above it is an
# unconverged or unstable tensor, unfit to judge a prediction against.
MAX_DFT_MODULUS = 1000.0  # GPa
G_PER_CM3_TO_KG_PER_M3 = 1e3
ANGSTROM3_TO_M3 = 1e-30
# u / Å^3 -> g / cm^3: 1.66053906660e-27 kg / 1e-30 m^3 = 1660.539 kg/m^3 = 1.66053906660 g/cm^3
U_PER_A3_TO_G_PER_CM3 = ATOMIC_MASS_UNIT_KG / ANGSTROM3_TO_M3 / G_PER_CM3_TO_KG_PER_M3

Array = NDArray[np.float64]

DERIVED_COLUMNS = (
    "density",
    "v_longitudinal",
    "v_transverse",
    "v_mean",
    "poisson_ratio",
    "debye_temperature",
)


def _as_float(values: ArrayLike) -> Array:
    return np.asarray(values, dtype=np.float64)


def density(mass: ArrayLike, volume: ArrayLike) -> Array:
    """ρ (g/cm³) from the cell mass M (u) and cell volume V (Å³)."""
    return _as_float(mass) * U_PER_A3_TO_G_PER_CM3 / _as_float(volume)


def v_longitudinal(k_vrh: ArrayLike, g_vrh: ArrayLike, density_g_cm3: ArrayLike) -> Array:
    """v_l = √((B + 4G/3)/ρ) in m/s, B and G in GPa, ρ in g/cm³."""
    modulus_pa = (_as_float(k_vrh) + 4.0 * _as_float(g_vrh) / 3.0) * GPA_TO_PA
    return np.sqrt(modulus_pa / (_as_float(density_g_cm3) * G_PER_CM3_TO_KG_PER_M3))


def v_transverse(g_vrh: ArrayLike, density_g_cm3: ArrayLike) -> Array:
    """v_t = √(G/ρ) in m/s, G in GPa, ρ in g/cm³."""
    return np.sqrt(
        _as_float(g_vrh) * GPA_TO_PA / (_as_float(density_g_cm3) * G_PER_CM3_TO_KG_PER_M3)
    )


def v_mean(v_long: ArrayLike, v_trans: ArrayLike) -> Array:
    """Mean sound velocity v_s = [(1/3)(1/v_l³ + 2/v_t³)]^(−1/3) in m/s."""
    vl, vt = _as_float(v_long), _as_float(v_trans)
    return ((1.0 / vl**3 + 2.0 / vt**3) / 3.0) ** (-1.0 / 3.0)


def poisson_ratio(v_long: ArrayLike, v_trans: ArrayLike) -> Array:
    """ν = (x² − 2)/(2x² − 2) with x = v_l/v_t (equal to (3B − 2G)/(6B + 2G))."""
    x2 = (_as_float(v_long) / _as_float(v_trans)) ** 2
    return (x2 - 2.0) / (2.0 * x2 - 2.0)


def debye_temperature(nsites: ArrayLike, volume: ArrayLike, v_mean_m_s: ArrayLike) -> Array:
    """θ_D = (h/k_B) (3N/(4πV))^(1/3) v_s in K (Anderson 1963), V in Å³, v_s in m/s."""
    number_density = _as_float(nsites) / (_as_float(volume) * ANGSTROM3_TO_M3)
    return (
        PLANCK_H
        / BOLTZMANN_K
        * (3.0 * number_density / (4.0 * np.pi)) ** (1.0 / 3.0)
        * _as_float(v_mean_m_s)
    )


def young_modulus(k_vrh: ArrayLike, g_vrh: ArrayLike) -> Array:
    """Isotropic Young's modulus E = 9BG/(3B + G) in GPa."""
    b, g = _as_float(k_vrh), _as_float(g_vrh)
    return 9.0 * b * g / (3.0 * b + g)


def pugh_ratio(k_vrh: ArrayLike, g_vrh: ArrayLike) -> Array:
    """Pugh's ductility ratio B/G (dimensionless; above ~1.75 suggests ductile behaviour)."""
    return _as_float(k_vrh) / _as_float(g_vrh)


def derive(
    k_vrh: ArrayLike,
    g_vrh: ArrayLike,
    nsites: ArrayLike,
    volume: ArrayLike,
    mass: ArrayLike | None = None,
    density_g_cm3: ArrayLike | None = None,
) -> dict[str, Array]:
    """All derived table columns from the primary columns B, G, N, V and M (or ρ).

    The density is computed from M and V when the mass is given (the table's own definition);
    a stored density is used only when a table has no mass column.
    """
    if mass is not None:
        rho = density(mass, volume)
    elif density_g_cm3 is not None:
        rho = _as_float(density_g_cm3)
    else:
        raise ValueError("derive() needs the cell mass or the density")
    vl = v_longitudinal(k_vrh, g_vrh, rho)
    vt = v_transverse(g_vrh, rho)
    vs = v_mean(vl, vt)
    return {
        "density": rho,
        "v_longitudinal": vl,
        "v_transverse": vt,
        "v_mean": vs,
        "poisson_ratio": poisson_ratio(vl, vt),
        "debye_temperature": debye_temperature(nsites, volume, vs),
    }


def structure_scalars(structure: Structure) -> dict[str, float | int]:
    """N (atoms in the cell), V (Å³), M (u) and ρ (g/cm³) of an ordered pymatgen Structure."""
    mass = float(sum(float(site.specie.atomic_mass) for site in structure))
    volume = float(structure.volume)
    return {
        "nsites": len(structure),
        "volume": volume,
        "mass": mass,
        "density": float(density(mass, volume)),
    }
