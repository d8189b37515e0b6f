"""Small structures and CIF texts made in the tests (no external data)."""

from __future__ import annotations

from functools import cache

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter


# pymatgen builds a SpaceGroup's operations anew on every call (≈ 1.5 s for Fm-3m), so each
# structure is made once per test session and handed out as a copy.
@cache
def cubic_crystal(symbol: str, a: float, species: tuple, coords: tuple) -> Structure:
    """A cubic crystal from its space group; the caller gets the shared object, so copy it."""
    return Structure.from_spacegroup(
        symbol, Lattice.cubic(a), list(species), [list(c) for c in coords]
    )


def rock_salt(a: float = 5.64) -> Structure:
    return cubic_crystal("Fm-3m", a, ("Na", "Cl"), ((0, 0, 0), (0.5, 0.5, 0.5))).copy()


def diamond() -> Structure:
    return cubic_crystal("Fd-3m", 3.567, ("C",), ((0, 0, 0),)).copy()


def cif_text(structure: Structure, symprec: float | None = None) -> str:
    return str(CifWriter(structure, symprec=symprec))


P1_HEADER = """data_test
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   {a}
_cell_length_b   {a}
_cell_length_c   {a}
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_symmetry_multiplicity
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
"""


def p1_cif(a: float, atoms: list[tuple[str, float, float, float, float]]) -> str:
    rows = "".join(
        f"  {sym}  {sym}{i}  1  {x}  {y}  {z}  {occ}\n"
        for i, (sym, x, y, z, occ) in enumerate(atoms)
    )
    return P1_HEADER.format(a=a) + rows


BAD_CIFS = {
    "empty": ("", "empty_cif"),
    "syntax": ("data_x\n_cell_length_a 'unterminated\nloop_\n_a\n", "unreadable_cif"),
    "partial": (
        p1_cif(5.0, [("Fe", 0, 0, 0, 0.5), ("Ni", 0, 0, 0, 0.5), ("O", 0.5, 0.5, 0.5, 1)]),
        "partial_occupancy",
    ),
    "unknown_element": (
        p1_cif(5.0, [("Xx", 0, 0, 0, 1), ("O", 0.5, 0.5, 0.5, 1)]),
        "unknown_element",
    ),
    "dummy_species": (p1_cif(5.0, [("X", 0, 0, 0, 1), ("O", 0.5, 0.5, 0.5, 1)]), "unknown_element"),
    "isolated_atom": (p1_cif(20.0, [("Na", 0, 0, 0, 1)]), "isolated_atom"),
    "zero_volume": (p1_cif(0.0, [("Na", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]), "bad_cell"),
    # Na and Cl written on one site: never a crystal (was read as Na4Cl5-like rows before)
    "overlapping": (p1_cif(5.64, [("Na", 0, 0, 0, 1), ("Cl", 0, 0, 0, 1)]), "overlapping_atoms"),
    # an absent atom is refused, not dropped: the formula would silently change
    "zero_occupancy": (
        p1_cif(5.64, [("Na", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1), ("K", 0.5, 0, 0, 0)]),
        "zero_occupancy",
    ),
    # one atom in a 0.5 Å cube: 844 g/cm^3 before the limits
    "implausible_density": (p1_cif(0.5, [("Na", 0, 0, 0, 1)]), "implausible_cell"),
}


def hydrogen_grid(per_side: int = 14, spacing: float = 1.36) -> str:
    """per_side³ H atoms on a simple cubic grid: plausible density, but a neighbour search of
    millions of pairs within 8 Å (the budget refuses it before the search)."""
    step = 1.0 / per_side
    atoms = [
        ("H", i * step, j * step, k * step, 1)
        for i in range(per_side)
        for j in range(per_side)
        for k in range(per_side)
    ]
    return p1_cif(per_side * spacing, atoms)
