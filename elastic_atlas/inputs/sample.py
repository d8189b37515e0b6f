"""The embedded sample: well-known crystals built from crystallographic facts.

Each entry gives the space group, lattice constants (room-temperature experimental, Å) and
Wyckoff positions; pymatgen expands them to the full cell. Band gaps are experimental literature
values (eV) — not PBE, which is what the real MPED/NED screening uses. K and G (GPa), where
given, are Voigt-Reuss-Hill averages computed from the single-crystal elastic constants C_ij
listed with them (so the aggregate values can be checked). The sample exists so that a fresh
clone can build and validate a release with no network and no ../shared; it is not data of the
study and its release is labelled as such.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

ELASTIC_SOURCE = "VRH average of single-crystal C_ij (Simmons & Wang 1971 compilation)"
GAP_SOURCE = "experimental (Madelung, Semiconductors: Data Handbook, 2004)"


@dataclass(frozen=True)
class Crystal:
    material_id: str  # Materials Project id of the same crystal
    name: str
    spacegroup: str
    lattice: tuple[float, ...]  # a (cubic); a, c (hexagonal/tetragonal/trigonal)
    species: tuple[str, ...]
    coords: tuple[tuple[float, float, float], ...]
    band_gap: float
    cij: tuple[float, float, float] | None = None  # cubic C11, C12, C44 in GPa


def _zb(mid, name, a, cation, anion, gap, cij=None):  # type: ignore[no-untyped-def]
    return Crystal(
        mid, name, "F-43m", (a,), (cation, anion), ((0, 0, 0), (0.25, 0.25, 0.25)), gap, cij
    )


def _rs(mid, name, a, cation, anion, gap, cij=None):  # type: ignore[no-untyped-def]
    return Crystal(
        mid, name, "Fm-3m", (a,), (cation, anion), ((0, 0, 0), (0.5, 0.5, 0.5)), gap, cij
    )


def _wz(mid, name, a, c, u, cation, anion, gap):  # type: ignore[no-untyped-def]
    return Crystal(
        mid, name, "P6_3mc", (a, c), (cation, anion), ((1 / 3, 2 / 3, 0), (1 / 3, 2 / 3, u)), gap
    )


CRYSTALS: tuple[Crystal, ...] = (
    Crystal(
        "mp-66", "diamond", "Fd-3m", (3.567,), ("C",), ((0, 0, 0),), 5.47, (1079.0, 124.0, 578.0)
    ),
    Crystal(
        "mp-149", "silicon", "Fd-3m", (5.431,), ("Si",), ((0, 0, 0),), 1.12, (165.7, 63.9, 79.6)
    ),
    Crystal(
        "mp-32", "germanium", "Fd-3m", (5.658,), ("Ge",), ((0, 0, 0),), 0.66, (128.5, 48.3, 66.8)
    ),
    _zb("mp-2534", "gallium arsenide", 5.653, "Ga", "As", 1.42, (118.8, 53.8, 59.4)),
    _zb("mp-20351", "indium phosphide", 5.869, "In", "P", 1.34, (101.1, 56.1, 45.6)),
    _zb("mp-2490", "gallium phosphide", 5.451, "Ga", "P", 2.26, (140.5, 62.0, 70.3)),
    _zb("mp-2172", "aluminium arsenide", 5.661, "Al", "As", 2.16, (119.9, 57.5, 56.6)),
    _zb("mp-1550", "aluminium phosphide", 5.463, "Al", "P", 2.45),
    _zb("mp-1156", "gallium antimonide", 6.096, "Ga", "Sb", 0.73, (88.4, 40.3, 43.2)),
    _zb("mp-20012", "indium antimonide", 6.479, "In", "Sb", 0.17, (66.7, 36.5, 30.2)),
    _zb("mp-20305", "indium arsenide", 6.058, "In", "As", 0.35, (83.3, 45.3, 39.6)),
    _zb("mp-10695", "zinc sulfide (sphalerite)", 5.409, "Zn", "S", 3.68, (104.6, 65.3, 46.3)),
    _zb("mp-1190", "zinc selenide", 5.668, "Zn", "Se", 2.70, (85.9, 50.6, 40.6)),
    _zb("mp-2176", "zinc telluride", 6.101, "Zn", "Te", 2.26, (71.1, 40.7, 31.3)),
    _zb("mp-406", "cadmium telluride", 6.481, "Cd", "Te", 1.50, (53.5, 36.5, 19.9)),
    _zb("mp-8062", "silicon carbide (3C)", 4.360, "Si", "C", 2.36, (390.0, 142.0, 256.0)),
    _rs("mp-22862", "sodium chloride (rock salt)", 5.640, "Na", "Cl", 8.5, (49.5, 12.9, 12.7)),
    _rs("mp-1265", "magnesium oxide (periclase)", 4.212, "Mg", "O", 7.8, (297.0, 95.0, 156.0)),
    _rs("mp-1138", "lithium fluoride", 4.027, "Li", "F", 13.6, (113.9, 47.7, 63.5)),
    _rs("mp-23193", "potassium chloride (sylvite)", 6.293, "K", "Cl", 8.4, (40.5, 6.9, 6.3)),
    _rs("mp-19717", "lead telluride", 6.462, "Pb", "Te", 0.31, (108.0, 7.7, 13.4)),
    _rs("mp-21276", "lead sulfide (galena)", 5.936, "Pb", "S", 0.41, (127.0, 29.8, 24.8)),
    Crystal(
        "mp-22865",
        "caesium chloride",
        "Pm-3m",
        (4.123,),
        ("Cs", "Cl"),
        ((0, 0, 0), (0.5, 0.5, 0.5)),
        8.3,
        (36.6, 8.8, 8.0),
    ),
    Crystal(
        "mp-2741",
        "calcium fluoride (fluorite)",
        "Fm-3m",
        (5.463,),
        ("Ca", "F"),
        ((0, 0, 0), (0.25, 0.25, 0.25)),
        12.0,
        (165.0, 46.0, 33.9),
    ),
    Crystal(
        "mp-1029",
        "barium fluoride",
        "Fm-3m",
        (6.200,),
        ("Ba", "F"),
        ((0, 0, 0), (0.25, 0.25, 0.25)),
        11.0,
        (91.1, 41.2, 25.3),
    ),
    Crystal(
        "mp-1597",
        "uranium dioxide (radioactive: screened out)",
        "Fm-3m",
        (5.470,),
        ("U", "O"),
        ((0, 0, 0), (0.25, 0.25, 0.25)),
        2.1,
    ),
    Crystal(
        "mp-5229",
        "strontium titanate (perovskite)",
        "Pm-3m",
        (3.905,),
        ("Sr", "Ti", "O"),
        ((0, 0, 0), (0.5, 0.5, 0.5), (0, 0.5, 0.5)),
        3.25,
        (317.0, 102.0, 123.0),
    ),
    Crystal(
        "mp-361",
        "cuprite",
        "Pn-3m",
        (4.270,),
        ("Cu", "O"),
        ((0.25, 0.25, 0.25), (0.0, 0.0, 0.0)),
        2.17,
        (121.0, 105.0, 10.9),
    ),
    # pymatgen's Fd-3m setting is origin choice 1: Mg 8a (0,0,0), Al 16d (5/8,5/8,5/8), O 32e.
    Crystal(
        "mp-3536",
        "magnesium aluminate (spinel)",
        "Fd-3m",
        (8.083,),
        ("Mg", "Al", "O"),
        ((0.0, 0.0, 0.0), (0.625, 0.625, 0.625), (0.3874, 0.3874, 0.3874)),
        7.8,
        (282.0, 155.0, 154.0),
    ),
    Crystal(
        "mp-134",
        "aluminium (metal)",
        "Fm-3m",
        (4.050,),
        ("Al",),
        ((0, 0, 0),),
        0.0,
        (107.3, 60.9, 28.3),
    ),
    Crystal(
        "mp-30",
        "copper (metal)",
        "Fm-3m",
        (3.615,),
        ("Cu",),
        ((0, 0, 0),),
        0.0,
        (168.4, 121.4, 75.4),
    ),
    Crystal(
        "mp-91",
        "tungsten (metal)",
        "Im-3m",
        (3.165,),
        ("W",),
        ((0, 0, 0),),
        0.0,
        (522.4, 204.4, 160.6),
    ),
    _wz("mp-804", "gallium nitride (wurtzite)", 3.189, 5.185, 0.377, "Ga", "N", 3.4),
    _wz("mp-2133", "zinc oxide (wurtzite)", 3.250, 5.207, 0.382, "Zn", "O", 3.37),
    _wz("mp-661", "aluminium nitride (wurtzite)", 3.112, 4.982, 0.382, "Al", "N", 6.2),
    _wz("mp-672", "cadmium sulfide (wurtzite)", 4.136, 6.714, 0.377, "Cd", "S", 2.42),
    Crystal(
        "mp-2657",
        "titanium dioxide (rutile)",
        "P4_2/mnm",
        (4.594, 2.959),
        ("Ti", "O"),
        ((0, 0, 0), (0.305, 0.305, 0)),
        3.0,
    ),
    Crystal(
        "mp-856",
        "tin dioxide (cassiterite)",
        "P4_2/mnm",
        (4.737, 3.186),
        ("Sn", "O"),
        ((0, 0, 0), (0.307, 0.307, 0)),
        3.6,
    ),
    Crystal(
        "mp-1143",
        "aluminium oxide (corundum)",
        "R-3c",
        (4.759, 12.991),
        ("Al", "O"),
        ((0, 0, 0.3522), (0.3064, 0, 0.25)),
        8.8,
    ),
    Crystal(
        "mp-2815",
        "molybdenum disulfide (2H)",
        "P6_3/mmc",
        (3.160, 12.29),
        ("Mo", "S"),
        ((1 / 3, 2 / 3, 0.25), (1 / 3, 2 / 3, 0.621)),
        1.29,
    ),
)


def structure_of(crystal: Crystal) -> Structure:
    if len(crystal.lattice) == 1:
        lattice = Lattice.cubic(crystal.lattice[0])
    elif crystal.spacegroup.startswith("P4"):
        lattice = Lattice.tetragonal(*crystal.lattice)
    else:
        lattice = Lattice.hexagonal(*crystal.lattice)
    return Structure.from_spacegroup(crystal.spacegroup, lattice, crystal.species, crystal.coords)


def vrh_cubic(c11: float, c12: float, c44: float) -> tuple[float, float]:
    """Voigt-Reuss-Hill K and G (GPa) of a cubic crystal."""
    k = (c11 + 2 * c12) / 3
    g_voigt = (c11 - c12 + 3 * c44) / 5
    g_reuss = 5 / (4 / (c11 - c12) + 3 / c44)
    return k, (g_voigt + g_reuss) / 2


def write_sample(folder: Path) -> list[Path]:
    """Write structures/<id>.cif, summary.csv and literature.csv into `folder`."""
    structures = folder / "structures"
    structures.mkdir(parents=True, exist_ok=True)
    written = []
    for crystal in CRYSTALS:
        path = structures / f"{crystal.material_id}.cif"
        path.write_text(str(CifWriter(structure_of(crystal))), encoding="utf-8")
        written.append(path)
    with (folder / "summary.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["material_id", "name", "band_gap", "band_gap_source"])
        for c in CRYSTALS:
            out.writerow([c.material_id, c.name, c.band_gap, GAP_SOURCE])
    with (folder / "literature.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["material_id", "k_vrh", "g_vrh", "c11", "c12", "c44", "source"])
        for c in CRYSTALS:
            if c.cij:
                k, g = vrh_cubic(*c.cij)
                out.writerow([c.material_id, round(k, 1), round(g, 1), *c.cij, ELASTIC_SOURCE])
    return [*written, folder / "summary.csv", folder / "literature.csv"]
