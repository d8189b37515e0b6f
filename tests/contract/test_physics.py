from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from elastic_atlas.contract import physics


def test_constants_are_codata_2018():
    assert physics.PLANCK_H == 6.62607015e-34
    assert physics.BOLTZMANN_K == 1.380649e-23
    assert pytest.approx(1.66053906660, rel=1e-12) == physics.U_PER_A3_TO_G_PER_CM3


def test_diamond_anchor_of_physics_md():
    # B 443 GPa, G 535 GPa, 2 atoms in 11.35 Å^3, ρ 3.515 g/cm^3 (PHYSICS.md sanity anchor).
    vl = physics.v_longitudinal(443.0, 535.0, 3.515)
    vt = physics.v_transverse(535.0, 3.515)
    vs = physics.v_mean(vl, vt)
    theta = physics.debye_temperature(2, 11.35, vs)
    assert vl == pytest.approx(18140, rel=2e-3)
    assert vt == pytest.approx(12340, rel=2e-3)
    assert vs == pytest.approx(13450, rel=2e-3)
    assert theta == pytest.approx(2250, rel=5e-3)


def test_debye_uses_h_not_hbar():
    # With ħ the diamond value would be 2π smaller (about 360 K).
    theta = physics.debye_temperature(2, 11.35, 13450.0)
    assert theta > 2000


def test_hand_computed_velocities():
    # B = 100, G = 60 GPa, ρ = 5 g/cm^3: v_t = sqrt(60e9 / 5e3), v_l = sqrt(180e9 / 5e3).
    assert physics.v_transverse(60.0, 5.0) == pytest.approx(math.sqrt(12e6), rel=1e-12)
    assert physics.v_longitudinal(100.0, 60.0, 5.0) == pytest.approx(6000.0, rel=1e-12)


def test_poisson_ratio_matches_moduli_formula():
    k, g = np.array([443.0, 100.0, 50.0]), np.array([535.0, 60.0, 10.0])
    vl, vt = physics.v_longitudinal(k, g, 4.0), physics.v_transverse(g, 4.0)
    expected = (3 * k - 2 * g) / (6 * k + 2 * g)
    np.testing.assert_allclose(physics.poisson_ratio(vl, vt), expected, rtol=1e-12)


def test_density_from_mass_and_volume():
    # NaCl conventional cell: 4 formula units, a = 5.64 Å -> 2.16 g/cm^3.
    mass = 4 * (22.98976928 + 35.453)
    assert physics.density(mass, 5.64**3) == pytest.approx(2.165, rel=2e-3)


def test_young_and_pugh():
    assert physics.young_modulus(100.0, 60.0) == pytest.approx(9 * 100 * 60 / 360)
    assert physics.pugh_ratio(443.0, 535.0) == pytest.approx(0.828, rel=1e-3)


def _rock_salt() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def test_structure_scalars():
    scalars = physics.structure_scalars(_rock_salt())
    assert scalars["nsites"] == 8
    assert scalars["volume"] == pytest.approx(5.64**3)
    assert scalars["mass"] == pytest.approx(4 * (22.98976928 + 35.453), rel=1e-5)
    assert scalars["density"] == pytest.approx(2.165, rel=2e-3)


@pytest.mark.parametrize(
    "structure",
    [_rock_salt(), Structure.from_spacegroup("Fd-3m", Lattice.cubic(3.567), ["C"], [[0, 0, 0]])],
)
def test_primitive_and_conventional_cells_agree(structure):
    analyzer = SpacegroupAnalyzer(structure)
    primitive = analyzer.get_primitive_standard_structure()
    conventional = analyzer.get_conventional_standard_structure()
    assert len(primitive) < len(conventional)
    results = []
    for cell in (primitive, conventional):
        s = physics.structure_scalars(cell)
        derived = physics.derive(100.0, 60.0, s["nsites"], s["volume"], mass=s["mass"])
        results.append((s["density"], derived["debye_temperature"]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-9)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-9)


def test_derive_needs_mass_or_density():
    with pytest.raises(ValueError, match="mass or the density"):
        physics.derive(1.0, 1.0, 1, 1.0)


def test_derive_from_density_equals_derive_from_mass():
    a = physics.derive(100.0, 60.0, 4, 50.0, mass=100.0)
    b = physics.derive(100.0, 60.0, 4, 50.0, density_g_cm3=physics.density(100.0, 50.0))
    for name in physics.DERIVED_COLUMNS:
        assert a[name] == pytest.approx(b[name], rel=1e-12)
