"""The validator's tunable numbers, each with its reason (validate/settings.json)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from elastic_atlas.paths import contract_root


class Threshold(BaseModel):
    value: float
    unit: str
    description: str


class ValidationSettings(BaseModel):
    """Every tunable number of the validator, each with its reason (validate/settings.json)."""

    description: str = ""
    tolerance: Threshold
    strict_tolerance: Threshold
    poisson_ratio_scale: Threshold
    modulus_max: Threshold
    modulus_min: Threshold
    density_max: Threshold
    poisson_ratio_min: Threshold
    pugh_ratio_min: Threshold
    pugh_ratio_max: Threshold

    @classmethod
    def load(cls, path: Path | None = None) -> ValidationSettings:
        path = path or contract_root() / "validate" / "settings.json"
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
