"""Findings: one failed check, which row, what and why; made only for rows that fail."""

from __future__ import annotations

import json
import math
from collections import Counter
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
    # rows failing this check beyond those listed (`KeptFindings`): this finding stands for
    # them (it is no row itself), they are counted but not listed
    more: int = 0


KEEP_ROWS = 1_000  # findings listed per check of a table; further failing rows are counted


class KeptFindings:
    """A table's findings, at most `keep` row findings per check and severity (0: every one);
    the rest counted, and said by one finding per check (`more`). A table whose every row fails
    would otherwise hold a finding (~1.6 KB) per row and check."""

    def __init__(self, keep: int = KEEP_ROWS) -> None:
        self.keep, self.kept = keep, []
        self.listed: Counter[tuple[str, str]] = Counter()
        self.left: dict[tuple[str, str], tuple[int, list[str]]] = {}  # (count, columns)

    def add(self, finding: Finding) -> None:
        key = (finding.severity, finding.check)
        if finding.row is None or not self.keep or self.listed[key] < self.keep:
            self.listed[key] += finding.row is not None
            self.kept.append(finding)
        else:
            count, columns = self.left.get(key, (0, finding.columns))
            self.left[key] = (count + 1, columns)

    def findings(self) -> list[Finding]:
        """The kept findings, then one per check with rows left out."""
        message = ("{} more row(s) fail this check, counted but not listed (the first {} are; "
                   "`validate --keep-rows 0` lists every one)")  # fmt: skip
        left = [
            Finding(row=None, material_id=None, columns=columns, check=check,
                    severity=severity, message=message.format(more, self.keep), more=more)  # type: ignore[arg-type]
            for (severity, check), (more, columns) in self.left.items()
        ]  # fmt: skip
        return self.kept + left


def finding_counts(findings: list[Finding]) -> Counter[tuple[str, str]]:
    """Failing rows (or table findings) per (severity, check), those counted but not listed
    included (a finding with `more` stands for that many rows)."""
    counts: Counter[tuple[str, str]] = Counter()
    for finding in findings:
        counts[(finding.severity, finding.check)] += finding.more or 1
    return counts


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
