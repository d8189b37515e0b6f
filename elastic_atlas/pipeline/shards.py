"""Seams for scale-out: shards of inputs become Arrow tables plus their accounting.

`process_shard` is the unit of work a distributed engine maps over shards (Dask, Ray): a pure
function of its inputs and the (picklable) `ShardSpec`, returning an Arrow table of rows, an
`Accounting` and a symmetry tally, all of which merge. A local build streams through the same
steps and spools its rows into Parquet row groups as they come, instead of holding every row
as Python objects; only the final sort by id holds the columns of the whole table.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.inputs.recipe import ScreenSettings
from elastic_atlas.inputs.sources import RawStructure
from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.pipeline.candidates import SYMMETRY_CHECK, add_symmetry, screen_structure
from elastic_atlas.pipeline.crosscheck import CrossCheck
from elastic_atlas.pipeline.driver import RunOptions, stream
from elastic_atlas.pipeline.model_refs import ModelRef, checkpoints_of
from elastic_atlas.pipeline.records import Accounting, Predicted
from elastic_atlas.pipeline.tables import arrow_table, table_frame

BATCH_ROWS = 4096  # rows per Parquet row group of the spool


@dataclass
class SymmetryTally:
    """Summary space groups checked against the structure: how many, which disagree."""

    checked: int = 0
    disagree: list[str] = field(default_factory=list)

    def add(self, records: Iterable[Predicted]) -> None:
        for r in records:
            if SYMMETRY_CHECK in r.info:
                self.checked += 1
                if r.info[SYMMETRY_CHECK] != r.info.get("space_group_number"):
                    self.disagree.append(r.material_id)

    def merge(self, other: SymmetryTally) -> SymmetryTally:
        return SymmetryTally(self.checked + other.checked, self.disagree + other.disagree)

    def summary(self) -> dict[str, Any]:
        ids = sorted(self.disagree)
        return {"checked": self.checked, "disagree": len(ids), "examples": ids[:10]}


@dataclass(frozen=True)
class ShardSpec:
    """What every shard of one table needs (sent once to each worker)."""

    table: str
    models: ModelRef  # the checkpoints by reference: each process loads them once, itself
    screen: ScreenSettings
    check_every: int = 16
    batch_size: int | None = None  # inference batch; None: the default of the device
    crosscheck: CrossCheck | None = None  # DFT moduli and training ids for the rows

    @property
    def checkpoints(self) -> list[Checkpoint]:
        return checkpoints_of(self.models)

    def hooks(self) -> dict[str, Any]:
        return {
            "extra": partial(add_symmetry, check_every=self.check_every),
            "screen": partial(screen_structure, settings=self.screen),
        }


@dataclass
class ShardResult:
    rows: pa.Table
    book: Accounting
    symmetry: SymmetryTally


def table_rows(records: list[Predicted], spec: ShardSpec) -> pa.Table:
    """Rows of accepted predictions as an Arrow table in the schema's types, sorted by id."""
    return arrow_table(table_frame(records, spec.table, spec.crosscheck), spec.table)


def process_shard(raws: list[RawStructure], spec: ShardSpec) -> ShardResult:
    """One shard of joined candidates → its rows, accounting and symmetry tally (in-process).

    Torch runs one thread here, as in the build's workers: with more, a matrix product may sum
    in another order and change the last bits of a prediction.
    """
    import torch

    torch.set_num_threads(1)
    book = Accounting(inputs=len(raws))
    quiet = RunOptions(workers=0, batch_size=spec.batch_size, quiet=True)
    records = list(stream(raws, spec.checkpoints, book, quiet, **spec.hooks()))
    symmetry = SymmetryTally()
    symmetry.add(records)
    return ShardResult(table_rows(records, spec), book, symmetry)


def batched(records: Iterable[Predicted], size: int = BATCH_ROWS) -> Iterator[list[Predicted]]:
    chunk: list[Predicted] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class TableSpool:
    """Accepted rows written as Parquet row groups to a temporary file as they come."""

    def __init__(self, spec: ShardSpec) -> None:
        self.spec = spec
        self._folder = tempfile.TemporaryDirectory(prefix="elastic-atlas-spool-")
        self.path = Path(self._folder.name) / "rows.parquet"
        self._writer: pq.ParquetWriter | None = None
        self.schema = table_rows([], spec).schema

    def add(self, rows: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self.schema)
        self._writer.write_table(rows.cast(self.schema))

    def sorted_frame(self) -> pd.DataFrame:
        """The whole table sorted by id, with the dtypes the writers expect."""
        if self._writer is not None:
            self._writer.close()
            rows = pq.read_table(self.path)
        else:
            rows = self.schema.empty_table()
        rows = rows.sort_by("material_id")
        return rows.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)

    def close(self) -> None:
        if self._writer is not None and self._writer.is_open:
            self._writer.close()
        self._folder.cleanup()

    def __enter__(self) -> TableSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
