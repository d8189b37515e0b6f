"""The contract of an own checkpoint's model.json, checked before any weight is read.

A model card is input like any other: a wrong type, an unknown key, a target the tables do not
know, a unit other than log10(GPa), a normaliser with no spread, a file name that leaves the
checkpoint folder — each would make every prediction wrong without a visible error, so each is
refused with the key that is wrong. Training provenance and metrics are free-form, except the
training-ids file, which must be a plain name inside the folder.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from elastic_atlas.contract.targets import TARGET_NAMES, Target
from elastic_atlas.model.architecture import Architecture
from elastic_atlas.model.calibration import group_count
from elastic_atlas.model.graph import GraphParameters

FORMAT_NAME = "elastic-atlas-cgcnn"
FORMAT_VERSION = 1
KNOWN_TARGETS = TARGET_NAMES
SHA256 = re.compile(r"[0-9a-f]{64}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def plain_file_name(name: str) -> str:
    """A file of the checkpoint folder itself: no folder part, no '..', nothing hidden."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise ValueError(f"{name!r} is not a plain file name inside the checkpoint folder")
    return name


class FileEntry(Strict):
    file: str
    sha256: str

    _name = field_validator("file")(plain_file_name)

    @field_validator("sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        if not SHA256.fullmatch(value):
            raise ValueError(f"{value!r} is not a sha256 (64 lower-case hex digits)")
        return value


class FeatureEntry(FileEntry):
    source: str
    layout: list[dict[str, Any]] | None = None  # what each block of the features encodes


class GroupsEntry(Strict):
    edges: list[float] = Field(max_length=16)
    soft_bulk_modulus: float | None = Field(gt=0, allow_inf_nan=False)
    multipliers: list[float] = Field(min_length=1, max_length=64)
    coverage_factors: list[float] = Field(min_length=1, max_length=64)
    leave_out_weight: float = Field(ge=0, le=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> GroupsEntry:
        count = group_count(len(self.edges), self.soft_bulk_modulus is not None)
        if len(self.multipliers) != count or len(self.coverage_factors) != count:
            raise ValueError(f"{count} groups need {count} multipliers and coverage factors")
        values = [*self.edges, *self.multipliers, *self.coverage_factors]
        if not all(math.isfinite(v) and v > 0 for v in values):
            raise ValueError("band edges, multipliers and coverage factors must be positive")
        if self.edges != sorted(self.edges):
            raise ValueError("the band edges must ascend")
        return self


class CalibrationEntry(Strict):
    a: float = Field(ge=0, allow_inf_nan=False)
    b: float = Field(ge=0, allow_inf_nan=False)
    k95: float = Field(gt=0, allow_inf_nan=False)
    groups: GroupsEntry | None = None


def known_target(name: str) -> str:
    if name not in TARGET_NAMES:
        raise ValueError(f"{name!r} is not a target of the tables ({', '.join(TARGET_NAMES)})")
    return name


class TargetEntry(Strict):
    name: str
    _known = field_validator("name")(known_target)
    mean: float = Field(allow_inf_nan=False)
    std: float = Field(gt=0, allow_inf_nan=False)  # a zero spread would divide by zero
    unit: Literal["log10(GPa)"]  # contract.targets.TARGET_UNIT
    calibration: CalibrationEntry | None = None


class StrictArchitecture(Architecture):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StrictGraph(GraphParameters):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ModelCard(BaseModel):
    """model.json of an own checkpoint (format elastic-atlas-cgcnn, version 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["elastic-atlas-cgcnn"]
    format_version: Literal[1]
    architecture: StrictArchitecture
    graph: StrictGraph
    targets: list[TargetEntry] = Field(min_length=1)
    atom_features: FeatureEntry
    members: list[FileEntry] = Field(min_length=1)
    code_version: str
    created: str
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ModelCard:
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"targets: {names} repeats a target")
        if len(names) != self.architecture.n_targets:
            raise ValueError(
                f"targets: {len(names)} listed, architecture.n_targets is "
                f"{self.architecture.n_targets}"
            )
        means = {t.name: t.mean for t in self.targets}
        bulk, shear = Target.LOG10_K_VRH.value, Target.LOG10_G_VRH.value
        if {bulk, shear} <= set(means) and means[bulk] <= means[shear]:
            # B exceeds G for nearly every crystal: a card with K's mean below G's has its
            # targets swapped, and would publish every row's moduli the wrong way round.
            raise ValueError("targets: the log10_k_vrh normaliser mean is not above log10_g_vrh's "
                             "(targets swapped?)")  # fmt: skip
        files = [m.file for m in self.members] + [self.atom_features.file]
        if len(set(files)) != len(files):
            raise ValueError(f"members/atom_features: a file is listed twice ({files})")
        ids = self.training.get("ids")
        if ids is not None:
            if not isinstance(ids, dict) or not isinstance(ids.get("file"), str):
                raise ValueError("training.ids: expected {file = <name>}")
            plain_file_name(ids["file"])
        return self


def validated_card(card: Any, where: str) -> ModelCard:
    """The card as a ModelCard, or ValueError naming every key that is wrong."""
    try:
        return ModelCard.model_validate(card)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in error.errors()[:5]
        )
        raise ValueError(f"{where}: {problems}") from None
