"""Findings: one failed check, which row, what and why; made only for rows that fail."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from elastic_atlas.validation.tableio import TypedTable

Severity = Literal["error", "warning"]
Scalar = float | int | str | None


class Finding(BaseModel):
    """One failed check: which data row (1-based; None for the whole table), what and why."""

    row: int | None
    resource: str | None = None
    material_id: str | None
    columns: list[str]
    check: str
    severity: Severity
    stored: Scalar = None
    expected: Scalar = None
    message: str


def _plain(value: Any) -> Scalar:
    """A JSON-safe scalar: non-finite floats become text ('nan', 'inf')."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def findings_where(
    table: TypedTable,
    mask: np.ndarray,
    *,
    check: str,
    severity: Severity,
    columns: list[str],
    message: Callable[[int], str],
    stored: np.ndarray | None = None,
    expected: np.ndarray | None = None,
) -> list[Finding]:
    """One Finding per row where `mask` holds."""
    ids = table.ids()
    out = []
    for index in np.flatnonzero(mask):
        material_id = ids[index]
        out.append(
            Finding(
                row=int(index) + 1,
                material_id=None if material_id is None else str(material_id),
                columns=columns,
                check=check,
                severity=severity,
                stored=None if stored is None else _plain(stored[index]),
                expected=None if expected is None else _plain(expected[index]),
                message=message(int(index)),
            )
        )
    return out


def table_finding(check: str, columns: list[str], message: str) -> Finding:
    return Finding(
        row=None, material_id=None, columns=columns, check=check, severity="error", message=message
    )


def findings_json(findings: list[Finding]) -> str:
    return json.dumps({"findings": [f.model_dump() for f in findings]}, indent=1) + "\n"
