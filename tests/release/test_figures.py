"""Figures that do not mislead: whole-atom bins, elements where the periodic table has them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from elastic_atlas.release.figures import (
    element_frequency,
    integer_bins,
    moduli_scatter,
    periodic_position,
)


@pytest.mark.parametrize(("largest", "width"), [(20, 1), (100, 1), (192, 2), (444, 5)])
def test_atoms_per_cell_bins_hold_whole_numbers_of_atoms(largest, width):
    edges = integer_bins(np.array([1, 7, largest]))
    steps = np.diff(edges)
    assert np.all(steps == width) and edges[0] == 0.5
    assert np.all((edges - 0.5) % 1 == 0)  # every edge between two integers
    assert edges[-1] >= largest and len(edges) <= 102


@pytest.mark.parametrize(
    ("symbol", "position"),
    [("H", (1, 1)), ("He", (1, 18)), ("Fe", (4, 8)), ("O", (2, 16)), ("La", (8, 3)),
     ("Lu", (8, 17)), ("U", (9, 6)), ("Cs", (6, 1))],
)  # fmt: skip
def test_elements_sit_where_the_periodic_table_has_them(symbol, position):
    assert periodic_position(symbol) == position


def test_the_figures_are_written(tmp_path):
    frame = pd.DataFrame({
        "elements": ["O Si", "Ga As", "Na Cl", "O Ti"],
        "g_vrh": [30.0, 45.0, 15.0, 90.0], "k_vrh": [40.0, 65.0, 25.0, 200.0],
        "crystal_system": ["trigonal", "cubic", "cubic", "tetragonal"],
    })  # fmt: skip
    written = element_frequency(frame, "T", tmp_path) + moduli_scatter(frame, "T", tmp_path)
    assert {p.name for p in written} == {"element_frequency.png", "element_frequency.svg",
                                         "bulk_vs_shear.png", "bulk_vs_shear.svg"}  # fmt: skip
    svg = (tmp_path / "bulk_vs_shear.svg").read_text()
    assert "B/G = 1.75" in svg and "T: bulk vs shear modulus" in svg
