"""The cross-column physics rules as a frictionless checklist (validate/checklist.json).

`frictionless validate --checklist validate/checklist.json datapackage.json` then applies the
consistency rules of the tables with frictionless alone: every derived column recomputed from
the primary columns B, G, N, V and M with the constants of physics.py, within the default
relative tolerance of validate/settings.json (ν: absolute). Frictionless has no warnings, so
the plausibility thresholds (which flag rare but possible rows) stay with `elastic-atlas
validate`; the hard bounds are already constraints in the table schemas.

The formulas are composed here from physics.py, never written by hand, and a test keeps the
committed file in step (`elastic-atlas schema --write` rewrites it).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from elastic_atlas.contract import physics, risk
from elastic_atlas.contract.settings import ValidationSettings
from elastic_atlas.paths import contract_root


def checklist_path() -> Path:
    return contract_root() / "validate" / "checklist.json"


def _expressions() -> dict[str, str]:
    """Each derived column's formula over the primary columns (simpleeval syntax, SI inside).

    Frictionless reads number cells as Decimal, which does not mix with float constants, hence
    `float(...)` around every column.
    """
    k_vrh, g_vrh, nsites, volume, mass = (
        f"float({name})" for name in ("k_vrh", "g_vrh", "nsites", "volume", "mass")
    )
    rho = f"({mass} * {physics.U_PER_A3_TO_G_PER_CM3!r} / {volume})"  # g/cm^3
    # simpleeval refuses powers of numbers above 4e6, so the square and cube roots are taken
    # of velocities in km/s (sqrt(GPa / (g/cm^3)) = 1 km/s) and of number densities in 1/Å^3,
    # and scaled to m/s and 1/m outside the root.
    km_s = (physics.GPA_TO_PA / physics.G_PER_CM3_TO_KG_PER_M3) ** 0.5  # m/s per unit
    per_angstrom = physics.ANGSTROM3_TO_M3 ** (-1.0 / 3.0)  # 1/m per 1/Å
    vl_root = f"((({k_vrh} + 4.0 * {g_vrh} / 3.0) / {rho}) ** 0.5)"
    vt_root = f"(({g_vrh} / {rho}) ** 0.5)"
    vs_root = f"(((1.0 / {vl_root} ** 3 + 2.0 / {vt_root} ** 3) / 3.0) ** (-1.0 / 3.0))"
    v_l, v_t, v_s = (f"({km_s!r} * {root})" for root in (vl_root, vt_root, vs_root))
    h_over_k = physics.PLANCK_H / physics.BOLTZMANN_K
    wave_number = (
        f"({per_angstrom!r} * (3.0 * {nsites} / ({4.0 * math.pi!r} * {volume})) ** (1.0 / 3.0))"
    )
    theta = f"({h_over_k!r} * {wave_number} * {v_s})"
    return {
        "density": rho,
        "v_longitudinal": v_l,
        "v_transverse": v_t,
        "v_mean": v_s,
        "debye_temperature": theta,
        "poisson_ratio": f"((3.0 * {k_vrh} - 2.0 * {g_vrh}) / (6.0 * {k_vrh} + 2.0 * {g_vrh}))",
    }


def frictionless_checklist(settings: ValidationSettings | None = None) -> dict[str, Any]:
    settings = settings or ValidationSettings.load()
    tolerance = settings.tolerance.value
    checks = []
    for column, expected in _expressions().items():
        if column == "poisson_ratio":  # ν can be ~0: an absolute tolerance (settings.json)
            bound = repr(tolerance * settings.poisson_ratio_scale.value)
            formula = f"(float({column}) - {expected}) ** 2 <= {bound} ** 2"
        else:  # squared form: simpleeval offers no abs()
            formula = f"(float({column}) - {expected}) ** 2 <= ({tolerance!r} * {expected}) ** 2"
        checks.append({"type": "row-constraint", "formula": formula})
    # The two risk flags that never depend on a nullable column (contract/risk.py); the
    # uncertainty flag is null with its uncertainties, which simpleeval cannot compare.
    checks += [
        {"type": "row-constraint",
         "formula": f"risk_soft == (float(k_vrh) < {risk.SOFT_BULK_MODULUS!r})"},
        {"type": "row-constraint",
         "formula": f"risk_low_density == (float(density) < {risk.LOW_DENSITY!r})"},
    ]  # fmt: skip
    return {
        "title": "elastic-atlas physics consistency rules",
        "description": (
            "Each derived column of the MPED/NED tables recomputed from k_vrh, g_vrh, nsites, "
            f"volume and mass (PHYSICS.md), relative tolerance {tolerance:g} (poisson_ratio: "
            "absolute), and the risk flags risk_soft and risk_low_density recomputed from their "
            "rules. Composed by elastic_atlas.contract.checklist from physics.py, risk.py and "
            "validate/settings.json; plausibility warnings and the uncertainty flag are applied "
            "by `elastic-atlas validate` only."
        ),
        "checks": checks,
    }


def checklist_text() -> str:
    return json.dumps(frictionless_checklist(), indent=2, ensure_ascii=False) + "\n"


def write_checklist() -> Path:
    path = checklist_path()
    path.write_text(checklist_text(), encoding="utf-8")
    return path


def checklist_is_stale() -> bool:
    path = checklist_path()
    return not path.is_file() or path.read_text(encoding="utf-8") != checklist_text()
