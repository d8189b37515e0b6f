from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymatgen.core import DummySpecies, Lattice, Structure
from structures import BAD_CIFS, cif_text, diamond, p1_cif, rock_salt

from elastic_atlas.contract.reasons import StructureRejected
from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.model.graph import (
    GraphParameters,
    SparseNeighborsWarning,
    build_graph,
)


def test_rock_salt_graph():
    graph = build_graph(rock_salt())
    assert graph.neighbor_index.shape == (8, 12) and graph.neighbor_distance.dtype == np.float32
    # Each ion: 6 unlike neighbours at a/2 = 2.82 Å, then 12 like ones at a/√2 = 3.99 Å.
    first = graph.neighbor_distance[0]
    np.testing.assert_allclose(first[:6], 2.82, atol=1e-5)
    np.testing.assert_allclose(first[6:], 5.64 / np.sqrt(2), atol=1e-5)
    assert np.all(np.diff(graph.neighbor_distance, axis=1) >= -1e-6)
    assert list(graph.atomic_numbers) == [11] * 4 + [17] * 4
    assert graph.padded_atoms == 0


def test_graph_is_deterministic_and_parameterised():
    a, b = build_graph(diamond()), build_graph(diamond())
    np.testing.assert_array_equal(a.neighbor_index, b.neighbor_index)
    small = build_graph(diamond(), GraphParameters(radius=4.0, max_neighbors=4))
    assert small.neighbor_index.shape == (8, 4)
    np.testing.assert_allclose(small.neighbor_distance, 3.567 * np.sqrt(3) / 4, atol=1e-5)


def test_sparse_atoms_are_padded_as_the_reference_does():
    lonely = Structure(Lattice.cubic(7.0), ["Na"], [[0, 0, 0]])  # 6 neighbours at 7 Å
    with pytest.warns(SparseNeighborsWarning):
        graph = build_graph(lonely)
    assert list(graph.neighbor_index[0]) == [0] * 12
    np.testing.assert_allclose(graph.neighbor_distance[0, :6], 7.0, atol=1e-5)
    np.testing.assert_allclose(graph.neighbor_distance[0, 6:], 9.0)
    assert graph.padded_atoms == 1


@pytest.mark.parametrize(
    ("structure", "reason"),
    [
        (Structure(Lattice.cubic(20.0), ["Na"], [[0, 0, 0]]), "isolated_atom"),
        (Structure(Lattice.cubic(5.0), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]]), "partial_occupancy"),
        (
            Structure(Lattice.cubic(5.0), [DummySpecies("X"), "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
            "unknown_element",
        ),
        (Structure(Lattice([[1, 0, 0], [0, 1, 0], [1, 1, 0]]), ["Na"], [[0, 0, 0]]), "bad_cell"),
    ],
)
def test_unusable_structures_are_rejected(structure, reason):
    with pytest.raises(StructureRejected) as caught:
        build_graph(structure)
    assert caught.value.reason == reason


@pytest.mark.parametrize("name", sorted(BAD_CIFS))
def test_bad_cif_texts_are_rejected_with_their_reason(name):
    text, reason = BAD_CIFS[name]
    with pytest.raises(StructureRejected) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_graph(parse_cif(text))
    assert caught.value.reason == reason


def test_fast_p1_reader_matches_pymatgen():
    text = p1_cif(4.0, [("Cs", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)])
    ours = parse_cif(text)
    theirs = Structure.from_str(text, fmt="cif")
    assert [s.specie for s in ours] == [s.specie for s in theirs]
    np.testing.assert_allclose(ours.frac_coords, theirs.frac_coords)
    assert ours.volume == pytest.approx(theirs.volume)


def test_cif_with_symmetry_operations_goes_through_pymatgen():
    ours = parse_cif(cif_text(rock_salt(), symprec=0.1))  # written with Fm-3m operations
    assert len(ours) == 8 and ours.composition.reduced_formula == "NaCl"
