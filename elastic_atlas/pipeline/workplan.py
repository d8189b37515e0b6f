"""The plan of a sharded build: every input of a recipe, in input order, with every verdict that
needs no structure, written once by the client as `parts/plan.parquet` (issue 23).

A row is one input: its source, member, where it lies (zip offset, sizes, CRC-32; a file's
size and modification time) and, where the input will not be read, why — a duplicate id, no
summary row, a band gap outside the window — exactly as `candidates` decides it for a streamed
build. Rows that will be read carry their summary cells (JSON), so a worker needs nothing but
its own rows. Row group i of the file is shard i: a worker reads one row group. Shards are whole
inference windows (`SHARD_INPUTS` is a multiple of the CPU and accelerator batches), so which
inputs share a batch depends on their position in the plan only, whatever the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.contract.reasons import REJECT_COLUMNS, Reason, Rejected
from elastic_atlas.errors import RecipeError, SourceError
from elastic_atlas.inputs.plan import source_members
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.inputs.sources import member_id
from elastic_atlas.pipeline.predict import ACCELERATOR_BATCH, CPU_BATCH
from elastic_atlas.pipeline.screen import screen_band_gap

SHARD_INPUTS = 2_048  # inputs per shard: a multiple of both inference batches
PLAN_NAME, PLAN_REJECTS_NAME = "plan.parquet", "plan-rejects.parquet"
PLAN_COLUMNS = pa.schema(
    [
        ("ordinal", pa.int64()),  # position among all inputs of the build
        ("origin", pa.int32()),  # index of the recipe's structure source
        ("member", pa.string()),  # zip member or file name
        ("material_id", pa.string()),
        ("size", pa.int64()),
        ("offset", pa.int64()),
        ("compressed_size", pa.int64()),
        ("crc32", pa.int64()),
        ("method", pa.int16()),
        ("mtime_ns", pa.int64()),
        ("reason", pa.string()),  # set: the input is not read (the verdict, with its detail)
        ("detail", pa.string()),
        ("summary", pa.string()),  # the id's summary cells as JSON (null without a summary)
    ]
)
REJECTS_SCHEMA = pa.schema([(name, pa.string()) for name in REJECT_COLUMNS])


@dataclass(frozen=True)
class Origin:
    """A structure source of the recipe as the workers read it."""

    path: str
    kind: str  # zip, folder or file
    source: str  # the name rejects and rows say they came from
    licence: str


@dataclass(frozen=True)
class Plan:
    folder: Path
    origins: tuple[Origin, ...]
    inputs: int  # plan rows (summary rows without a structure not included)
    shards: tuple[int, ...]  # inputs per shard, in order
    summary_only: int  # summary rows without a structure (rejects of the plan itself)

    @property
    def path(self) -> Path:
        return self.folder / PLAN_NAME

    @property
    def rejects_path(self) -> Path:
        return self.folder / PLAN_REJECTS_NAME


def check_shard_inputs(shard_inputs: int, batch_size: int | None = None) -> None:
    """Shards must be whole inference windows: of the batch a run sets, else of both default
    batches (a CPU worker's and an accelerator's), so no shard boundary changes a batch."""
    batches = (batch_size,) if batch_size else (CPU_BATCH, ACCELERATOR_BATCH)
    if shard_inputs <= 0 or any(shard_inputs % batch for batch in batches):
        raise RecipeError(
            f"--shard-size {shard_inputs}: must be a positive multiple of {max(batches)} "
            "(whole inference batches, so shards do not change a prediction)"
        )


def write_plan(
    recipe: Recipe,
    summary: dict[str, dict[str, Any]] | None,
    folder: Path,
    shard_inputs: int = SHARD_INPUTS,
    batch_size: int | None = None,
) -> Plan:
    """The plan of `recipe` in `folder` (plan.parquet, plan-rejects.parquet)."""
    check_shard_inputs(shard_inputs, batch_size)
    folder.mkdir(parents=True, exist_ok=True)
    origins, seen, shards = [], set(), []
    writer = _RowGroups(folder / PLAN_NAME, shard_inputs)
    with writer:
        for index, entry in enumerate(recipe.structures):
            if entry.kind != "cif":
                raise SourceError("a sharded build reads CIF sources; this recipe queries the "
                                  "MP API (build it with --engine local)")  # fmt: skip
            kind, members = source_members(entry.path)
            origins.append(Origin(str(Path(entry.path).resolve()), kind, entry.source,
                                  entry.licence))  # fmt: skip
            for batch in members.to_batches(max_chunksize=65_536):  # bounded Python rows
                for row in batch.to_pylist():
                    row["material_id"] = member_id(row["member"])
                    verdict, cells = _verdict(row["material_id"], summary, seen, recipe)
                    seen.add(row["material_id"])
                    row.update(origin=index, reason=None, detail=None, summary=cells)
                    if verdict is not None:
                        row.update(reason=str(verdict[0]), detail=verdict[1], summary=None)
                    writer.add(row)
        shards = writer.sizes
    missing = sorted(set(summary or {}) - seen)
    rejects = [Rejected(m, "summary", Reason.NO_STRUCTURE, "summary row without a structure "
                        "file").row() for m in missing]  # fmt: skip
    table = pa.Table.from_pylist([dict(zip(REJECT_COLUMNS, r, strict=True)) for r in rejects],
                                 schema=REJECTS_SCHEMA)  # fmt: skip
    pq.write_table(table, folder / PLAN_REJECTS_NAME)
    return Plan(folder, tuple(origins), sum(shards), tuple(shards), len(missing))


def _verdict(
    material_id: str,
    summary: dict[str, dict[str, Any]] | None,
    seen: set[str],
    recipe: Recipe,
) -> tuple[tuple[Reason, str] | None, str | None]:
    """(verdict, summary cells as JSON) of one input, in `candidates`' order: the join first
    (duplicate, no summary row), then the band-gap screen."""
    if material_id in seen:
        return (Reason.DUPLICATE_ID, f"{material_id} already read from an earlier input"), None
    if summary is not None and material_id not in summary:
        return (Reason.NO_SUMMARY_ROW, "structure without a row in the summary"), None
    cells = (summary or {}).get(material_id, {})
    gap = screen_band_gap({**cells, "material_id": material_id}, recipe.screen)
    return gap, (json.dumps(cells, sort_keys=True) if summary is not None else None)


class _RowGroups:
    """Plan rows written as row groups of exactly `size` rows (the last may be shorter)."""

    def __init__(self, path: Path, size: int) -> None:
        self.size, self.rows, self.sizes = size, [], []
        self.writer = pq.ParquetWriter(path, PLAN_COLUMNS)

    def add(self, row: dict[str, Any]) -> None:
        row["ordinal"] = sum(self.sizes) + len(self.rows)
        self.rows.append(row)
        if len(self.rows) == self.size:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=PLAN_COLUMNS)
            self.writer.write_table(table, row_group_size=self.size)
            self.sizes.append(len(self.rows))
            self.rows = []

    def __enter__(self) -> _RowGroups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
        self.writer.close()


def shard_rows(plan: Plan, index: int) -> list[dict[str, Any]]:
    """The plan rows of shard `index` (one row group)."""
    return pq.ParquetFile(plan.path).read_row_group(index).to_pylist()
