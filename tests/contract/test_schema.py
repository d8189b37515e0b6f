from __future__ import annotations

from decimal import Decimal

import frictionless
import numpy as np
import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.contract.schema import TABLES, compose_table_schema, field_map, load_table_schema
from elastic_atlas.inputs.synthetic import synthetic_table

CONTRACT = [
    "material_id",
    "formula",
    "elements",
    "nelements",
    "chemsys",
    "nsites",
    "crystal_system",
    "space_group_number",
    "band_gap",
    "volume",
    "mass",
    "density",
    "k_vrh",
    "g_vrh",
    "k_vrh_uncertainty",
    "g_vrh_uncertainty",
    "k_vrh_lower",
    "k_vrh_upper",
    "g_vrh_lower",
    "g_vrh_upper",
    "v_longitudinal",
    "v_transverse",
    "v_mean",
    "poisson_ratio",
    "debye_temperature",
    "k_vrh_dft",
    "g_vrh_dft",
    "dft_status",
    "in_training",
    "risk_high_uncertainty",
    "risk_soft",
    "risk_low_density",
]
POSITIVE = [
    "volume",
    "mass",
    "density",
    "k_vrh",
    "g_vrh",
    "v_longitudinal",
    "v_transverse",
    "v_mean",
    "debye_temperature",
]
SYMBOLS = {
    "nsites": "N",
    "volume": "V",
    "mass": "M",
    "density": "ρ",
    "k_vrh": "B",
    "g_vrh": "G",
    "v_longitudinal": "v_l",
    "v_transverse": "v_t",
    "v_mean": "v_s",
    "poisson_ratio": "ν",
    "debye_temperature": "θ_D",
}
UNITS = {
    "volume": "Å^3",
    "mass": "u",
    "density": "g/cm^3",
    "k_vrh": "GPa",
    "g_vrh": "GPa",
    "v_longitudinal": "m/s",
    "v_transverse": "m/s",
    "v_mean": "m/s",
    "poisson_ratio": "1",
    "debye_temperature": "K",
    "nsites": "1",
    "band_gap": "eV",
}


def test_committed_schemas_are_composed_from_fields_json():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output


def test_checklist_formulas_reproduce_physics_and_a_stale_file_is_reported(monkeypatch, tmp_path):
    """Each row-constraint, evaluated as frictionless does (simpleeval, Decimal cells), holds for
    a physically consistent row and fails when one derived value is 1 % off."""
    import simpleeval

    from elastic_atlas.contract import checklist, physics

    row = {"k_vrh": 97.8, "g_vrh": 66.5, "nsites": 8, "volume": 160.1, "mass": 224.68}
    row.update(
        physics.derive(
            *(np.array([row[k]]) for k in ("k_vrh", "g_vrh", "nsites", "volume")),
            mass=[row["mass"]],
        )
    )
    cells = {k: Decimal(repr(float(np.ravel(v)[0]))) for k, v in row.items()}
    cells |= {"risk_soft": False, "risk_low_density": False}  # B = 97.8 GPa, ρ = 2.33 g/cm³
    cells["risk_low_density"] = True
    checks = checklist.frictionless_checklist()["checks"]
    assert len(checks) == len(physics.DERIVED_COLUMNS) + 2  # and the two flags without nulls
    for check in checks:
        assert simpleeval.EvalWithCompoundTypes(names=cells).eval(check["formula"])
    wrong = [{**cells, column: cells[column] * Decimal("1.01") + Decimal("0.01")}
             for column in physics.DERIVED_COLUMNS]  # fmt: skip
    wrong += [{**cells, "risk_soft": True}, {**cells, "risk_low_density": False}]
    for bad in wrong:
        verdicts = [simpleeval.EvalWithCompoundTypes(names=bad).eval(c["formula"]) for c in checks]
        assert verdicts.count(False) == 1  # exactly the rule of that column fails
    monkeypatch.setattr(checklist, "checklist_path", lambda: tmp_path / "checklist.json")
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 1 and "validate/checklist.json" in result.output


