"""The DFT cross-check: DFT moduli beside predictions, in_training from the model card, and
DFT tables that cannot be trusted refused before any model runs."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from checkpoint_factory import make_own
from click.testing import CliRunner
from structures import cif_text, diamond, rock_salt

from elastic_atlas.cli import main
from elastic_atlas.contract.dft import DftStatus
from elastic_atlas.inputs.sources import SourceError
from elastic_atlas.pipeline.crosscheck import read_dft_table

RECIPE = """table = "mped"
[[structures]]
path = "cifs"
source = "folder"
licence = "CC-BY-4.0"
[screen]
gap_policy = "include"
[models]
checkpoint = "model"
[dft]
path = "{dft}"
source = "a DFT table"
"""


def test_a_dft_table_is_read_with_unknown_cells_as_nan(tmp_path):
    path = tmp_path / "elastic.csv"
    path.write_text("material_id,formula,k_vrh,g_vrh\nmp-1,NaCl,24.5,14.1\nmp-2,C,,nan\n")
    table = read_dft_table(path)
    assert table["mp-1"] == (24.5, 14.1, DftStatus.OK)
    assert all(math.isnan(v) for v in table["mp-2"][:2])
    assert table["mp-2"][2] is DftStatus.REJECTED_MISSING_VALUE


BOUNDS_TABLE = """material_id,k_voigt,k_reuss,k_vrh,g_voigt,g_reuss,g_vrh
mp-1,25,24,24.5,15,13.2,14.1
mp-2,100,101,100.5,50,45,47.5
mp-3,100,95,97.5,5.6e13,45,2.8e13
mp-4,100,95,97.5,50,-1.2,24.4
mp-5,,,97.5,50,45,47.5
mp-6,0,0,0,10,9,9.5
"""


def test_dft_entries_that_fail_the_sanity_rule_keep_a_status_and_no_values(tmp_path):
    """Each rule of contract.dft, on a table with Voigt and Reuss bounds (as MP's has)."""
    path = tmp_path / "elastic.csv"
    path.write_text(BOUNDS_TABLE)
    table = read_dft_table(path)
    assert {m: e[2].value for m, e in table.items()} == {
        "mp-1": "ok",
        "mp-2": "rejected_voigt_below_reuss",
        "mp-3": "rejected_above_limit",
        "mp-4": "rejected_non_positive",
        "mp-5": "rejected_missing_bounds",
        "mp-6": "rejected_non_positive",
    }
    assert table["mp-1"][:2] == (24.5, 14.1)
    assert all(math.isnan(v) for m, e in table.items() if m != "mp-1" for v in e[:2])


def test_the_schema_lists_every_dft_status():
    from elastic_atlas.contract.schema import field_map, load_table_schema

    for table in ("mped", "ned"):
        enum = field_map(load_table_schema(table))["dft_status"]["constraints"]["enum"]
        assert enum == [s.value for s in DftStatus]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("material_id,k_vrh\nmp-1,24.5\n", "without column"),
        ("material_id,k_vrh,g_vrh\nmp-1,24.5,14\nmp-1,25,15\n", "appears twice"),
        ("material_id,k_vrh,g_vrh\n", "no rows"),
        (b"material_id,k_vrh,g_vrh\nmp-\xff,1,2\n", "cannot read"),
    ],
)
def test_a_dft_table_that_cannot_be_trusted_is_refused(tmp_path, text, message):
    path = tmp_path / "elastic.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(SourceError, match=message):
        read_dft_table(path)
    with pytest.raises(SourceError, match="cannot read"):
        read_dft_table(tmp_path / "missing.csv")


@pytest.fixture
def crosschecked(tmp_path):
    make_own(tmp_path / "model")
    model = tmp_path / "model"
    card = json.loads((model / "model.json").read_text())
    (model / "training-ids.csv").write_text(
        "mbid,material_id,split\nmb-1,mp-1,train\nmb-2,mp-2,validation\nmb-3,mp-3,test\n"
    )
    card["training"]["ids"] = {"file": "training-ids.csv"}
    (model / "model.json").write_text(json.dumps(card))
    (tmp_path / "cifs").mkdir()
    for name, structure in {"mp-1": rock_salt(), "mp-2": diamond(), "mp-3": rock_salt(6.0)}.items():
        (tmp_path / "cifs" / f"{name}.cif").write_text(cif_text(structure))
    (tmp_path / "elastic.csv").write_text("material_id,k_vrh,g_vrh\nmp-1,24.5,14.1\nmp-3,,\n")
    # mp-2 has no entry: dft_status no_entry; mp-3's entry is empty: rejected_missing_value
    (tmp_path / "recipe.toml").write_text(RECIPE.format(dft="elastic.csv"))
    return tmp_path


