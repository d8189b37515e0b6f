"""Validate a table file or a whole data package and summarise the findings.

Frictionless checks the schema of CSV resources well but reads Parquet through pandas row dicts
(slow) and never compares a Parquet file with its declared hash, size or row count; this module
adds those package checks and the physics checks of `validate.py`, for CSV and Parquet alike.
"""

from __future__ import annotations

import json
import re
import stat
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa

from elastic_atlas.contract.schema import core_schema, field_map, load_table_schema
from elastic_atlas.digest import file_digest
from elastic_atlas.validation.rules import (
    Finding,
    ValidationSettings,
    table_finding,
    validate_typed_table,
)
from elastic_atlas.validation.tableio import (
    TableReadError,
    read_arrow,
    rename_columns,
    table_format,
    type_table,
)

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


HASH_ALGORITHMS = ("md5", "sha1", "sha256", "sha512")  # what Data Package v2 names
CONTRACT_TABLES = ("mped", "ned")
TABLE_FORMATS = ("csv", "parquet")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, file:, C: ...


class PackageError(Exception):
    """The data package descriptor cannot be used (unreadable, or a form this validator does
    not read: inline data, multipart paths, unknown hash algorithms)."""


def validate_table_file(
    path: Path,
    *,
    tolerance: float,
    settings: ValidationSettings,
    schema: dict[str, Any] | None = None,
    rename: dict[str, str] | None = None,
) -> list[Finding]:
    """Check one CSV/Parquet file: against `schema` in full (the project's contract: stored
    types, no empty table), or a bare table against the core."""
    table = read_arrow(path)
    if rename:
        table = rename_columns(table, rename)
    full = schema is not None
    found = contract_findings(path, table, schema) if schema is not None else []
    schema = schema or core_schema()
    typed = type_table(path, table, field_map(schema))
    return found + validate_typed_table(
        typed, schema, tolerance=tolerance, settings=settings, full_schema=full
    )


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


def _declared_hash(value: Any) -> tuple[str, str]:
    if not isinstance(value, str):
        raise PackageError(f"hash {value!r} is not a string")
    algorithm, _, digest = value.rpartition(":")
    algorithm = algorithm or "md5"
    if algorithm not in HASH_ALGORITHMS:
        raise PackageError(f"hash algorithm {algorithm!r} is not one of {HASH_ALGORITHMS}")
    return algorithm, digest


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


def inside_package(base: Path, relative: Any, name: str) -> tuple[Path | None, list[Finding]]:
    """The file a descriptor path names, if it is a plain relative path to a regular file inside
    the package folder; else a finding and nothing to read (URLs, absolute paths, '..', links
    leading out, devices and pipes are never opened)."""
    if isinstance(relative, list):
        raise PackageError(f"resource {name!r}: multipart paths are not supported")
    if not isinstance(relative, str) or not relative:
        raise PackageError(f"resource {name!r}: path {relative!r} is not a string")

    def refused(why: str) -> tuple[None, list[Finding]]:
        message = f"{relative!r} {why}; only files inside the package folder are read"
        return None, [table_finding("package.path", [name], message)]

    pure = PurePosixPath(relative.replace("\\", "/"))
    if _SCHEME.match(relative) or relative.startswith("//"):
        return refused("is a URL or names a drive")
    if pure.is_absolute():
        return refused("is an absolute path")
    if ".." in pure.parts:
        return refused("climbs out with '..'")
    candidate = base / pure
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base.resolve()):
        return refused("leads outside the package folder through a link")
    if not resolved.exists():
        return None, [table_finding("package.missing_file", [name], f"{candidate} does not exist")]
    if not stat.S_ISREG(resolved.stat().st_mode):
        return refused("is not a regular file")
    return resolved, []


