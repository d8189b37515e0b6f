from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from checkpoint_factory import make_own
from click.testing import CliRunner
from pymatgen.core import Structure
from structures import BAD_CIFS, cif_text, cubic_crystal, diamond, rock_salt

from elastic_atlas.cli import main
from elastic_atlas.inputs.sources import load_summary

FIXTURES = Path(__file__).parents[1] / "fixtures"


def uranium_dioxide() -> Structure:
    return cubic_crystal("Fm-3m", 5.47, ("U", "O"), ((0, 0, 0), (0.25, 0.25, 0.25))).copy()


@pytest.fixture
def inputs(tmp_path):
    """Two structure sources and a summary exercising every reason (a truncated zip lies beside
    them for the tests that expect a build to stop on it)."""
    make_own(tmp_path / "model")
    folder = tmp_path / "cifs"
    folder.mkdir()
    good = {
        "mp-1": rock_salt(),
        "mp-2": diamond(),
        "mp-20": uranium_dioxide(),
        "mp-31": rock_salt(6.0),
        "mp-40": rock_salt(5.5),
        "mp-41": rock_salt(5.6),
        "mp-50": diamond(),
    }
    for name, structure in good.items():
        (folder / f"{name}.cif").write_text(cif_text(structure))
    bad_ids = {}
    for i, (_, (text, reason)) in enumerate(sorted(BAD_CIFS.items())):
        bad_ids[f"mp-{100 + i}"] = reason
        (folder / f"mp-{100 + i}.cif").write_text(text)
    second = tmp_path / "second.zip"
    with zipfile.ZipFile(second, "w") as archive:
        archive.writestr("mp-1.cif", cif_text(rock_salt()))  # duplicate of the first source
        archive.writestr("mp-60.cif", cif_text(diamond()))
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        archive.writestr("mp-70.cif", cif_text(diamond()))
    (tmp_path / "cut.zip").write_bytes(whole.read_bytes()[:50])
    rows = [
        ("mp-1", 2.0),
        ("mp-2", 1.1),
        ("mp-20", 2.1),
        ("mp-40", "nan"),
        ("mp-41", ""),
        ("mp-50", 5.5),
        ("mp-60", 1.5),
        ("mp-99", 1.0),
    ]
    rows += [(mid, 1.0) for mid in bad_ids]
    summary = tmp_path / "summary.csv"
    summary.write_text("material_id,band_gap\n" + "".join(f"{m},{g}\n" for m, g in rows))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("""
table = "mped"
[[structures]]
path = "cifs"
source = "folder"
licence = "CC-BY-4.0"
[[structures]]
path = "second.zip"
source = "second"
licence = "CC-BY-4.0"
[summary]
path = "summary.csv"
[models]
bulk = "model"
shear = "model"
""")
    expected = {
        "mp-1": "duplicate_id",
        "mp-20": "radioactive_element",
        "mp-31": "no_summary_row",
        "mp-40": "band_gap_unknown",
        "mp-41": "band_gap_unknown",
        "mp-50": "band_gap_outside_window",
        "mp-99": "no_structure",
        **bad_ids,
    }
    return recipe, expected


def run_build(recipe, out, *extra):
    result = CliRunner().invoke(
        main, ["build", str(recipe), "-o", str(out), "--quiet", "--workers", "0", *extra]
    )
    assert result.exit_code == 0, result.output
    return result


def test_every_bad_input_ends_in_rejects_with_its_reason(inputs, tmp_path):
    recipe, expected = inputs
    out = tmp_path / "out"
    result = run_build(recipe, out)
    table = pd.read_csv(out / "mped.csv")
    assert table.material_id.tolist() == ["mp-1", "mp-2", "mp-60"]  # sorted, the good ones
    rejects = pd.read_csv(out / "rejects.csv")
    assert list(rejects.columns) == ["table", "material_id", "source", "stage", "reason", "detail"]
    found = dict(zip(rejects.material_id, rejects.reason, strict=False))
    assert found == expected
    duplicate = rejects[rejects.reason == "duplicate_id"].iloc[0]
    assert duplicate.source == "second"  # the second occurrence is the one rejected
    summary = json.loads((out / "summary.json").read_text())
    n_screened = sum(summary["screened_out"].values())
    n_rejected = sum(summary["rejected"].values())
    assert summary["inputs"] == summary["accepted"] + n_screened + n_rejected
    assert summary["inputs"] == len(table) + len(rejects)
    assert summary["screened_out"] == {
        "band_gap_outside_window": 1,
        "band_gap_unknown": 2,
        "radioactive_element": 1,
    }
    assert "screened out" in result.output


def test_gap_policy_include_keeps_unknown_gaps_as_null(inputs, tmp_path):
    recipe, _ = inputs
    out = tmp_path / "out"
    result = run_build(recipe, out, "--gap-policy", "include")
    table = pd.read_csv(out / "mped.csv")
    assert {"mp-40", "mp-41"} <= set(table.material_id)
    assert table.set_index("material_id").loc[["mp-40", "mp-41"], "band_gap"].isna().all()
    assert "2 rows have no band gap" in result.output


def test_built_tables_validate_strictly(inputs, tmp_path):
    recipe, _ = inputs
    out = tmp_path / "out"
    run_build(recipe, out)
    for name in ("mped.csv", "mped.parquet"):
        check = CliRunner().invoke(
            main, ["validate", str(out / name), "--strict", "--schema", "mped"]
        )
        assert check.exit_code == 0, check.output


def test_symmetry_is_computed_when_the_summary_has_none(inputs, tmp_path):
    recipe, _ = inputs
    out = tmp_path / "out"
    run_build(recipe, out)
    table = pd.read_csv(out / "mped.csv").set_index("material_id")
    assert table.loc["mp-2", "space_group_number"] == 227
    assert table.loc["mp-2", "crystal_system"] == "cubic"
    assert table.loc["mp-2", "nsites"] == 8 and table.loc["mp-2", "elements"] == "C"
    # two members in the test checkpoint, calibrated with a = 0.05: u = √(a² + (b·s)²) ≥ a,
    # and above a wherever the members disagree
    uncertainty = table[["k_vrh_uncertainty", "g_vrh_uncertainty"]]
    assert (uncertainty >= 0.05 - 1e-4).all().all() and (uncertainty > 0.0501).any().any()


def test_gnome_summary_layout():
    summary = load_summary(FIXTURES / "gnome_summary.csv")
    assert summary["00000000a1"] == {
        "formula": "NaCl",
        "band_gap": 5.1,
        "crystal_system": "cubic",
        "space_group_number": 225,
    }
    assert summary["00000000b2"]["band_gap"] is None
