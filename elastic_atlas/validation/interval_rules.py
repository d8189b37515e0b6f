"""The 95 % interval rule of a table: each modulus's bounds recomputed against its own columns.

A row's interval is value·10^(∓U) with U = k·u: it contains the value, is symmetric in log10
(lower·upper = value²), is at least as wide as the 68 % interval (k ≥ 1), and exists exactly
where u does. With the checkpoints' calibrations at hand (`validate` of a release reads them
from its model cards) k must also be the card's: its `k95`, or for a grouped calibration the
factor of the row's group, found again from the row's u and predicted B.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from elastic_atlas.contract.schema import SIGNIFICANT_DIGITS
from elastic_atlas.contract.targets import Target
from elastic_atlas.model.calibration import Calibration
from elastic_atlas.validation.findings import Finding, findings_where
from elastic_atlas.validation.tableio import TypedTable, table_format

# float64 round trips through Parquet: only the arithmetic's own rounding
EXACT_LOG10_TOLERANCE = 1e-9
# relative rounding of u as a CSV keeps it (4 significant digits), with room to spare
U_ROUNDING = 1e-3


def check_intervals(
    table: TypedTable,
    schema: dict[str, Any],
    calibrations: Mapping[str, Calibration] | None = None,
) -> list[Finding]:
    """Each target's bounds against its value and u (see the module docstring);
    `calibrations`: target name -> the calibration whose factors the bounds must use (none
    given: any k ≥ 1)."""
    found: list[Finding] = []
    for target in Target:
        names = (target.column, target.uncertainty_column, target.lower_column,
                 target.upper_column)  # fmt: skip
        if not all(name in table.columns for name in names):
            continue
        tolerance = _log10_tolerance(table, schema, names)
        calibration = (calibrations or {}).get(target.value)
        found += _check_target(table, target, tolerance, calibration)
    return found


def allowed_factor(
    calibration: Calibration, u: np.ndarray, bulk: np.ndarray | None, width: np.ndarray,
    tolerance: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Rows whose half-width is k·u for the k the calibration gives them. A grouped
    calibration's group is found again from u and B: group g is the row's when u / m_g falls
    in g's band (within u's rounding) and B's softness matches."""
    if calibration.groups is None:
        return np.abs(width - calibration.k95 * u) <= tolerance
    groups = calibration.groups
    soft_axis = groups.soft_bulk_modulus is not None
    edges = [0.0, *groups.edges, np.inf]
    ok = np.zeros(len(u), dtype=bool)
    for index, (m, k) in enumerate(zip(groups.multipliers, groups.coverage_factors, strict=True)):
        band = index // 2 if soft_axis else index
        base = u / m
        inside = (base >= edges[band] * (1 - U_ROUNDING)) & (
            base <= edges[band + 1] * (1 + U_ROUNDING)
        )
        if soft_axis:
            if bulk is None:
                continue
            inside &= (bulk < groups.soft_bulk_modulus) == bool(index % 2)
        ok |= inside & (np.abs(width - k * u) <= tolerance)
    return ok


def _check_target(
    table: TypedTable, target: Target, tolerance: float, calibration: Calibration | None
) -> list[Finding]:
    value, u, lower, upper = (
        table.numbers(n)
        for n in (target.column, target.uncertainty_column, target.lower_column,
                  target.upper_column)
    )  # fmt: skip
    columns = [target.lower_column, target.upper_column, target.column, target.uncertainty_column]
    check = f"consistency.{target.column}_interval"
    has_u = np.isfinite(u)
    has_bounds = np.isfinite(lower) & np.isfinite(upper)
    with np.errstate(divide="ignore", invalid="ignore"):
        below, above = np.log10(value / lower), np.log10(upper / value)
    mask_presence = (has_u != (np.isfinite(lower) | np.isfinite(upper))) | (has_u & ~has_bounds)
    judged = has_u & has_bounds & np.isfinite(value) & (value > 0) & (lower > 0)
    mask_order = judged & ~((lower < value) & (value < upper))
    mask_symmetry = judged & ~mask_order & (np.abs(above - below) > tolerance)
    width = 0.5 * (above + below)
    with np.errstate(invalid="ignore"):
        if calibration is None:
            mask_width = judged & ~mask_order & (width < u - tolerance)
        else:  # u is rounded too: its relative rounding scales into k·u
            bulk = (
                table.numbers(Target.LOG10_K_VRH.column) if target.column in table.columns else None
            )
            fits = allowed_factor(calibration, u, bulk, width, tolerance + 2 * U_ROUNDING * width)
            mask_width = judged & ~mask_order & ~fits
    return (
        findings_where(table, mask_presence, check=check, severity="error", columns=columns,
                       message=lambda i: "the 95 % interval must be given exactly where the "
                       "uncertainty is")
        + findings_where(table, mask_order, check=check, severity="error", columns=columns,
                         message=lambda i: f"{target.column} = {value[i]:.7g} is not inside its "
                         f"95 % interval [{lower[i]:.7g}, {upper[i]:.7g}]")
        + findings_where(table, mask_symmetry, check=check, severity="error", columns=columns,
                         message=lambda i: f"the 95 % interval of {target.column} is not "
                         f"symmetric in log10 ({below[i]:.6f} below, {above[i]:.6f} above)")
        + findings_where(table, mask_width, check=check, severity="error", columns=columns,
                         message=lambda i: f"the 95 % interval of {target.column} spans "
                         f"±{width[i]:.6f} in log10, "
                         + (f"narrower than u = {u[i]:.4g}" if calibration is None
                            else f"not k·u with the model card's k for this row (u = {u[i]:.4g})"))
    )  # fmt: skip


def _log10_tolerance(table: TypedTable, schema: dict[str, Any], names: tuple[str, ...]) -> float:
    """How far a log10 difference of CSV-rounded values can be off: each of the two values
    involved carries up to half a unit in the last significant digit."""
    if table_format(table.path) != "csv":
        return EXACT_LOG10_TOLERANCE
    digits = {f["name"]: f.get(SIGNIFICANT_DIGITS) for f in schema.get("fields", [])}
    fewest = min((digits.get(n) or 7) for n in names if n != names[1])
    relative = 0.5 * 10.0 ** (1 - fewest)
    return 4 * relative / np.log(10.0) + EXACT_LOG10_TOLERANCE
