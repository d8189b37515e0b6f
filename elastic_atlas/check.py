"""Validate a table file or a whole data package and summarise the findings.

Frictionless checks the schema of CSV resources well but reads Parquet through pandas row dicts
(slow) and never compares a Parquet file with its declared hash, size or row count; this module
adds those package checks and the physics checks of `validate.py`, for CSV and Parquet alike.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from elastic_atlas.digest import file_digest
from elastic_atlas.schema import core_schema, field_map
from elastic_atlas.tableio import TableReadError, read_arrow, rename_columns, type_table
from elastic_atlas.validate import Finding, ValidationSettings, table_finding, validate_typed_table

# The study's appendix headers (Tables A1/A2) -> the project's column names.
PAPER_COLUMNS: dict[str, str] = {
    "ID-number": "material_id",
    "Filename": "material_id",
    "Formula": "formula",
    "N": "nsites",
    "rho": "density",
    "ρ": "density",
    "V": "volume",
    "M": "mass",
    "B": "k_vrh",
    "G": "g_vrh",
    "v_l": "v_longitudinal",
    "v_t": "v_transverse",
    "v_s": "v_mean",
    "nu": "poisson_ratio",
    "ν": "poisson_ratio",
    "theta_D": "debye_temperature",
    "θ_D": "debye_temperature",
}


class PackageError(Exception):
    """The data package descriptor cannot be read."""


def validate_table_file(
    path: Path,
    *,
    tolerance: float,
    settings: ValidationSettings,
    schema: dict[str, Any] | None = None,
    rename: dict[str, str] | None = None,
) -> list[Finding]:
    """Check one CSV/Parquet file: against `schema` in full, or a bare table against the core."""
    table = read_arrow(path)
    if rename:
        table = rename_columns(table, rename)
    full = schema is not None
    schema = schema or core_schema()
    typed = type_table(path, table, field_map(schema))
    return validate_typed_table(
        typed, schema, tolerance=tolerance, settings=settings, full_schema=full
    )


def _declared_hash(value: str) -> tuple[str, str]:
    algorithm, _, digest = value.rpartition(":")
    return (algorithm or "md5"), digest


def check_resource_file(resource: dict[str, Any], path: Path) -> list[Finding]:
    """Size and hash of the file against the descriptor."""
    found = []
    columns = [resource.get("name", str(path))]
    if "bytes" in resource and path.stat().st_size != resource["bytes"]:
        found.append(
            table_finding(
                "package.bytes",
                columns,
                f"{path.name} has {path.stat().st_size} bytes, descriptor says {resource['bytes']}",
            )
        )
    if "hash" in resource:
        algorithm, declared = _declared_hash(resource["hash"])
        actual = file_digest(path, algorithm)
        if actual != declared:
            found.append(
                table_finding(
                    "package.hash",
                    columns,
                    f"{path.name} has {algorithm} {actual}, descriptor says {declared}",
                )
            )
    return found


def _resource_schema(resource: dict[str, Any], base: Path) -> dict[str, Any]:
    schema = resource.get("schema")
    if isinstance(schema, str):
        return json.loads((base / schema).read_text(encoding="utf-8"))
    if isinstance(schema, dict):
        return schema
    return core_schema()


def validate_resource(
    resource: dict[str, Any], base: Path, *, tolerance: float, settings: ValidationSettings
) -> list[Finding]:
    name = resource.get("name", "?")
    path = base / resource["path"]
    if not path.is_file():
        return [table_finding("package.missing_file", [name], f"{path} does not exist")]
    found = check_resource_file(resource, path)
    schema = _resource_schema(resource, base)
    try:
        table = read_arrow(path)
    except TableReadError as error:
        return [*found, table_finding("package.unreadable", [name], str(error))]
    if "rows" in resource and table.num_rows != resource["rows"]:
        found.append(
            table_finding(
                "package.rows",
                [name],
                f"{path.name} has {table.num_rows} rows, descriptor says {resource['rows']}",
            )
        )
    typed = type_table(path, table, field_map(schema))
    found += validate_typed_table(
        typed, schema, tolerance=tolerance, settings=settings, full_schema=True
    )
    for finding in found:
        finding.resource = name
    return found


def validate_package(
    path: Path, *, tolerance: float, settings: ValidationSettings
) -> list[Finding]:
    """Every tabular resource of a datapackage.json, by its own schema."""
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
        resources = descriptor["resources"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PackageError(f"{path}: not a readable data package: {error}") from error
    found: list[Finding] = []
    for resource in resources:
        if resource.get("format", Path(resource.get("path", "")).suffix[1:]) in ("csv", "parquet"):
            found += validate_resource(
                resource, path.parent, tolerance=tolerance, settings=settings
            )
    return found


def is_package(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def summarize(findings: list[Finding], examples: int = 5) -> str:
    """Counts per check and severity and the first offending rows of each."""
    if not findings:
        return "No findings: every checked row passed every check.\n"
    counts = Counter((f.severity, f.check) for f in findings)
    lines = ["Findings by check:"]
    for (severity, check), count in sorted(counts.items()):
        lines.append(f"  {severity:<7} {check:<34} {count:>8}")
        shown = [f for f in findings if f.check == check and f.severity == severity][:examples]
        for finding in shown:
            where = "table" if finding.row is None else f"row {finding.row}"
            who = f" ({finding.material_id})" if finding.material_id else ""
            prefix = f"[{finding.resource}] " if finding.resource else ""
            lines.append(f"      {prefix}{where}{who}: {finding.message}")
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    lines.append(f"{errors} error(s), {warnings} warning(s).")
    return "\n".join(lines) + "\n"
