"""The project's contract for a table, beyond its schema's row rules: stored types, no empty
table, and which resources of a package claim to be MPED/NED tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from elastic_atlas.contract.tables import TABLE_IDS
from elastic_atlas.validation.findings import Finding, table_finding
from elastic_atlas.validation.tableio import table_format

CONTRACT_TABLES = TABLE_IDS
TABLE_FORMATS = ("csv", "parquet")


def contract_findings(path: Path, table: pa.Table, schema: dict[str, Any]) -> list[Finding]:
    """What the schema's row checks cannot see: an empty table, and Parquet columns stored with
    another type than the schema's (numbers as text would otherwise be coerced and pass)."""
    found = []
    if table.num_rows == 0:
        found.append(table_finding("contract.empty_table", [path.name], f"{path.name} has 0 rows"))
    if table_format(path) != "parquet":
        return found
    for field in schema["fields"]:
        name = field["name"]
        if name not in table.column_names:
            continue
        stored = table.schema.field(name).type
        if not _STORED_TYPES[field["type"]](stored):
            found.append(
                table_finding(
                    "contract.stored_type",
                    [name],
                    f"{name} is stored as {stored}, the schema says {field['type']}",
                )
            )
    return found


_STORED_TYPES = {
    "number": pa.types.is_floating,
    "integer": pa.types.is_integer,
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "boolean": pa.types.is_boolean,
}


def contract_table(resource: dict[str, Any], forced: str | None) -> str | None:
    """The project table a resource claims to hold (`mped-csv` ...), or the --schema one."""
    if forced is not None:
        return forced if resource.get("type", "table") == "table" else None
    declared = resource.get("elastic_atlas:table")
    if declared in CONTRACT_TABLES:
        return declared
    table, _, fmt = str(resource.get("name", "")).partition("-")
    return table if table in CONTRACT_TABLES and fmt in TABLE_FORMATS else None


def is_release(descriptor: dict[str, Any]) -> bool:
    return "elastic_atlas:code_version" in descriptor or str(descriptor.get("name", "")).startswith(
        "elastic-atlas"
    )
