"""Validate a table file or a whole data package and summarise the findings.

Frictionless checks the schema of CSV resources well but reads Parquet through pandas row dicts
(slow) and never compares a Parquet file with its declared hash, size or row count; this module
adds those package checks and the physics checks of `rules.py`, for CSV and Parquet alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from elastic_atlas.contract import physics
from elastic_atlas.contract.schema import (
    SIGNIFICANT_DIGITS,
    core_schema,
    field_map,
    load_table_schema,
)
from elastic_atlas.contract.settings import ValidationSettings
from elastic_atlas.digest import file_digest
from elastic_atlas.validation.containment import PackageError, inside_package
from elastic_atlas.validation.contract_checks import (
    TABLE_FORMATS,
    contract_findings,
    contract_table,
    is_release,
)
from elastic_atlas.validation.findings import KEEP_ROWS, Finding, KeptFindings, table_finding
from elastic_atlas.validation.release_checks import release_findings
from elastic_atlas.validation.rules import validate_typed_table
from elastic_atlas.validation.tableio import (
    TableReadError,
    iter_arrow,
    rename_columns,
    table_format,
    type_table,
)

HASH_ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
# The columns the consistency rules read: the primaries and everything derived from them.
CONSISTENCY_COLUMNS = {
    "k_vrh",
    "g_vrh",
    "volume",
    "mass",
    *physics.DERIVED_COLUMNS,
}  # what Data Package v2 names


def precision_tolerance(schema: dict[str, Any], path: Path, tolerance: float) -> float:
    """The consistency tolerance a file can meet: a CSV rounded to d significant digits (the
    schema's `elastic_atlas:significantDigits`) is checked at 10^(2-d) at the least — rounding
    B, G and each derived value by half a unit in the last place, propagated through roots and
    ratios, stays well inside it — and the Parquet file at the tolerance asked for."""
    fields = schema.get("fields", [])
    digits = [
        f[SIGNIFICANT_DIGITS]
        for f in fields
        if SIGNIFICANT_DIGITS in f and f["name"] in CONSISTENCY_COLUMNS
    ]
    if table_format(path) != "csv" or not digits:
        return tolerance
    return max(tolerance, 10.0 ** (2 - min(digits)))


def validate_table_file(
    path: Path,
    *,
    tolerance: float,
    settings: ValidationSettings,
    schema: dict[str, Any] | None = None,
    rename: dict[str, str] | None = None,
    keep_rows: int = KEEP_ROWS,
) -> list[Finding]:
    """Check one CSV/Parquet file: against `schema` in full (the project's contract: stored
    types, no empty table), or a bare table against the core."""
    full = schema is not None
    schema = schema or core_schema()
    _, found = validate_rows(path, schema, tolerance=tolerance, settings=settings,
                             contract=full, full_schema=full, rename=rename,
                             keep_rows=keep_rows)  # fmt: skip
    return found


def validate_rows(
    path: Path,
    schema: dict[str, Any],
    *,
    tolerance: float,
    settings: ValidationSettings,
    contract: bool,
    full_schema: bool,
    rename: dict[str, str] | None = None,
    keep_rows: int = KEEP_ROWS,
) -> tuple[int, list[Finding]]:
    """(rows, findings) of one table file, read and checked a chunk at a time (a typed chunk
    costs a few hundred bytes per cell; a whole table of millions of rows would not fit).
    `contract`: the schema is the project's (stored types, no empty table); `full_schema`:
    the file must have exactly the schema's columns; `keep_rows`: findings listed per check
    (`KeptFindings`; 0: all)."""
    fields, seen = field_map(schema), {}
    tolerance = precision_tolerance(schema, path, tolerance)
    found = KeptFindings(keep_rows)
    rows = 0
    for chunk in iter_arrow(path):
        if rename:
            chunk = rename_columns(chunk, rename)
        if contract and rows == 0:  # stored types, and whether the first chunk holds a row
            for finding in contract_findings(path, chunk, schema):
                found.add(finding)
        typed = type_table(path, chunk, fields, seen)
        checked = validate_typed_table(typed, schema, tolerance=tolerance, settings=settings,
                                       full_schema=full_schema)  # fmt: skip
        for finding in checked:
            if finding.row is None and rows > 0:
                continue  # about the header (missing or extra columns): said for chunk one
            if finding.row is not None:
                finding.row += rows
            found.add(finding)
        rows += chunk.num_rows
    return rows, found.findings()


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
    if schema is not None and not _usable_schema(schema):
        raise PackageError(
            f"resource {name!r}: schema 'fields' must be a list of objects with a string name"
        )
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


def validate_resource(
    resource: dict[str, Any],
    base: Path,
    *,
    tolerance: float,
    settings: ValidationSettings,
    table_name: str | None = None,
    keep_rows: int = KEEP_ROWS,
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
        rows, table_found = validate_rows(
            path, schema, tolerance=tolerance, settings=settings,
            contract=contract is not None, full_schema=True, keep_rows=keep_rows,
        )  # fmt: skip
    except TableReadError as error:
        return [*found, table_finding("package.unreadable", [name], str(error))]
    if "rows" in resource and rows != resource["rows"]:
        found.append(
            table_finding(
                "package.rows", [name], f"{path.name} has {rows} rows, descriptor says "
                f"{resource['rows']}",
            )
        )  # fmt: skip
    found += table_found
    for finding in found:
        finding.resource = name
    return found


def read_descriptor(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The descriptor and its resources, or PackageError for a form that cannot be checked."""
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PackageError(f"{path}: not a readable data package: {error}") from error
    except RecursionError:
        raise PackageError(f"{path}: JSON nested too deeply to be a data package") from None
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


def check_file_resource(resource: dict[str, Any], base: Path) -> list[Finding]:
    """A resource that is not a table (a checkpoint file): inside the package, size, hash."""
    name = str(resource.get("name", "?"))
    file, found = inside_package(base, resource.get("path"), name)
    if file is not None:
        found += check_resource_file(resource, file)
    for finding in found:
        finding.resource = name
    return found


def validate_package(
    path: Path,
    *,
    tolerance: float,
    settings: ValidationSettings,
    schema_name: str | None = None,
    keep_rows: int = KEEP_ROWS,
) -> list[Finding]:
    """Every tabular resource of a datapackage.json; an elastic-atlas release (or any package
    with `schema_name`) is held to the project's contract. `keep_rows`: findings listed per
    check of a table (the others counted; 0: all)."""
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
        # A resource declared a plain file (the model card's training-ids.csv) is checked as a
        # file; the contract's own tables never escape the table checks this way.
        declared_file = table_name is None and resource.get("type") == "file"
        if not declared_file and (
            fmt in TABLE_FORMATS or (fmt is None and _suffix(resource) in TABLE_FORMATS)
        ):
            found += validate_resource(
                resource, path.parent, tolerance=tolerance, settings=settings,
                table_name=table_name, keep_rows=keep_rows,
            )  # fmt: skip
        else:
            found += check_file_resource(resource, path.parent)
    if contract and not any(contract_table(r, schema_name) for r in resources):
        found.append(
            table_finding("contract.no_tables", [path.name], "the release lists no MPED/NED table")
        )
    if is_release(descriptor):  # every statement of the release against every other
        found += release_findings(descriptor, path.parent)
    return found


def _usable_schema(schema: dict[str, Any]) -> bool:
    fields = schema.get("fields", [])
    return isinstance(fields, list) and all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields
    )


def _suffix(resource: dict[str, Any]) -> str:
    path = resource.get("path")
    return Path(path).suffix[1:] if isinstance(path, str) else ""


def is_package(path: Path) -> bool:
    return path.suffix.lower() == ".json"
