"""Every way an input can fail to become a row, in one place.

A `Reason` knows its stage and whether it is a screening rule of the study (screened out) or an
unusable input (rejected); a `Rejected` record carries one; `rejects_schema()` describes the
rejects files. A new reason is added here and nowhere else: the accounting, the rejects schema
and the release notes all read it from this enum.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    """Where the pipeline decided, in the order an input passes them."""

    JOIN = "join"  # structures joined with the summary
    SCREEN = "screen"  # a rule of the study
    STRUCTURE = "structure"  # reading and checking the structure
    FEATURES = "features"  # the checkpoint's element features
    INFERENCE = "inference"  # the models


class Reason(StrEnum):
    """A machine-readable reason (the value written to the rejects files)."""

    stage: Stage
    description: str
    screening: bool

    def __new__(cls, value: str, stage: Stage, description: str, screening: bool = False):
        member = str.__new__(cls, value)
        member._value_ = value
        member.stage, member.description, member.screening = stage, description, screening
        return member

    # rules of the study: screened out
    BAND_GAP_OUTSIDE_WINDOW = (
        "band_gap_outside_window", Stage.SCREEN, "band gap outside the window", True,
    )  # fmt: skip
    BAND_GAP_UNKNOWN = "band_gap_unknown", Stage.SCREEN, "no band gap (gap policy exclude)", True
    RADIOACTIVE_ELEMENT = (
        "radioactive_element", Stage.SCREEN, "contains an element without a stable isotope", True,
    )  # fmt: skip
    # joining sources and summary
    DUPLICATE_ID = "duplicate_id", Stage.JOIN, "the id was already read from an earlier input"
    NO_SUMMARY_ROW = "no_summary_row", Stage.JOIN, "a structure without a summary row"
    NO_STRUCTURE = "no_structure", Stage.JOIN, "a summary row without a structure"
    # the structure
    SKIPPED_FILE = (
        "skipped_file", Stage.STRUCTURE,
        "a file or zip member not read as a CIF (hidden, a name with spaces, another type)",
    )  # fmt: skip
    UNREADABLE_FILE = "unreadable_file", Stage.STRUCTURE, "the file is not UTF-8 text"
    FILE_TOO_LARGE = "file_too_large", Stage.STRUCTURE, "the CIF exceeds the size limit"
    UNREADABLE_STRUCTURE = (
        "unreadable_structure", Stage.STRUCTURE, "an API document without a usable structure",
    )  # fmt: skip
    EMPTY_CIF = "empty_cif", Stage.STRUCTURE, "the CIF is empty or has no data block"
    UNREADABLE_CIF = "unreadable_cif", Stage.STRUCTURE, "the CIF cannot be parsed"
    MULTIPLE_STRUCTURES = "multiple_structures", Stage.STRUCTURE, "several data blocks in one CIF"
    UNKNOWN_ELEMENT = "unknown_element", Stage.STRUCTURE, "a species that is not an element"
    PARTIAL_OCCUPANCY = "partial_occupancy", Stage.STRUCTURE, "disordered sites"
    ZERO_OCCUPANCY = "zero_occupancy", Stage.STRUCTURE, "an atom site with occupancy 0"
    BAD_OCCUPANCY = "bad_occupancy", Stage.STRUCTURE, "an occupancy that is not in (0, 1]"
    EMPTY_STRUCTURE = "empty_structure", Stage.STRUCTURE, "no sites"
    BAD_COORDINATES = "bad_coordinates", Stage.STRUCTURE, "non-finite or absurd coordinates"
    BAD_CELL = "bad_cell", Stage.STRUCTURE, "lattice vectors that span no volume"
    IMPLAUSIBLE_CELL = "implausible_cell", Stage.STRUCTURE, "impossible volume per atom or density"
    NEIGHBOR_BUDGET_EXCEEDED = (
        "neighbor_budget_exceeded", Stage.STRUCTURE, "the neighbour search exceeds its budget",
    )  # fmt: skip
    OVERLAPPING_ATOMS = "overlapping_atoms", Stage.STRUCTURE, "atoms closer than the limit"
    ISOLATED_ATOM = "isolated_atom", Stage.STRUCTURE, "an atom without neighbours in the radius"
    STRUCTURE_ERROR = "structure_error", Stage.STRUCTURE, "an unexpected error on the structure"
    # the checkpoints
    ELEMENT_NOT_FEATURIZED = (
        "element_not_featurized", Stage.FEATURES, "an element the checkpoint has no features for",
    )  # fmt: skip
    INFERENCE_ERROR = "inference_error", Stage.INFERENCE, "the models failed on the graph"
    NON_FINITE_PREDICTION = "non_finite_prediction", Stage.INFERENCE, "a NaN or infinite result"


class StructureRejected(Exception):
    """A structure that cannot become a row; `reason` says why, `detail` for the reader."""

    def __init__(self, reason: Reason | str, detail: str) -> None:
        self.reason = Reason(reason)  # an unknown reason is a bug, caught here
        self.detail = detail
        super().__init__(f"{self.reason}: {detail}")


@dataclass(frozen=True)
class Rejected:
    """One input that did not become a row (screened out or rejected)."""

    material_id: str
    source: str
    reason: Reason
    detail: str

    @property
    def stage(self) -> Stage:
        return self.reason.stage

    def row(self) -> tuple[str, str, str, str, str]:
        return (self.material_id, self.source, str(self.stage), str(self.reason), self.detail)


REJECT_COLUMNS = ("material_id", "source", "stage", "reason", "detail")


def rejects_schema(table_column: bool = True) -> dict[str, Any]:
    """Table Schema of a rejects file (with the leading `table` column of a release's)."""
    descriptions = {
        "table": "Table the input was meant for (mped or ned).",
        "material_id": "Id of the input (file stem or summary id).",
        "source": "Structure source the input came from ('summary' for a summary row).",
        "stage": f"Stage that decided: {', '.join(Stage)}.",
        "reason": "Machine-readable reason; screening rules of the study: "
        + ", ".join(r for r in Reason if r.screening)
        + "; every other reason is an unusable input.",
        "detail": "Human-readable detail.",
    }
    names = list(descriptions)[0 if table_column else 1 :]
    fields = [
        {"name": n, "type": "string", "description": descriptions[n], "unit": "1"} for n in names
    ]
    enums = {"stage": list(Stage), "reason": list(Reason)}
    for field in fields:
        if field["name"] in enums:
            allowed = [str(v) for v in enums[field["name"]]]
            field["constraints"] = {"required": True, "enum": allowed}
    return {"fields": fields}