def _resource_schema(
    resource: dict[str, Any], base: Path, contract: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, list[Finding]]:
    """The schema to check a resource by: the project's own for a contract table (a weakened
    embedded copy is a finding, never the yardstick), else the embedded or referenced one."""
    name = resource.get("name", "?")
    schema = resource.get("schema")
    found: list[Finding] = []
    if isinstance(schema, str):
        path, found = inside_package(base, schema, name)
        schema = None
        if path is not None:
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise PackageError(f"resource {name!r}: schema {path.name} unreadable") from error
    if schema is not None and not isinstance(schema, dict):
        raise PackageError(f"resource {name!r}: schema is neither an object nor a path")
    if contract is None:
        return (schema or core_schema()) if not found else None, found
    if schema != contract:
        found.append(
            table_finding(
                "contract.schema",
                [name],
                f"the schema of {name!r} differs from the project's; checked by the project's",
            )
        )
    return contract, found


def contract_table(resource: dict[str, Any], forced: str | None) -> str | None:
    """The project table a resource claims to hold (`mped-csv` ...), or the --schema one."""
    if forced is not None:
        return forced if resource.get("type", "table") == "table" else None
    declared = resource.get("elastic_atlas:table")
    if declared in CONTRACT_TABLES:
        return declared
    table, _, fmt = str(resource.get("name", "")).partition("-")
    return table if table in CONTRACT_TABLES and fmt in TABLE_FORMATS else None


def validate_resource(
    resource: dict[str, Any],
    base: Path,
    *,
    tolerance: float,
    settings: ValidationSettings,
    table_name: str | None = None,
) -> list[Finding]:
    name = resource.get("name", "?")
    path, found = inside_package(base, resource.get("path"), name)
    if path is None:
        return found
    contract = load_table_schema(table_name) if table_name else None
    schema, schema_found = _resource_schema(resource, base, contract)
    found += check_resource_file(resource, path) + schema_found
    if schema is None:
        return found
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
    if contract is not None:
        found += contract_findings(path, table, contract)
    typed = type_table(path, table, field_map(schema))
    found += validate_typed_table(
        typed, schema, tolerance=tolerance, settings=settings, full_schema=True
    )
    for finding in found:
        finding.resource = name
    return found


def read_descriptor(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The descriptor and its resources, or PackageError for a form that cannot be checked."""
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PackageError(f"{path}: not a readable data package: {error}") from error
    if not isinstance(descriptor, dict):
        raise PackageError(f"{path}: a data package is a JSON object")
    resources = descriptor.get("resources")
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise PackageError(f"{path}: 'resources' must be a list of objects")
    for resource in resources:
        if "data" in resource:
            raise PackageError(
                f"{path}: resource {resource.get('name')!r} has inline data; a release keeps "
                "its data in files"
            )
    return descriptor, resources


def is_release(descriptor: dict[str, Any]) -> bool:
    return "elastic_atlas:code_version" in descriptor or str(descriptor.get("name", "")).startswith(
        "elastic-atlas"
    )


def validate_package(
    path: Path,
    *,
    tolerance: float,
    settings: ValidationSettings,
    schema_name: str | None = None,
) -> list[Finding]:
    """Every tabular resource of a datapackage.json; an elastic-atlas release (or any package
    with `schema_name`) is held to the project's contract."""
    descriptor, resources = read_descriptor(path)
    contract = schema_name is not None or is_release(descriptor)
    found: list[Finding] = []
    if not resources:
        found.append(table_finding("package.no_resources", [path.name], "no resources"))
    for resource in resources:
        table_name = contract_table(resource, schema_name) if contract else None
        fmt = resource.get("format")
        if table_name is not None and fmt not in TABLE_FORMATS:
            message = f"format {fmt!r} of {resource.get('name')!r} is not 'csv' or 'parquet'"
            found.append(table_finding("contract.format", [str(resource.get("name"))], message))
            continue
        if fmt in TABLE_FORMATS or (fmt is None and _suffix(resource) in TABLE_FORMATS):
            found += validate_resource(
                resource, path.parent, tolerance=tolerance, settings=settings,
                table_name=table_name,
            )  # fmt: skip
    if contract and not any(contract_table(r, schema_name) for r in resources):
        found.append(
            table_finding("contract.no_tables", [path.name], "the release lists no MPED/NED table")
        )
    return found


def _suffix(resource: dict[str, Any]) -> str:
    path = resource.get("path")
    return Path(path).suffix[1:] if isinstance(path, str) else ""


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
