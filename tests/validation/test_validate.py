from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.contract import physics
from elastic_atlas.contract.risk import HIGH_UNCERTAINTY
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.contract.settings import ValidationSettings
from elastic_atlas.inputs.synthetic import SYNTHETIC_K95, set_intervals, synthetic_table
from elastic_atlas.validation.package import validate_table_file

SETTINGS = ValidationSettings.load()
STRICT = SETTINGS.strict_tolerance.value


def write(frame: pd.DataFrame, folder: Path, kind: str = "csv") -> Path:
    path = folder / f"table.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False, na_rep="NaN")  # NaN stays NaN, not an empty cell
    else:  # pandas would turn NaN into null; build the Arrow columns from numpy to keep NaN
        columns = {name: pa.array(frame[name].to_numpy(), from_pandas=False) for name in frame}
        pq.write_table(pa.table(columns), path)
    return path


def findings_of(frame, tmp_path, kind="csv", tolerance=STRICT, schema="mped", settings=SETTINGS):
    path = write(frame, tmp_path, kind)
    return validate_table_file(
        path,
        tolerance=tolerance,
        settings=settings,
        schema=load_table_schema(schema) if schema else None,
    )


def errors(findings):
    return [f for f in findings if f.severity == "error"]


@pytest.fixture
def table() -> pd.DataFrame:
    return synthetic_table(50, seed=3)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_consistent_table_has_no_findings(table, tmp_path, kind):
    assert findings_of(table, tmp_path, kind) == []


@pytest.mark.parametrize("column", physics.DERIVED_COLUMNS)
def test_one_percent_perturbation_gives_exactly_one_error(table, tmp_path, column):
    original = table.loc[7, column]
    table.loc[7, column] = original * 1.01
    found = errors(findings_of(table, tmp_path))
    assert len(found) == 1
    finding = found[0]
    assert finding.check == f"consistency.{column}"
    assert finding.columns[0] == column
    assert finding.row == 8 and finding.material_id == table.loc[7, "material_id"]
    assert finding.stored == pytest.approx(original * 1.01)
    assert finding.expected == pytest.approx(original, rel=1e-9)
    assert column in finding.message


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("k_vrh", -5.0, "schema.exclusiveMinimum"),
        ("g_vrh", 0.0, "schema.exclusiveMinimum"),
        ("poisson_ratio", 0.5, "schema.exclusiveMaximum"),
        ("poisson_ratio", 0.7, "schema.exclusiveMaximum"),
        ("poisson_ratio", -1.0, "schema.exclusiveMinimum"),
        ("density", np.nan, "bounds.finite"),
        ("k_vrh", np.inf, "bounds.finite"),
        ("debye_temperature", -np.inf, "bounds.finite"),
        ("space_group_number", 231, "schema.maximum"),
        ("space_group_number", 0, "schema.minimum"),
        ("nsites", 0, "schema.minimum"),
        ("crystal_system", "cubik", "schema.enum"),
        ("material_id", "xx-12", "schema.pattern"),
        ("elements", "O  Ti", "schema.pattern"),
        ("band_gap", -0.5, "schema.minimum"),
    ],
)
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_bad_cell_is_an_error(table, tmp_path, column, value, check, kind):
    if isinstance(value, str) or column in ("nsites", "space_group_number"):
        table[column] = table[column].astype(object)
    table.loc[4, column] = value
    found = errors(findings_of(table, tmp_path, kind))
    assert any(f.check == check and f.row == 5 and column in f.columns for f in found), found


def test_missing_required_value_is_an_error(table, tmp_path):
    table["formula"] = table["formula"].astype(object)
    table.loc[2, "formula"] = None
    table.loc[3, "k_vrh"] = np.nan
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)  # NaN is written as an empty cell: missing
    found = errors(
        validate_table_file(
            path, tolerance=STRICT, settings=SETTINGS, schema=load_table_schema("mped")
        )
    )
    assert {(f.check, f.row) for f in found} >= {("schema.required", 3), ("schema.required", 4)}


def test_band_gap_may_be_missing(table, tmp_path):
    table.loc[2, "band_gap"] = np.nan
    table.to_csv(tmp_path / "t.csv", index=False)  # an empty cell: missing, allowed
    found = validate_table_file(
        tmp_path / "t.csv", tolerance=STRICT, settings=SETTINGS, schema=load_table_schema("mped")
    )
    assert errors(found) == []


