"""The table contract: Frictionless Table Schemas composed from `schema/fields.json`.

`schema/fields.json` defines every shared column once and `schema/tables.json` says which
columns each table has and in what order; `<table>.schema.json` is the composed, committed result
that users, frictionless and the validators read.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from elastic_atlas.contract.tables import TABLE_IDS
from elastic_atlas.paths import contract_root

TABLE_SCHEMA_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"
TABLES = TABLE_IDS  # the composed schema files, one per table


def schema_dir() -> Path:
    """The repository's `schema/` folder (the package is installed in editable mode)."""
    return contract_root() / "schema"


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# An empty CSV cell is a null. Frictionless reads Parquet through pandas, which turns a null
# number into the text "nan": without it here, `frictionless validate` calls a null band gap a
# violation of `minimum: 0`. The project's writers never write "nan" for a value (a NaN in a
# number column is an error of `elastic-atlas validate`, and a null in a required column is one
# of both validators).
MISSING_VALUES = ["", "nan"]
# Field property: significant digits of the column in CSV (Parquet keeps float64).
SIGNIFICANT_DIGITS = "elastic_atlas:significantDigits"


def compose_table_schema(table: str, folder: Path | None = None) -> dict[str, Any]:
    """Build the Table Schema of `table` from the shared field definitions."""
    folder = folder or schema_dir()
    shared = _read_json(folder / "fields.json")["fields"]
    layout = _read_json(folder / "tables.json")
    if table not in layout["tables"]:
        raise KeyError(f"unknown table {table!r}; known: {sorted(layout['tables'])}")
    layout_of_table = layout["tables"][table]
    fields = []
    for name in layout["column_order"]:
        definition = copy.deepcopy(layout_of_table.get(name) or shared[name])
        fields.append({"name": name, **definition})
    return {
        "$schema": TABLE_SCHEMA_PROFILE,
        "title": layout_of_table["title"],
        "description": layout_of_table["description"],
        "fields": fields,
        "primaryKey": ["material_id"],
        "missingValues": MISSING_VALUES,
    }


def render(schema: dict[str, Any]) -> str:
    """Canonical JSON text of a schema (stable key order, trailing newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_table_schemas(folder: Path | None = None) -> list[Path]:
    """(Re)write `<table>.schema.json` for every table; returns the paths written."""
    folder = folder or schema_dir()
    written = []
    for table in TABLES:
        path = folder / f"{table}.schema.json"
        path.write_text(render(compose_table_schema(table, folder)), encoding="utf-8")
        written.append(path)
    return written


def stale_table_schemas(folder: Path | None = None) -> list[str]:
    """Tables whose committed schema file differs from the composed one."""
    folder = folder or schema_dir()
    stale = []
    for table in TABLES:
        path = folder / f"{table}.schema.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(
            compose_table_schema(table, folder)
        ):
            stale.append(table)
    return stale


@cache
def load_table_schema(table: str) -> dict[str, Any]:
    """The committed Table Schema of `table` (`mped` or `ned`)."""
    return _read_json(schema_dir() / f"{table}.schema.json")


def field_map(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields of a schema keyed by name."""
    return {field["name"]: field for field in schema["fields"]}


def column_order(table: str = "mped") -> list[str]:
    return [field["name"] for field in load_table_schema(table)["fields"]]


def core_schema() -> dict[str, Any]:
    """Field definitions shared by all tables, used to check a bare table of unknown origin."""
    shared = _read_json(schema_dir() / "fields.json")["fields"]
    fields = [{"name": name, **definition} for name, definition in shared.items()]
    fields.insert(
        0,
        {
            "name": "material_id",
            "type": "string",
            "title": "ID",
            "unit": "1",
            "description": "Material identifier.",
            "constraints": {"required": True, "unique": True},
        },
    )
    return {"$schema": TABLE_SCHEMA_PROFILE, "fields": fields, "primaryKey": ["material_id"]}


def crystal_systems() -> tuple[str, ...]:
    """The seven crystal systems, in order of increasing symmetry, as the schema's enum."""
    shared = _read_json(schema_dir() / "fields.json")["fields"]
    return tuple(shared["crystal_system"]["constraints"]["enum"])