def test_rows_carry_dft_moduli_and_whether_they_were_trained_on(crosschecked):
    out = crosschecked / "out"
    result = CliRunner().invoke(
        main, ["build", str(crosschecked / "recipe.toml"), "-o", str(out), "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    for name in ("mped.csv", "mped.parquet"):
        table = (pd.read_csv if name.endswith("csv") else pd.read_parquet)(out / name)
        table = table.set_index("material_id")
        assert table.loc["mp-1", "k_vrh_dft"] == 24.5 and table.loc["mp-1", "g_vrh_dft"] == 14.1
        assert table.loc[["mp-2", "mp-3"], ["k_vrh_dft", "g_vrh_dft"]].isna().all().all()
        assert table["dft_status"].to_dict() == {
            "mp-1": "ok",
            "mp-2": "no_entry",
            "mp-3": "rejected_missing_value",
        }
        # train and validation entries are the training data; a test entry is not
        assert table["in_training"].map(bool).to_dict() == {
            "mp-1": True,
            "mp-2": True,
            "mp-3": False,
        }
        assert table.loc["mp-1", "k_vrh"] != 24.5  # the DFT value never replaces a prediction
    check = CliRunner().invoke(main, ["validate", str(out / "mped.csv"), "--schema", "mped"])
    # warnings (plausibility) may exit 1; errors may not: "0 error(s)", not "10 error(s)"
    assert check.exit_code in (0, 1) and re.search(r"(?<!\d)0 error\(s\)", check.output)


def test_a_missing_dft_table_stops_the_build(crosschecked):
    (crosschecked / "recipe.toml").write_text(RECIPE.format(dft="nowhere.csv"))
    out = crosschecked / "out"
    result = CliRunner().invoke(
        main, ["build", str(crosschecked / "recipe.toml"), "-o", str(out), "--workers", "0"]
    )
    assert result.exit_code == 2 and "nowhere.csv" in result.output
    assert not (out / "mped.csv").exists()


def test_the_predicted_vs_dft_figure_exists_only_with_dft_values(crosschecked, tmp_path):
    from elastic_atlas.release.figures import predicted_vs_dft

    out = crosschecked / "out"
    CliRunner().invoke(
        main, ["build", str(crosschecked / "recipe.toml"), "-o", str(out), "--workers", "0"]
    )
    frame = pd.read_parquet(out / "mped.parquet")
    (tmp_path / "figures").mkdir()
    written = predicted_vs_dft(frame, "T", tmp_path / "figures")
    assert sorted(p.name for p in written) == ["predicted_vs_dft.png", "predicted_vs_dft.svg"]
    assert all(p.stat().st_size > 1000 for p in written)
    assert predicted_vs_dft(frame.assign(k_vrh_dft=float("nan")), "T", tmp_path / "none") == []


def test_validate_refuses_a_dft_value_that_contradicts_its_status(crosschecked):
    """A rejected entry published as a number, or an ok without a value, is an error."""
    out = crosschecked / "out"
    CliRunner().invoke(
        main, ["build", str(crosschecked / "recipe.toml"), "-o", str(out), "--workers", "0"]
    )
    table = pd.read_csv(out / "mped.csv", dtype={"dft_status": str})
    forged = table.set_index("material_id")
    forged.loc["mp-3", "k_vrh_dft"] = 5.6e13  # rejected entry published as a number
    forged.loc["mp-1", "g_vrh_dft"] = None  # ok without its value
    forged.reset_index().to_csv(out / "forged.csv", index=False, lineterminator="\n")
    check = CliRunner().invoke(main, ["validate", str(out / "forged.csv"), "--schema", "mped"])
    assert check.exit_code == 1
    assert "k_vrh_dft = 5.6e+13 does not fit dft_status = rejected_missing_value" in check.output
    assert "g_vrh_dft = null does not fit dft_status = ok" in check.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("material_id,k_vrh,g_vrh\nmp-1,24.5,14.1,99\n", "line 2 has 4 cells"),
        ("material_id,k_vrh,k_vrh,g_vrh\nmp-1,24.5,25,14.1\n", "appear more than once"),
        ("material_id,k_vrh,g_vrh\nmp-1,24500,14100\nmp-2,98000,66000\n", "MPa"),
    ],
)
def test_a_dft_table_is_read_as_meant_or_refused(tmp_path, text, message):
    path = tmp_path / "elastic.csv"
    path.write_text(text)
    with pytest.raises(SourceError, match=message):
        read_dft_table(path)


def test_a_dft_table_written_by_excel_keeps_its_first_column(tmp_path):
    path = tmp_path / "elastic.csv"
    path.write_bytes("material_id,k_vrh,g_vrh\r\nmp-1,24.5,14.1\r\n".encode("utf-8-sig"))
    assert read_dft_table(path)["mp-1"] == (24.5, 14.1, DftStatus.OK)


def test_a_dft_table_that_matches_no_row_is_a_warning_with_counts(crosschecked):
    (crosschecked / "elastic.csv").write_text("material_id,k_vrh,g_vrh\nmvc-1,24.5,14.1\n")
    out = crosschecked / "out"
    result = CliRunner().invoke(
        main, ["build", str(crosschecked / "recipe.toml"), "-o", str(out), "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "matches none of the 3 rows' material ids" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert "every dft_status is no_entry" in summary["warnings"][0]
