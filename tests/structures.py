"""Small structures and CIF texts made in the tests (no external data)."""

from __future__ import annotations

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter


def rock_salt(a: float = 5.64) -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def diamond() -> Structure:
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(3.567), ["C"], [[0, 0, 0]])


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
}
