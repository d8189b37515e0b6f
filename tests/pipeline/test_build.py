from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.inputs.sources import load_summary

FIXTURES = Path(__file__).parents[1] / "fixtures"


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
