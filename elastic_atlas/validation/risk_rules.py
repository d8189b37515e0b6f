"""The risk-flag rule of a table: each flag recomputed from the row's own columns."""

from __future__ import annotations

from typing import Any

import numpy as np

from elastic_atlas.contract import risk
from elastic_atlas.contract.columns import Column
from elastic_atlas.contract.risk import risk_flags
from elastic_atlas.contract.schema import SIGNIFICANT_DIGITS
from elastic_atlas.validation.findings import Finding, findings_where
from elastic_atlas.validation.tableio import TypedTable, table_format


def check_risk_flags(table: TypedTable, schema: dict[str, Any]) -> list[Finding]:
    """Every risk flag equals its rule (contract.risk) applied to the row's own columns.

    The flags are set from the exact values; a CSV holds them rounded to the schema's
    significant digits, so a row whose input lies within that rounding of a threshold could go
    either way and is not judged there (in Parquet every row is).
    """
    needed = ("k_vrh", "density", "k_vrh_uncertainty", "g_vrh_uncertainty")
    if not all(name in table.columns for name in needed):
        return []
    values = {name: table.numbers(name) for name in needed}
    expected = risk_flags(*values.values())
    near = _near_threshold(table, schema, values)
    found: list[Finding] = []
    for name, want in expected.items():
        if name not in table.columns:
            continue
        column = table.columns[name]
        have = column.values
        known = ~column.missing & ~column.wrong_type
        mask = known & ~np.isnan(want) & (have != want) & ~near[name]
        mask |= column.missing & ~np.isnan(want)  # a flag its rule can give must be given
        if name == Column.RISK_HIGH_UNCERTAINTY:  # no uncertainty at all: the flag is null
            absent = table.columns[needed[2]].missing & table.columns[needed[3]].missing
            mask |= known & absent
        found += findings_where(
            table,
            mask,
            check=f"consistency.{name}",
            severity="error",
            columns=[name, *needed],
            stored=have,
            expected=want,
            message=lambda i, n=name, h=have, w=want: (
                f"{n} = {_flag(h[i])} but its rule (elastic_atlas.contract.risk) gives "
                f"{_flag(w[i])}"
            ),
        )
    return found


def _near_threshold(
    table: TypedTable, schema: dict[str, Any], values: dict[str, np.ndarray]
) -> dict[Column, np.ndarray]:
    """Per flag, the rows whose inputs lie within a CSV's rounding of the flag's threshold."""
    digits = {f["name"]: f.get(SIGNIFICANT_DIGITS) for f in schema.get("fields", [])}
    csv = table_format(table.path) == "csv"

    def near(name: str, threshold: float) -> np.ndarray:
        d = digits.get(name)
        if not csv or d is None:
            return np.zeros(table.nrows, dtype=bool)
        with np.errstate(invalid="ignore"):
            return np.abs(values[name] - threshold) <= 0.5 * 10.0 ** (1 - d) * threshold

    return {
        Column.RISK_HIGH_UNCERTAINTY: near("k_vrh_uncertainty", risk.HIGH_UNCERTAINTY["k_vrh"])
        | near("g_vrh_uncertainty", risk.HIGH_UNCERTAINTY["g_vrh"]),
        Column.RISK_SOFT: near("k_vrh", risk.SOFT_BULK_MODULUS),
        Column.RISK_LOW_DENSITY: near("density", risk.LOW_DENSITY),
    }


def _flag(value: float) -> str:
    return "null" if np.isnan(value) else ("true" if value else "false")
