"""Screening: which candidates the study's tables keep, and why the others are left out.

Rules of the study: PBE band gap in [0.1, 3.0] eV and no radioactive element. A candidate whose
band gap is unknown follows the gap policy: `exclude` (default) or `include` (kept, `band_gap`
null, and said so in the build summary).
"""

from __future__ import annotations

from typing import Any

from elastic_atlas.contract.reasons import Reason
from elastic_atlas.inputs.recipe import RADIOACTIVE, ScreenSettings  # noqa: F401 (re-export)

Verdict = tuple[Reason, str] | None  # (reason, detail), or None when the rule passes


def screen_band_gap(metadata: dict[str, Any], settings: ScreenSettings) -> Verdict:
    gap = metadata.get("band_gap")
    if gap is None:
        if settings.gap_policy == "include":
            return None
        return Reason.BAND_GAP_UNKNOWN, "no band gap in the summary (gap policy: exclude)"
    if not settings.band_gap_min <= gap <= settings.band_gap_max:
        return (
            Reason.BAND_GAP_OUTSIDE_WINDOW,
            f"band gap {gap:g} eV outside [{settings.band_gap_min:g}, {settings.band_gap_max:g}]",
        )
    return None


def screen_elements(elements: list[str], settings: ScreenSettings) -> Verdict:
    bad = sorted(set(elements) & set(settings.radioactive))
    if bad:
        return Reason.RADIOACTIVE_ELEMENT, f"contains {', '.join(bad)}"
    return None