@pytest.mark.parametrize("table", TABLES)
def test_column_contract(table):
    schema = load_table_schema(table)
    assert [f["name"] for f in schema["fields"]] == CONTRACT
    assert schema["primaryKey"] == ["material_id"]
    assert schema["$schema"].endswith("/2.0/tableschema.json")
    fields = field_map(schema)
    for field in schema["fields"]:
        assert {"type", "unit", "title", "description", "constraints"} <= set(field), field
    for name in POSITIVE:
        assert fields[name]["constraints"]["exclusiveMinimum"] == 0
        assert fields[name]["constraints"]["required"] is True
    assert fields["poisson_ratio"]["constraints"]["exclusiveMinimum"] == -1
    assert fields["poisson_ratio"]["constraints"]["exclusiveMaximum"] == 0.5
    assert fields["nsites"]["type"] == fields["space_group_number"]["type"] == "integer"
    assert fields["space_group_number"]["constraints"] == {
        "required": True,
        "minimum": 1,
        "maximum": 230,
    }
    assert len(fields["crystal_system"]["constraints"]["enum"]) == 7
    optional_columns = ("band_gap", "k_vrh_uncertainty", "g_vrh_uncertainty", "k_vrh_lower",
                        "k_vrh_upper", "g_vrh_lower", "g_vrh_upper")  # fmt: skip
    for optional in optional_columns:
        assert "required" not in fields[optional]["constraints"]
    for name, symbol in SYMBOLS.items():
        assert fields[name]["title"] == symbol
    for name, unit in UNITS.items():
        assert fields[name]["unit"] == unit


def test_tables_share_every_field_but_the_id():
    mped, ned = (field_map(compose_table_schema(t)) for t in TABLES)
    for name in CONTRACT[1:]:
        assert mped[name] == ned[name]
    assert (
        mped["material_id"]["constraints"]["pattern"]
        != ned["material_id"]["constraints"]["pattern"]
    )


@pytest.mark.parametrize("table", TABLES)
def test_frictionless_accepts_a_consistent_table_and_rejects_a_bad_one(tmp_path, table):
    frame = synthetic_table(20, seed=2, table=table)
    frame.to_csv(tmp_path / "good.csv", index=False)
    frame.loc[3, "poisson_ratio"] = 0.55
    frame.to_csv(tmp_path / "bad.csv", index=False)

    # A v2 data package, as in a release: an inline schema outside one is read as v1, where
    # exclusiveMinimum/exclusiveMaximum do not exist.
    def package(path: str) -> frictionless.Package:
        return frictionless.Package(
            {
                "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
                "name": "t",
                "resources": [{"name": "t", "path": path, "schema": load_table_schema(table)}],
            },
            basepath=str(tmp_path),
        )

    assert package("good.csv").validate().valid
    report = package("bad.csv").validate()
    assert not report.valid
    assert report.flatten(["type"]) == [["constraint-error"]]


def test_the_column_enum_is_the_schema_column_order():
    from elastic_atlas.contract.columns import Column
    from elastic_atlas.contract.schema import column_order

    assert [str(c) for c in Column] == column_order("mped") == column_order("ned")


def test_the_table_enum_names_the_schema_tables():
    import json

    from elastic_atlas.contract.schema import schema_dir
    from elastic_atlas.contract.tables import Table

    layout = json.loads((schema_dir() / "tables.json").read_text())
    assert [t.value for t in Table] == list(layout["tables"])
    assert {t.value: t.title.split(" ")[0] for t in Table} == {"mped": "MPED", "ned": "NED"}


def test_the_target_enum_names_the_targets_everywhere():
    from typing import get_args

    from elastic_atlas.contract.targets import Target
    from elastic_atlas.training.train import TargetName

    assert list(get_args(TargetName)) == [t.value for t in Target]
    assert [t.symbol for t in Target] == ["B", "G"]
    assert [t.uncertainty_column for t in Target] == ["k_vrh_uncertainty", "g_vrh_uncertainty"]
