"""Atom feature tables: `table[Z]` is the input vector of element Z (row 0 and unknown Z unused).

Two sources: the reference CGCNN `atom_init.json` (for reference checkpoints; never
redistributed here) and the project's own table, generated from pymatgen's element data with the
one-hot binning CGCNN describes, covering Z = 1-100 and stored inside every own checkpoint.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_Z = 100
NOBLE_GASES = (0, 2, 10, 18, 36, 54, 86, 118)


@dataclass(frozen=True)
class FeatureTable:
    """Element feature vectors (float32, shape (MAX_Z + 1, length)) and which Z are known."""

    values: np.ndarray
    known: np.ndarray  # bool, shape (MAX_Z + 1,)
    source: str

    @property
    def length(self) -> int:
        return int(self.values.shape[1])

    def unknown_elements(self, atomic_numbers: np.ndarray) -> list[int]:
        z = np.asarray(atomic_numbers)
        outside = (z < 0) | (z > MAX_Z)
        bad = outside | ~self.known[np.clip(z, 0, MAX_Z)]
        return sorted({int(v) for v in z[bad]})


def load_atom_init(path: Path) -> FeatureTable:
    """The reference `atom_init.json`: {"Z": [features...]}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    length = len(next(iter(data.values())))
    values = np.zeros((MAX_Z + 1, length), dtype=np.float32)
    known = np.zeros(MAX_Z + 1, dtype=bool)
    for key, vector in data.items():
        z = int(key)
        if 1 <= z <= MAX_Z:
            values[z] = np.asarray(vector, dtype=np.float32)
            known[z] = True
    return FeatureTable(values, known, f"atom_init.json ({Path(path).name})")


# ------------------------------------------------------------------ the project's own table
# (name, number of bins, low, high, log10 scale); values outside [low, high] go to the edge bins.
CONTINUOUS_FEATURES = (
    ("electronegativity_pauling", 10, 0.5, 4.0, False),
    ("covalent_radius_angstrom", 10, 0.25, 2.5, False),
    ("first_ionization_energy_ev", 10, math.log10(3.0), math.log10(25.0), True),
    ("electron_affinity_ev", 10, -3.0, 3.7, False),
    ("atomic_volume_cm3_per_mol", 10, 0.5, 2.0, True),
)
CATEGORICAL_FEATURES = (("group", 18), ("period", 7), ("valence_electrons", 12), ("block", 4))
BLOCKS = ("s", "p", "d", "f")


def one_hot(index: int | None, size: int) -> np.ndarray:
    vector = np.zeros(size, dtype=np.float32)
    if index is not None:
        vector[min(max(index, 0), size - 1)] = 1.0
    return vector


def binned(value: float | None, bins: int, low: float, high: float, log: bool) -> np.ndarray:
    """One-hot of `value` among `bins` equal-width bins over [low, high]; zeros when unknown."""
    if value is None or not math.isfinite(value) or (log and value <= 0):
        return one_hot(None, bins)
    x = math.log10(value) if log else value
    return one_hot(int((x - low) / (high - low) * bins), bins)


def element_properties(z: int) -> dict[str, float | int | str | None]:
    """The raw pymatgen properties of element Z used by the own feature table."""
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
    from pymatgen.core import Element

    element = Element.from_Z(z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about missing data for heavy elements
        electronegativity = element.X
        affinity = _or_none(lambda: element.electron_affinity)
        ionization = _or_none(lambda: element.ionization_energies[0])
        molar_volume = _or_none(lambda: float(element.molar_volume))
    core = max(n for n in NOBLE_GASES if n < z) if z > 2 else 0
    return {
        "group": element.group,
        "period": element.row,
        "valence_electrons": z - core,
        "block": element.block,
        "electronegativity_pauling": electronegativity,
        "covalent_radius_angstrom": CovalentRadius.radius.get(element.symbol),
        "first_ionization_energy_ev": ionization,
        "electron_affinity_ev": affinity,
        "atomic_volume_cm3_per_mol": molar_volume,
    }


def _or_none(getter):  # type: ignore[no-untyped-def]
    try:
        value = getter()
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
    return None if value is None else float(value)


def element_vector(z: int) -> np.ndarray:
    props = element_properties(z)
    parts = [
        one_hot(int(props["group"]) - 1, 18),
        one_hot(int(props["period"]) - 1, 7),
        one_hot(int(props["valence_electrons"]) - 1, 12),
        one_hot(BLOCKS.index(str(props["block"])), 4),
    ]
    for name, bins, low, high, log in CONTINUOUS_FEATURES:
        parts.append(binned(props[name], bins, low, high, log))  # type: ignore[arg-type]
    return np.concatenate(parts)


def own_feature_table() -> FeatureTable:
    """The project's element features for Z = 1-100 (91 one-hot features per element)."""
    vectors = [element_vector(z) for z in range(1, MAX_Z + 1)]
    values = np.zeros((MAX_Z + 1, len(vectors[0])), dtype=np.float32)
    values[1:] = np.stack(vectors)
    known = np.ones(MAX_Z + 1, dtype=bool)
    known[0] = False
    return FeatureTable(values, known, "elastic-atlas own element features v1")


def feature_layout() -> list[dict[str, object]]:
    """Human-readable description of the own table's columns, stored in model.json."""
    layout: list[dict[str, object]] = [
        {"feature": name, "kind": "one-hot", "length": size} for name, size in CATEGORICAL_FEATURES
    ]
    layout += [
        {
            "feature": name,
            "kind": "binned",
            "length": bins,
            "low": low,
            "high": high,
            "scale": "log10" if log else "linear",
        }
        for name, bins, low, high, log in CONTINUOUS_FEATURES
    ]
    return layout


def unfeaturized(atomic_numbers: np.ndarray, tables: list[tuple[str, FeatureTable]]) -> str:
    """'' when every element has features in every (name, table); else which are missing."""
    from pymatgen.core import Element

    for name, table in tables:
        unknown = table.unknown_elements(atomic_numbers)
        if unknown:
            symbols = ", ".join(Element.from_Z(z).symbol for z in unknown if 0 < z < 119)
            return f"no features for {symbols} in {name}"
    return ""
