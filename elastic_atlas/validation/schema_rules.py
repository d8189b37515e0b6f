"""Schema constraints of a table: columns present, required, type, range, enum, pattern,
uniqueness — each one vectorised mask over a column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas.validation.findings import Finding, findings_where, table_finding
from elastic_atlas.validation.tableio import EarlierValues, TypedTable

_COMPARISONS: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], str]] = {
    "minimum": (np.less, ">="),
    "maximum": (np.greater, "<="),
    "exclusiveMinimum": (np.less_equal, ">"),
    "exclusiveMaximum": (np.greater_equal, "<"),
}


def check_columns_present(table: TypedTable, schema: dict[str, Any]) -> list[Finding]:
    """A table claiming a schema must have exactly its fields."""
    names = [field["name"] for field in schema["fields"]]
    findings = [
        table_finding("schema.missing_column", [name], f"column {name!r} of the schema is missing")
        for name in names
        if name not in table.columns
    ]
    findings += [
        table_finding("schema.extra_column", [name], f"column {name!r} is not in the schema")
        for name in table.header
        if name not in names
    ]
    return findings


def check_field(table: TypedTable, field: dict[str, Any]) -> list[Finding]:
    """Required, type, range, enum, pattern and uniqueness constraints of one present field."""
    name = field["name"]
    column = table.columns[name]
    constraints = field.get("constraints", {})
    found: list[Finding] = []
    if constraints.get("required"):
        found += findings_where(
            table,
            column.missing,
            check="schema.required",
            severity="error",
            columns=[name],
            message=lambda i: f"{name} is required but empty",
        )
    found += findings_where(
        table,
        column.wrong_type,
        check="schema.type",
        severity="error",
        columns=[name],
        stored=column.raw,
        message=lambda i: f"{name} = {column.raw[i]!r} is not of type {field['type']}",
    )
    for key, (violates, relation) in _COMPARISONS.items():
        if key in constraints:
            bound = constraints[key]
            mask = violates(column.values, bound) if column.values.dtype.kind == "f" else None
            if mask is not None:
                found += findings_where(
                    table,
                    mask,
                    check=f"schema.{key}",
                    severity="error",
                    columns=[name],
                    stored=column.values,
                    message=lambda i, b=bound, r=relation: (
                        f"{name} = {column.values[i]:.6g} violates {name} {r} {b}"
                    ),
                )
    found += _text_constraints(table, name, constraints)
    return found


def _text_constraints(table: TypedTable, name: str, constraints: dict[str, Any]) -> list[Finding]:
    column = table.columns[name]
    present = ~column.missing
    text = pd.Series(column.raw, dtype=object)
    found: list[Finding] = []
    if "enum" in constraints:
        allowed = constraints["enum"]
        mask = present & ~text.isin(allowed).to_numpy()
        found += findings_where(
            table,
            mask,
            check="schema.enum",
            severity="error",
            columns=[name],
            stored=column.raw,
            message=lambda i: f"{name} = {column.raw[i]!r} is not one of {allowed}",
        )
    if "pattern" in constraints:
        pattern = constraints["pattern"]
        matches = text.astype(str).str.fullmatch(pattern).to_numpy(dtype=bool)
        found += findings_where(
            table,
            present & ~matches,
            check="schema.pattern",
            severity="error",
            columns=[name],
            stored=column.raw,
            message=lambda i: f"{name} = {column.raw[i]!r} does not match {pattern}",
        )
    if constraints.get("unique"):
        mask = present & text.duplicated(keep="first").to_numpy()
        if table.seen is not None:  # one chunk of a file: a value of an earlier chunk repeats
            earlier = table.seen.setdefault(name, EarlierValues())
            values = text[present].to_numpy()
            repeated = np.zeros(len(text), dtype=bool)
            repeated[present] = earlier.contains(values)
            mask |= repeated
            earlier.add(values)
        found += findings_where(
            table,
            mask,
            check="schema.unique",
            severity="error",
            columns=[name],
            stored=column.raw,
            message=lambda i: f"{name} = {column.raw[i]!r} is a duplicate",
        )
    return found


def check_schema(table: TypedTable, schema: dict[str, Any], full: bool) -> list[Finding]:
    """Schema constraints of the fields present (and, for a full schema, the column set)."""
    found = check_columns_present(table, schema) if full else []
    for field in schema["fields"]:
        if field["name"] in table.columns:
            found += check_field(table, field)
    return found


# ----------------------------------------------------------------------------- physics