def test_text_in_number_column_is_a_type_error(table, tmp_path):
    table["k_vrh"] = table["k_vrh"].astype(object)
    table.loc[1, "k_vrh"] = "stiff"
    found = errors(findings_of(table, tmp_path))
    assert [(f.check, f.row, f.stored) for f in found] == [("schema.type", 2, "stiff")]


def test_fractional_integer_is_a_type_error(table, tmp_path):
    table["nsites"] = table["nsites"].astype(float)
    table.loc[1, "nsites"] = 2.5
    found = errors(findings_of(table, tmp_path))
    assert any(f.check == "schema.type" and f.columns == ["nsites"] for f in found)


def test_duplicate_id_is_an_error(table, tmp_path):
    table.loc[9, "material_id"] = table.loc[8, "material_id"]
    found = errors(findings_of(table, tmp_path))
    assert [(f.check, f.row) for f in found] == [("schema.unique", 10)]


def test_longitudinal_slower_than_transverse_is_an_error(table, tmp_path):
    table.loc[0, "v_longitudinal"] = 0.9 * table.loc[0, "v_transverse"]
    checks = {f.check for f in errors(findings_of(table, tmp_path))}
    assert "bounds.velocity_ratio" in checks


def test_mean_velocity_outside_its_bounds_is_an_error(table, tmp_path):
    table.loc[0, "v_mean"] = 1.01 * table.loc[0, "v_longitudinal"]
    checks = {f.check for f in errors(findings_of(table, tmp_path))}
    assert "bounds.velocity_order" in checks
    assert "bounds.velocity_ratio" not in checks


def test_missing_and_extra_columns_under_a_full_schema(table, tmp_path):
    table = table.drop(columns=["band_gap"]).assign(colour="red")
    checks = sorted(f.check for f in errors(findings_of(table, tmp_path)))
    assert checks == ["schema.extra_column", "schema.missing_column"]


def test_bare_table_is_checked_for_the_columns_it_has(table, tmp_path):
    bare = table[["material_id", "nsites", "volume", "mass", "k_vrh", "g_vrh", "v_mean"]].copy()
    assert findings_of(bare, tmp_path, schema=None) == []
    bare.loc[0, "v_mean"] *= 1.01
    assert [f.check for f in findings_of(bare, tmp_path, schema=None)] == ["consistency.v_mean"]


def test_plausibility_warnings_use_the_settings_file(table, tmp_path):
    assert findings_of(table, tmp_path) == []
    data = json.loads((Path(__file__).parents[2] / "validate" / "settings.json").read_text())
    data["modulus_max"]["value"] = 50.0
    data["density_max"]["value"] = 1.0
    custom = ValidationSettings.model_validate(data)
    found = findings_of(table, tmp_path, settings=custom)
    assert found and all(f.severity == "warning" for f in found)
    checks = {f.check for f in found}
    assert checks == {"plausibility.modulus_high", "plausibility.density_high"}
    many = int((table["k_vrh"] > 50).sum() + (table["g_vrh"] > 50).sum())
    many += int((table["density"] > 1.0).sum())
    assert len(found) == many


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("k_vrh", 700.0, "plausibility.modulus_high"),
        ("g_vrh", 0.5, "plausibility.modulus_low"),
        ("density", 30.0, "plausibility.density_high"),
    ],
)
def test_each_plausibility_rule_warns(table, tmp_path, column, value, check):
    table.loc[0, column] = value
    found = findings_of(table, tmp_path, schema=None, tolerance=1.0e9)
    assert check in [f.check for f in found if f.severity == "warning"]


def test_negative_poisson_and_pugh_warnings(tmp_path):
    # B = 20, G = 40 GPa: ν = (60 - 80)/(120 + 80) = -0.1, B/G = 0.5 -> auxetic, Pugh 0.5 ok;
    # B = 10, G = 40: B/G = 0.25 below 0.5.
    frame = synthetic_table(2, seed=1)
    frame["k_vrh"], frame["g_vrh"] = [20.0, 10.0], [40.0, 40.0]
    derived = physics.derive(frame.k_vrh, frame.g_vrh, frame.nsites, frame.volume, mass=frame.mass)
    for name, values in derived.items():
        frame[name] = values
    frame["risk_soft"] = True  # both moduli are below 32 GPa now
    set_intervals(frame)
    found = findings_of(frame, tmp_path)
    assert errors(found) == []
    assert sorted((f.row, f.check) for f in found) == [
        (1, "plausibility.poisson_ratio_low"),
        (2, "plausibility.poisson_ratio_low"),
        (2, "plausibility.pugh_ratio"),
    ]


