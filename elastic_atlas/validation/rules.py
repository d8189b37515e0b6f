"""Row checks of a table: the schema's constraints, hard physical bounds, consistency and
plausibility.

Every check is one vectorised mask over the whole table; a `Finding` record is made only for the
rows that fail, so a clean 100k-row table costs a few array operations per rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from elastic_atlas.contract import physics
from elastic_atlas.contract.settings import ValidationSettings
from elastic_atlas.validation.dft_rules import check_dft_status
from elastic_atlas.validation.findings import Finding, findings_where
from elastic_atlas.validation.interval_rules import check_intervals
from elastic_atlas.validation.risk_rules import check_risk_flags
from elastic_atlas.validation.schema_rules import check_schema
from elastic_atlas.validation.tableio import TypedTable

# v_l / v_t > 2/√3 follows from B > 0 (PHYSICS.md, hard bounds).
MIN_VELOCITY_RATIO = 2.0 / math.sqrt(3.0)


def check_finite(table: TypedTable, schema: dict[str, Any]) -> list[Finding]:
    """NaN or ±inf in a number column is an error (a missing value is `schema.required`)."""
    found: list[Finding] = []
    for field in schema["fields"]:
        name = field["name"]
        if field["type"] in ("number", "integer") and name in table.columns:
            column = table.columns[name]
            mask = ~column.missing & ~column.wrong_type & ~np.isfinite(column.values)
            found += findings_where(
                table,
                mask,
                check="bounds.finite",
                severity="error",
                columns=[name],
                stored=column.values,
                message=lambda i, n=name, c=column: f"{n} = {c.values[i]} is not a finite number",
            )
    return found


def check_velocity_bounds(table: TypedTable) -> list[Finding]:
    """v_l / v_t > 2/√3 and v_t < v_s < v_l (PHYSICS.md, hard bounds)."""
    found: list[Finding] = []
    names = ("v_longitudinal", "v_transverse", "v_mean")
    if not all(name in table.columns for name in names[:2]):
        return found
    vl, vt = table.numbers("v_longitudinal"), table.numbers("v_transverse")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = vl / vt
    usable = np.isfinite(vl) & np.isfinite(vt) & (vt > 0)
    found += findings_where(
        table,
        usable & (ratio <= MIN_VELOCITY_RATIO),
        check="bounds.velocity_ratio",
        severity="error",
        columns=["v_longitudinal", "v_transverse"],
        stored=ratio,
        expected=np.full(len(ratio), MIN_VELOCITY_RATIO),
        message=lambda i: (
            f"v_longitudinal / v_transverse = {ratio[i]:.6g} must exceed 2/sqrt(3) "
            "(implied by B > 0)"
        ),
    )
    if "v_mean" in table.columns:
        vs = table.numbers("v_mean")
        usable &= np.isfinite(vs)
        mask = usable & ~((vt < vs) & (vs < vl))
        found += findings_where(
            table,
            mask,
            check="bounds.velocity_order",
            severity="error",
            columns=["v_transverse", "v_mean", "v_longitudinal"],
            stored=vs,
            message=lambda i: (
                f"expected v_transverse < v_mean < v_longitudinal, got {vt[i]:.6g}, "
                f"{vs[i]:.6g}, {vl[i]:.6g}"
            ),
        )
    return found


def expected_derived(table: TypedTable) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Derived columns recomputed from the primary columns B, G, N, V, M (ρ when M is absent).

    Each derived column is recomputed from primaries only, never from another stored derived
    column, so one wrong cell produces exactly one consistency error.
    """
    has = table.columns.__contains__
    expected: dict[str, np.ndarray] = {}
    inputs: dict[str, list[str]] = {}
    if has("mass") and has("volume"):
        rho = physics.density(table.numbers("mass"), table.numbers("volume"))
        expected["density"], inputs["density"] = rho, ["mass", "volume"]
        rho_inputs = ["mass", "volume"]
    elif has("density"):
        rho, rho_inputs = table.numbers("density"), ["density"]
    else:
        return expected, inputs
    if not (has("k_vrh") and has("g_vrh")):
        return expected, inputs
    with np.errstate(divide="ignore", invalid="ignore"):
        k, g = table.numbers("k_vrh"), table.numbers("g_vrh")
        vl = physics.v_longitudinal(k, g, rho)
        vt = physics.v_transverse(g, rho)
        vs = physics.v_mean(vl, vt)
        expected["v_longitudinal"], inputs["v_longitudinal"] = vl, ["k_vrh", "g_vrh", *rho_inputs]
        expected["v_transverse"], inputs["v_transverse"] = vt, ["g_vrh", *rho_inputs]
        expected["v_mean"], inputs["v_mean"] = vs, ["k_vrh", "g_vrh", *rho_inputs]
        expected["poisson_ratio"], inputs["poisson_ratio"] = (
            physics.poisson_ratio(vl, vt),
            ["k_vrh", "g_vrh"],
        )
        if has("nsites") and has("volume"):
            expected["debye_temperature"] = physics.debye_temperature(
                table.numbers("nsites"), table.numbers("volume"), vs
            )
            debye_inputs = ["nsites", "volume", "k_vrh", "g_vrh", *rho_inputs]
            inputs["debye_temperature"] = list(dict.fromkeys(debye_inputs))
    return expected, inputs


