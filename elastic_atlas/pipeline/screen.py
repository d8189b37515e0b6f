"""Screening: which candidates the study's tables keep, and why the others are left out.

Rules of the study: PBE band gap in [0.1, 3.0] eV and no radioactive element. A candidate whose
band gap is unknown follows the gap policy: `exclude` (default) or `include` (kept, `band_gap`
null, and said so in the build summary).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Element

from elastic_atlas.contract.reasons import Reason

# Tc (43), Pm (61) and every element from Po (84) upward: no stable isotope.
RADIOACTIVE = ("Tc", "Pm", *(Element.from_Z(z).symbol for z in range(84, 119)))

Verdict = tuple[Reason, str] | None  # (reason, detail), or None when the rule passes


class ScreenSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # `band_gap_mx = 1.0` is an error, not ignored

    band_gap_min: float = Field(0.1, description="lowest band gap kept (eV, inclusive)")
    band_gap_max: float = Field(3.0, description="highest band gap kept (eV, inclusive)")
    gap_policy: Literal["exclude", "include"] = "exclude"
    radioactive: list[str] = Field(default_factory=lambda: list(RADIOACTIVE))


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
