"""CIF text -> pymatgen Structure, fast for the P1 CIFs that Materials Project and GNoME ship.

pymatgen's CIF parser costs 2-6 ms per structure, which would dominate a 36k-structure build.
A P1 CIF (one identity symmetry operation, full occupancies) needs no symmetry expansion, so it is
read with gemmi (~0.1 ms) and turned into a Structure directly; anything else — symmetry
operations, partial occupancies — goes through pymatgen's parser, which handles the general case.
"""

from __future__ import annotations

import math
import re
import warnings

import gemmi
from pymatgen.core import Element, Lattice, Structure

from elastic_atlas.contract.reasons import StructureRejected

_IDENTITY = {"x,y,z", "+x,+y,+z"}
_SYMOP_TAGS = ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
# A type symbol the fast path reads on its own: an element symbol in its canonical letter case,
# then no further letter (charges and numbers may follow: 'Na', 'O2-', 'Fe3+', 'C1'). Any other
# spelling ('CA', 'cl', 'Hw') goes to pymatgen, whose reading is the project's: 'CA' is
# calcium, never carbon.
_SYMBOL = re.compile(r"^([A-Z][a-z]?)(?![A-Za-z])")
_CELL_TAGS = tuple(
    f"_cell_{name}"
    for name in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma")
)


def _is_p1(block: gemmi.cif.Block) -> bool:
    for tag in _SYMOP_TAGS:
        ops = list(block.find_values(tag))
        if ops:
            return all(gemmi.cif.as_string(op).replace(" ", "").lower() in _IDENTITY for op in ops)
    return False


def _element(symbol: str) -> str | None:
    """The element of a canonically written type symbol, or None for pymatgen to read it."""
    match = _SYMBOL.match(symbol)
    if not match or not Element.is_valid_symbol(match.group(1)):
        return None
    return match.group(1)


_LETTERS = re.compile(r"[A-Za-z]+")


def check_species(block: gemmi.cif.Block) -> None:
    """Every atom's type symbol (or label, without one) starts with an element symbol in any
    letter case followed by no other letter ('Fe3+', 'O2-', 'CA', 'Si1'). pymatgen would read
    'Cax' as Ca, 'Sx' as S and 'Wat' as O: a guess at the chemistry, refused with its reason."""
    symbols = list(block.find_values("_atom_site_type_symbol")) or list(
        block.find_values("_atom_site_label")
    )
    for i, raw in enumerate(symbols):
        token = gemmi.cif.as_string(raw)
        match = _LETTERS.match(token)
        letters = match.group(0).capitalize() if match else ""
        if len(letters) > 2 or not Element.is_valid_symbol(letters):
            raise StructureRejected(
                "unknown_element",
                f"atom site {i + 1}: {token!r} is not an element symbol (not read as a guess)",
            )


def check_occupancies(block: gemmi.cif.Block) -> None:
    """A site with occupancy 0 (or not a number in (0, 1]) is refused, never dropped or
    guessed silently."""
    for i, text in enumerate(block.find_values("_atom_site_occupancy")):
        occupancy = gemmi.cif.as_number(text)
        if math.isnan(occupancy):
            raise StructureRejected(
                "bad_occupancy", f"atom site {i + 1} has occupancy {text!r} (not a number)"
            )
        if occupancy == 0:
            raise StructureRejected(
                "zero_occupancy", f"atom site {i + 1} has occupancy 0 (an absent atom)"
            )
        if occupancy < 0 or occupancy > 1.0 + 1e-3:
            raise StructureRejected(
                "bad_occupancy", f"atom site {i + 1} has occupancy {occupancy:g} (not in (0, 1])"
            )


def _fast_p1(block: gemmi.cif.Block) -> Structure | None:
    """The structure of a P1 block with full occupancies, or None when it needs pymatgen."""
    if not _is_p1(block):
        return None
    columns = ["type_symbol", "fract_x", "fract_y", "fract_z", "?occupancy"]
    table = block.find("_atom_site_", columns)
    if not table or len(table) == 0:
        return None
    species, coords = [], []
    for row in table:
        if row.has(4) and gemmi.cif.as_number(row[4]) != 1.0:
            return None  # partial occupancy: pymatgen builds the disordered site
        element = _element(gemmi.cif.as_string(row[0]))
        if element is None:
            return None  # an unusual spelling: pymatgen decides what it means
        species.append(element)
        coords.append([gemmi.cif.as_number(row[i]) for i in (1, 2, 3)])
    cell = [gemmi.cif.as_number(block.find_value(tag) or "?") for tag in _CELL_TAGS]
    return Structure(Lattice.from_parameters(*cell), species, coords)


def _with_pymatgen(text: str) -> Structure:
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structures = CifParser.from_str(text).parse_structures(primitive=False)
        except Exception as error:  # pymatgen raises many types for malformed CIFs
            raise StructureRejected("unreadable_cif", f"pymatgen: {error}") from error
    if not structures:
        raise StructureRejected("unreadable_cif", "pymatgen found no structure in the CIF")
    return structures[0]


def parse_cif(text: str) -> Structure:
    """The first structure of a CIF; raises StructureRejected with reason
    `empty_cif`, `unreadable_cif` or `unknown_element`."""
    if not text.strip():
        raise StructureRejected("empty_cif", "the CIF is empty")
    try:
        document = gemmi.cif.read_string(text)
    except (ValueError, RuntimeError) as error:
        raise StructureRejected("unreadable_cif", f"CIF syntax: {error}") from error
    if len(document) == 0:
        raise StructureRejected("empty_cif", "the CIF has no data block")
    if len(document) > 1:
        # One file is one material id: which of several structures it means is a guess.
        raise StructureRejected(
            "multiple_structures", f"the CIF has {len(document)} data blocks; give one per file"
        )
    try:
        check_species(document[0])
        check_occupancies(document[0])
        structure = _fast_p1(document[0])
    except (ValueError, RuntimeError) as error:
        raise StructureRejected("unreadable_cif", f"{error}") from error
    return structure if structure is not None else _with_pymatgen(text)
