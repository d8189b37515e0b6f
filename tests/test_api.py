"""The Python API on the sample release: load, look up, structures, validate — and a row's
prediction rebuilt from its shipped structure."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import elastic_atlas as ea
from elastic_atlas.api import ReleaseNotFound, parse_formula, reduced_composition

VERSION = "0.1.0+sample"


@pytest.fixture(scope="module")
def release(released):
    return released / "releases" / VERSION


def test_the_api_is_in_the_public_namespace():
    for name in ("load", "load_arrow", "lookup", "structures", "tables", "validate"):
        assert callable(getattr(ea, name))
    with pytest.raises(AttributeError):
        ea.no_such_thing  # noqa: B018


def test_load_gives_the_table_with_its_units(release):
    frame = ea.load("mped", release=release)
    assert len(frame) == len(pd.read_parquet(release / "mped.parquet"))
    assert frame.attrs["units"]["k_vrh"] == "GPa" and frame.attrs["titles"]["k_vrh"] == "B"
    assert frame.attrs["licence"] == "CC-BY-4.0" and frame.attrs["version"] == VERSION
    some = ea.load("mped", release / "datapackage.json", columns=["material_id", "k_vrh"],
                   filters=[("k_vrh", ">", 100)])  # fmt: skip
    assert list(some.columns) == ["material_id", "k_vrh"] and (some.k_vrh > 100).all()
    assert ea.load_arrow("mped", release).num_rows == len(frame)
    assert ea.tables(release) == ["mped"]
    with pytest.raises(ReleaseNotFound, match="no table 'ned'"):
        ea.load("ned", release)
    with pytest.raises(ReleaseNotFound, match=r"no datapackage\.json"):
        ea.load("mped", release / "figures")


@pytest.mark.parametrize(
    ("formula", "expected"),
    [("SiO2", (("O", 2.0), ("Si", 1.0))), ("O4Si2", (("O", 2.0), ("Si", 1.0))),
     ("Ce(P3Ru)4", (("Ce", 1.0), ("P", 12.0), ("Ru", 4.0))), ("Fe2O3", (("Fe", 2.0), ("O", 3.0)))],
)  # fmt: skip
def test_formulas_compare_in_any_order_reduced_or_not(formula, expected):
    assert reduced_composition(formula) == expected


@pytest.mark.parametrize("bad", ["", "Si)2", "(Si", "si o", "Xx2$"])
def test_a_bad_formula_is_refused(bad):
    with pytest.raises(ValueError):
        parse_formula(bad)


def test_lookup_by_id_formula_elements_and_system(release):
    frame = ea.load("mped", release=release)
    gaas = frame[frame.formula == "GaAs"].material_id.item()
    assert ea.lookup("mped", release, material_id=gaas).formula.tolist() == ["GaAs"]
    assert ea.lookup("mped", release, formula="As2Ga2").material_id.tolist() == [gaas]
    assert ea.lookup("mped", release, chemsys="As-Ga").material_id.tolist() == [gaas]
    with_o = ea.lookup("mped", release, elements=["O"])
    assert len(with_o) and all("O" in e.split() for e in with_o.elements)
    both = ea.lookup("mped", release, elements=["O"], formula="TiO2")
    assert set(both.formula) == {"TiO2"}


def test_a_row_is_predicted_again_from_its_shipped_structure(release):
    """Same structure, same graph, same prediction: the file is what the row was made from."""
    from elastic_atlas.model.graph import build_graph
    from elastic_atlas.model.loading import load_checkpoint

    frame = ea.load("mped", release=release).set_index("material_id")
    material_id = frame.index[3]
    structure = ea.structures("mped", [material_id], release=release)[material_id]
    assert len(structure) == frame.loc[material_id, "nsites"]
    assert structure.volume == pytest.approx(frame.loc[material_id, "volume"], rel=1e-12)
    checkpoint = load_checkpoint(next((release / "models").iterdir()))
    values = checkpoint.predict_graphs([build_graph(structure, checkpoint.graph)])[0][0]
    # float32 inference: a batch of one differs from the build's batches by < 1e-6 in log10
    assert values[0] == pytest.approx(np.log10(frame.loc[material_id, "k_vrh"]), abs=1e-6)
    assert values[1] == pytest.approx(np.log10(frame.loc[material_id, "g_vrh"]), abs=1e-6)
    shipped = pd.read_parquet(release / "mped-structures.parquet")
    assert shipped.material_id.tolist() == sorted(frame.index)


def test_structures_as_ase_atoms(release):
    pytest.importorskip("ase")
    atoms = ea.structures("mped", ["mp-149"], release=release, ase=True)["mp-149"]
    assert set(atoms.get_chemical_symbols()) == {"Si"}


def test_validate_returns_findings_as_objects(release, tmp_path):
    assert all(f.severity == "warning" for f in ea.validate(release))
    copy = tmp_path / "copy"
    shutil.copytree(release, copy)
    table = pd.read_csv(copy / "mped.csv")
    table.loc[0, "v_mean"] *= 1.5
    table.to_csv(copy / "mped.csv", index=False)
    errors = [f for f in ea.validate(copy) if f.severity == "error"]
    (v_mean,) = [f for f in errors if f.check == "consistency.v_mean" and f.row == 1]
    assert v_mean.material_id == table.material_id[0] and v_mean.columns[0] == "v_mean"


def test_the_api_reads_through_the_releases_folder_descriptor(released):
    """`releases/datapackage.json` points at the current version: the API follows it."""
    folder = released / "releases"
    assert len(ea.load("mped", release=folder)) > 10
    assert (
        ea.structures("mped", ["mp-149"], release=folder)["mp-149"].composition.reduced_formula
        == "Si"
    )
