"""What the pipeline produces for each input, and the accounting of a build.

Every input ends as exactly one `Predicted` (a row to be) or one `Rejected` (contract.reasons);
an `Accounting` counts them. Accountings of shards merge, so a build split over processes or
machines adds up exactly as one run would.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from elastic_atlas.contract.reasons import Reason, Rejected


@dataclass
class Predicted:
    material_id: str
    source: str
    values: dict[str, float]  # target name -> prediction (checkpoint units)
    spread: dict[str, float]  # ensemble standard deviation per target (0 for one member)
    info: dict[str, Any]
    # calibrated standard uncertainty per target (NaN where the checkpoint has no calibration)
    uncertainty: dict[str, float] = field(default_factory=dict)
    # half-width of the 95 % interval per target, k95·u (NaN likewise)
    expanded_uncertainty: dict[str, float] = field(default_factory=dict)


@dataclass
class Accounting:
    """Inputs read, rows accepted and the inputs that did not become rows."""

    inputs: int = 0
    accepted: int = 0
    rejects: list[Rejected] = field(default_factory=list)

    def add(self, record: Rejected) -> None:
        self.rejects.append(record)

    def merge(self, other: Accounting) -> Accounting:
        return Accounting(
            self.inputs + other.inputs, self.accepted + other.accepted, self.rejects + other.rejects
        )

    def counts(self) -> tuple[Counter[str], Counter[str]]:
        """(screened out by reason, rejected by reason): the reason itself says which."""
        screened = Counter(str(r.reason) for r in self.rejects if r.reason.screening)
        rejected = Counter(str(r.reason) for r in self.rejects if not r.reason.screening)
        return screened, rejected

    def check(self) -> None:
        """Every input is a row or a reject: the one invariant of a build."""
        total = self.accepted + len(self.rejects)
        if total != self.inputs:
            raise AssertionError(f"accounting broken: {total} != {self.inputs} inputs")


@dataclass
class Tally:
    """The accounting of a sharded build, by counts: its rejects are in files, not in memory."""

    inputs: int = 0
    accepted: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def counts(self) -> tuple[Counter[str], Counter[str]]:
        screened = Counter({r: n for r, n in self.reasons.items() if Reason(r).screening})
        rejected = Counter({r: n for r, n in self.reasons.items() if not Reason(r).screening})
        return screened, rejected

    def check(self) -> None:
        total = self.accepted + sum(self.reasons.values())
        if total != self.inputs:
            raise AssertionError(f"accounting broken: {total} != {self.inputs} inputs")


class BuildStatistics(BaseModel):
    """What a table's build did, counted: the accounting by reason, the screen as applied,
    the checkpoints' provenance, time and memory (summary.json of `build`; the facts every
    release statement about the table is generated from)."""

    table: str
    recipe: str | None  # the recipe file, relative to the contract folders when inside them
    inputs: int
    accepted: int
    screened_out: dict[str, int]
    rejected: dict[str, int]
    licence: str
    gap_policy: str
    symmetry_check: dict[str, Any]
    band_gap_null_rows: int
    warnings: list[str]
    checkpoints: list[dict[str, Any]]  # provenance of each checkpoint (path, kind, sha256 ...)
    # Each checkpoint's model card by its provenance path, in memory only: the card travels
    # with the release as a file, and is read from where the checkpoint was loaded — never by
    # guessing that folder from the provenance path (which names no machine folder).
    cards: dict[str, dict[str, Any]] = Field(default_factory=dict, exclude=True)
    # a sharded build: engine, shards, shards reused from an earlier run, parts of other keys
    shards: dict[str, Any] = Field(default_factory=dict)
    seconds: float
    inputs_per_second: float | None
    peak_rss_mib: float
    code_version: str = ""  # elastic-atlas's version string
    code_sha256: str = ""  # digest of the package's sources (digest.source_digest)