def paper_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The study's appendix layout: its headers, three decimals, a different column order."""
    renamed = frame.rename(
        columns={
            "material_id": "ID-number",
            "formula": "Formula",
            "nsites": "N",
            "density": "rho",
            "volume": "V",
            "mass": "M",
            "k_vrh": "B",
            "g_vrh": "G",
            "v_longitudinal": "v_l",
            "v_transverse": "v_t",
            "v_mean": "v_s",
            "poisson_ratio": "nu",
            "debye_temperature": "theta_D",
        }
    )
    columns = [
        "ID-number",
        "Formula",
        "N",
        "rho",
        "V",
        "M",
        "G",
        "B",
        "v_l",
        "v_t",
        "v_s",
        "nu",
        "theta_D",
    ]
    return renamed[columns].round(3)


def test_paper_columns_rounded_table_passes_default_and_fails_strict(table, tmp_path):
    path = tmp_path / "paper.csv"
    paper_table(table).to_csv(path, index=False)
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", str(path), "--columns", "paper"])
    assert ok.exit_code == 0, ok.output
    strict = runner.invoke(main, ["validate", str(path), "--columns", "paper", "--strict"])
    assert strict.exit_code == 1
    assert "consistency." in strict.output


def test_cli_exit_codes_and_json_report(table, tmp_path):
    runner = CliRunner()
    good = write(table, tmp_path)
    result = runner.invoke(main, ["validate", str(good), "--strict"])
    assert result.exit_code == 0 and "VALID" in result.output
    table.loc[0, "v_mean"] *= 1.01
    bad = write(table, tmp_path)
    report = tmp_path / "report.json"
    result = runner.invoke(main, ["validate", str(bad), "--strict", "--json", str(report)])
    assert result.exit_code == 1 and "INVALID" in result.output
    findings = json.loads(report.read_text())["findings"]
    assert findings[0]["check"] == "consistency.v_mean" and findings[0]["row"] == 1
    assert set(findings[0]) == {
        "row",
        "resource",
        "material_id",
        "columns",
        "check",
        "severity",
        "stored",
        "expected",
        "message",
        "more",
    }
    missing = runner.invoke(main, ["validate", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    assert runner.invoke(main, ["validate", str(broken)]).exit_code == 2
    assert runner.invoke(main, ["validate", str(good), "--tolerance", "x"]).exit_code == 2


def test_tolerance_option_decides(table, tmp_path):
    table.loc[0, "debye_temperature"] *= 1.001
    path = write(table, tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    assert runner.invoke(main, ["validate", str(path), "--tolerance", "1e-4"]).exit_code == 1


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_risk_flag_that_contradicts_its_rule_is_an_error(table, tmp_path, kind):
    assert table.risk_soft.any() and not table.risk_soft.all()  # both kinds of row present
    row = int(table.index[table.risk_soft][0])
    table.loc[row, "risk_soft"] = False  # k_vrh < 32 GPa, yet not flagged
    found = errors(findings_of(table, tmp_path, kind))
    assert [(f.check, f.row) for f in found] == [("consistency.risk_soft", row + 1)]
    assert "risk_soft = false" in found[0].message and "gives true" in found[0].message


def test_the_uncertainty_flag_is_null_exactly_when_there_is_no_uncertainty(table, tmp_path):
    table = table.astype({"risk_high_uncertainty": object})
    table.loc[3, ["k_vrh_uncertainty", "g_vrh_uncertainty"]] = None
    table.loc[3, "risk_high_uncertainty"] = None  # right: nothing to judge
    table.loc[4, "risk_high_uncertainty"] = None  # wrong: the rule gives a value
    table.loc[5, ["k_vrh_uncertainty", "g_vrh_uncertainty"]] = None  # wrong: flag still set
    bounds = ["k_vrh_lower", "k_vrh_upper", "g_vrh_lower", "g_vrh_upper"]
    table.loc[[3, 5], bounds] = None  # no uncertainty, no interval
    frame = table.copy()
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False, na_rep="")
    found = validate_table_file(
        path, tolerance=STRICT, settings=SETTINGS, schema=load_table_schema("mped")
    )
    assert sorted((f.check, f.row) for f in errors(found)) == [
        ("consistency.risk_high_uncertainty", 5),
        ("consistency.risk_high_uncertainty", 6),
    ]


def test_a_boolean_column_holds_only_booleans(table, tmp_path):
    table = table.astype({"in_training": object})
    table.loc[2, "in_training"] = "yes"
    found = errors(findings_of(table, tmp_path))
    assert [(f.check, f.row, f.stored) for f in found] == [("schema.type", 3, "yes")]


def test_a_flag_at_its_threshold_is_judged_exactly_in_parquet_and_leniently_in_csv(tmp_path):
    from elastic_atlas.pipeline.tables import write_csv

    table = synthetic_table(10, seed=4)
    table["k_vrh_uncertainty"], table["g_vrh_uncertainty"] = 0.03, 0.03
    threshold = HIGH_UNCERTAINTY["k_vrh"]
    table.loc[2, "k_vrh_uncertainty"] = threshold + 4e-7  # the CSV keeps 4 digits: at it
    table["risk_high_uncertainty"] = False
    table.loc[2, "risk_high_uncertainty"] = True  # right, from the exact value
    set_intervals(table)
    write_csv(table, tmp_path / "table.csv", "mped")
    settings = {"tolerance": STRICT, "settings": SETTINGS, "schema": load_table_schema("mped")}
    assert errors(validate_table_file(tmp_path / "table.csv", **settings)) == []
    table.loc[2, "risk_high_uncertainty"] = False  # wrong, and Parquet keeps the exact value
    found = errors(findings_of(table, tmp_path, "parquet"))
    assert [(f.check, f.row) for f in found] == [("consistency.risk_high_uncertainty", 3)]


INTERVAL = ["k_vrh_lower", "k_vrh_upper", "g_vrh_lower", "g_vrh_upper"]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_95_percent_interval_is_recomputed(tmp_path, suffix):
    """B = 100 GPa, u = 0.05, k = 3: the interval is 100·10^(∓0.15) = 70.79… to 141.25… GPa
    (by hand: 10^0.15 = 1.41254). Rows 2-6 break it one way each and must each be an error."""
    frame = synthetic_table(7, seed=3)
    frame.loc[0, ["k_vrh_uncertainty"]] = 0.05
    set_intervals(frame)
    k0 = frame.loc[0, "k_vrh"]
    assert frame.loc[0, "k_vrh_upper"] / k0 == pytest.approx(1.4125375, rel=1e-7)
    assert frame.loc[0, "k_vrh_lower"] * frame.loc[0, "k_vrh_upper"] == pytest.approx(k0**2)
    frame.loc[1, "k_vrh_upper"] = frame.loc[1, "k_vrh"] * 0.99  # value above its upper bound
    frame.loc[2, "g_vrh_lower"] *= 1.01  # not symmetric in log10
    frame.loc[3, "k_vrh_lower"] = None  # half an interval
    frame.loc[4, INTERVAL[2:]] = None  # an uncertainty without its interval
    u = frame.loc[5, "k_vrh_uncertainty"]  # narrower than the 68 % interval: k = 0.5
    frame.loc[5, "k_vrh_lower"] = frame.loc[5, "k_vrh"] * 10 ** (-0.5 * u)
    frame.loc[5, "k_vrh_upper"] = frame.loc[5, "k_vrh"] * 10 ** (0.5 * u)
    frame.loc[6, ["k_vrh_uncertainty", "g_vrh_uncertainty"]] = None  # interval without u
    frame["risk_high_uncertainty"] = frame["risk_high_uncertainty"].astype(object)
    frame.loc[6, "risk_high_uncertainty"] = None
    path = tmp_path / f"table.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False, na_rep="")
    else:
        frame.to_parquet(path, index=False)
    found = validate_table_file(
        path, tolerance=STRICT, settings=SETTINGS, schema=load_table_schema("mped")
    )
    assert sorted({(f.check, f.row) for f in errors(found)}) == [
        ("consistency.g_vrh_interval", 3),
        ("consistency.g_vrh_interval", 5),
        ("consistency.g_vrh_interval", 7),
        ("consistency.k_vrh_interval", 2),
        ("consistency.k_vrh_interval", 4),
        ("consistency.k_vrh_interval", 6),
        ("consistency.k_vrh_interval", 7),
    ]


def test_the_interval_must_use_the_cards_k95(tmp_path):
    """With the model card's k95 at hand, an interval at another coverage factor is an error
    even when it is otherwise well formed; the card's own factor passes."""
    from elastic_atlas.contract.schema import field_map
    from elastic_atlas.model.calibration import Calibration
    from elastic_atlas.validation.interval_rules import check_intervals
    from elastic_atlas.validation.tableio import iter_arrow, type_table

    frame = synthetic_table(5, seed=4)
    path = tmp_path / "table.parquet"
    frame.to_parquet(path, index=False)
    schema = load_table_schema("mped")
    typed = type_table(path, next(iter_arrow(path)), field_map(schema))  # 5 rows: one chunk
    right = {t: Calibration(0.03, 1.0, SYNTHETIC_K95) for t in ("log10_k_vrh", "log10_g_vrh")}
    assert check_intervals(typed, schema, right) == []
    wrong = {**right, "log10_k_vrh": Calibration(0.03, 1.0, SYNTHETIC_K95 * 1.1)}
    found = check_intervals(typed, schema, wrong)
    assert {f.check for f in found} == {"consistency.k_vrh_interval"} and len(found) == 5


def _row_groups_of(path: Path, size: int) -> Path:
    """`path` (Parquet) rewritten with row groups of `size` rows."""
    pq.write_table(pq.read_table(path), path, row_group_size=size)
    return path


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_file_checked_a_chunk_at_a_time_gives_the_findings_of_the_whole(
    table, tmp_path, kind, monkeypatch
):
    """Issue 23: `validate` holds one chunk, not the table. With chunks of 7 rows, a duplicate
    of an id from an earlier chunk is still found, every finding keeps its row number in the
    file, and a column the schema lacks is said once, not once per chunk."""
    import elastic_atlas.validation.tableio as tableio

    table.loc[40, "material_id"] = table.loc[2, "material_id"]  # chunk 6 repeats chunk 1
    table.loc[33, "v_mean"] *= 1.01
    table = table.assign(colour="red")
    whole = [(f.check, f.row) for f in findings_of(table, tmp_path, kind)]
    assert ("schema.unique", 41) in whole and ("consistency.v_mean", 34) in whole
    monkeypatch.setattr(tableio, "CHUNK_ROWS", 7)
    path = write(table, tmp_path, kind)
    if kind == "parquet":
        _row_groups_of(path, 10)  # chunks cut inside row groups and at their ends
    chunked = validate_table_file(path, tolerance=STRICT, settings=SETTINGS,
                                  schema=load_table_schema("mped"))  # fmt: skip
    assert sorted((f.check, f.row) for f in chunked) == sorted(whole)
    assert [f.check for f in chunked].count("schema.extra_column") == 1


def test_an_empty_table_read_in_chunks_is_still_an_empty_table(table, tmp_path):
    for kind in ("csv", "parquet"):
        found = [f.check for f in findings_of(table.iloc[:0], tmp_path, kind=kind)]
        assert found.count("contract.empty_table") == 1


def test_failing_rows_beyond_the_kept_ones_are_counted_not_listed(table, tmp_path):
    """Every one of 50 rows fails the v_mean check: 7 are listed, one finding stands for the
    other 43 (`more`), the summary and the exit status count all 50, and 0 lists every one."""
    table["v_mean"] *= 1.01
    path = write(table, tmp_path)
    kept = validate_table_file(path, tolerance=STRICT, settings=SETTINGS,
                               schema=load_table_schema("mped"), keep_rows=7)  # fmt: skip
    listed = [f for f in kept if f.check == "consistency.v_mean"]
    assert [f.row for f in listed] == [1, 2, 3, 4, 5, 6, 7, None]
    assert listed[-1].more == 43 and "43 more row(s)" in listed[-1].message
    every = validate_table_file(path, tolerance=STRICT, settings=SETTINGS,
                                schema=load_table_schema("mped"), keep_rows=0)  # fmt: skip
    assert [f.row for f in every if f.check == "consistency.v_mean"] == list(range(1, 51))
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["validate", str(path), "--strict", "--keep-rows", "7",
                                       "--json", str(report)])  # fmt: skip
    assert result.exit_code == 1
    assert re.search(r"error\s+consistency\.v_mean\s+50\n", result.output)
    in_report = [f for f in json.loads(report.read_text())["findings"]
                 if f["check"] == "consistency.v_mean"]  # fmt: skip
    assert len(in_report) == 8 and sum(f["more"] or 1 for f in in_report) == 50