def check_consistency(
    table: TypedTable, tolerance: float, settings: ValidationSettings
) -> list[Finding]:
    """Every derived column equals its formula within a relative tolerance."""
    expected, inputs = expected_derived(table)
    found: list[Finding] = []
    for name, want in expected.items():
        if name not in table.columns:
            continue
        have = table.numbers(name)
        usable = np.isfinite(want) & np.isfinite(have)
        scale = np.abs(want)
        if name == "poisson_ratio":
            scale = np.full(len(want), settings.poisson_ratio_scale.value)
        with np.errstate(invalid="ignore"):
            difference = np.abs(have - want)
            mask = usable & (difference > tolerance * scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = difference / scale
        found += findings_where(
            table,
            mask,
            check=f"consistency.{name}",
            severity="error",
            columns=[name, *inputs[name]],
            stored=have,
            expected=want,
            message=lambda i, n=name, h=have, w=want, r=relative: (
                f"{n} = {h[i]:.9g} but recomputed from {', '.join(inputs[n])} gives {w[i]:.9g} "
                f"(relative difference {r[i]:.2e} > tolerance {tolerance:g})"
            ),
        )
    return found


def check_plausibility(table: TypedTable, settings: ValidationSettings) -> list[Finding]:
    """Suspicious but possible values (warnings), thresholds from the settings."""
    return check_moduli_plausibility(table, settings) + check_other_plausibility(table, settings)


def check_moduli_plausibility(table: TypedTable, settings: ValidationSettings) -> list[Finding]:
    """B or G above the stiffest known crystal or below a soft solid's modulus (warnings)."""
    found: list[Finding] = []
    has = table.columns.__contains__
    high, low = settings.modulus_max.value, settings.modulus_min.value
    for name in ("k_vrh", "g_vrh"):
        if has(name):
            values = table.numbers(name)
            found += findings_where(
                table,
                values > high,
                check="plausibility.modulus_high",
                severity="warning",
                columns=[name],
                stored=values,
                message=lambda i, n=name, v=values: f"{n} = {v[i]:.6g} GPa is above {high:g} GPa",
            )
            found += findings_where(
                table,
                values < low,
                check="plausibility.modulus_low",
                severity="warning",
                columns=[name],
                stored=values,
                message=lambda i, n=name, v=values: f"{n} = {v[i]:.6g} GPa is below {low:g} GPa",
            )
    return found


def check_other_plausibility(table: TypedTable, settings: ValidationSettings) -> list[Finding]:
    """Density, an auxetic Poisson's ratio and the Pugh ratio outside their usual ranges."""
    found: list[Finding] = []
    has = table.columns.__contains__
    if has("density"):
        rho, limit = table.numbers("density"), settings.density_max.value
        found += findings_where(
            table,
            rho > limit,
            check="plausibility.density_high",
            severity="warning",
            columns=["density"],
            stored=rho,
            message=lambda i: f"density = {rho[i]:.6g} g/cm^3 is above {limit:g} g/cm^3",
        )
    if has("poisson_ratio"):
        nu, limit = table.numbers("poisson_ratio"), settings.poisson_ratio_min.value
        found += findings_where(
            table,
            (nu < limit) & (nu > -1),
            check="plausibility.poisson_ratio_low",
            severity="warning",
            columns=["poisson_ratio"],
            stored=nu,
            message=lambda i: f"poisson_ratio = {nu[i]:.6g} is below {limit:g} (auxetic)",
        )
    if has("k_vrh") and has("g_vrh"):
        with np.errstate(divide="ignore", invalid="ignore"):
            pugh = physics.pugh_ratio(table.numbers("k_vrh"), table.numbers("g_vrh"))
        low, high = settings.pugh_ratio_min.value, settings.pugh_ratio_max.value
        positive = (table.numbers("k_vrh") > 0) & (table.numbers("g_vrh") > 0)
        found += findings_where(
            table,
            positive & ((pugh < low) | (pugh > high)),
            check="plausibility.pugh_ratio",
            severity="warning",
            columns=["k_vrh", "g_vrh"],
            stored=pugh,
            message=lambda i: f"Pugh ratio B/G = {pugh[i]:.6g} is outside {low:g}-{high:g}",
        )
    return found


def validate_typed_table(
    table: TypedTable,
    schema: dict[str, Any],
    *,
    tolerance: float,
    settings: ValidationSettings,
    full_schema: bool,
) -> list[Finding]:
    """All row checks of one table."""
    with np.errstate(invalid="ignore"):
        return (
            check_schema(table, schema, full_schema)
            + check_finite(table, schema)
            + check_velocity_bounds(table)
            + check_consistency(table, tolerance, settings)
            + check_risk_flags(table, schema)
            + check_intervals(table, schema)
            + check_dft_status(table)
            + check_plausibility(table, settings)
        )
