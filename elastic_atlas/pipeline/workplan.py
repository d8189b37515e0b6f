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
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from elastic_atlas.contract.reasons import REJECT_COLUMNS, Reason, Rejected
from elastic_atlas.errors import RecipeError
from elastic_atlas.inputs.plan import BATCH, PLAN_SCHEMA, source_members
from elastic_atlas.inputs.recipe import Recipe, ScreenSettings
from elastic_atlas.inputs.sources import member_id
from elastic_atlas.pipeline.outputs import check_writable
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
    summary: pa.Table | None,
    folder: Path,
    shard_inputs: int = SHARD_INPUTS,
    batch_size: int | None = None,
) -> Plan:
    """The plan of `recipe` in `folder` (plan.parquet, plan-rejects.parquet); `summary`: the
    recipe's summary as `summary_table` reads it (sorted by id), or None.

    In memory: the summary, and the ids and ordinals of the inputs that pass the join (for the
    duplicates, found by sorting them once all are known) — Arrow arrays, tens of bytes per
    input; the members themselves are streamed."""
    check_shard_inputs(shard_inputs, batch_size)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (PLAN_NAME, PLAN_REJECTS_NAME):  # never through a link planted in the folder
        check_writable(folder / name)
    origins, joined = [], []
    with _RowGroups(folder / PLAN_NAME, shard_inputs) as writer:
        for index, entry in enumerate(recipe.structures):
            if entry.kind == "mp_api":
                origin, batches = _mp_api_members(entry.criteria)
                origins.append(replace(origin, source=entry.source, licence=entry.licence))
                # the band gap of an MP document comes with it: the shard screens it
                screen, id_of = None, str
            else:
                kind, batches = source_members(entry.path)
                origins.append(Origin(str(Path(entry.path).resolve()), kind, entry.source,
                                      entry.licence))  # fmt: skip
                screen, id_of = recipe.screen, member_id
            for batch in batches:
                ids = pa.array([id_of(m) for m in batch.column("member").to_pylist()], pa.string())
                joined.append(_plan_batch(writer, (batch, ids), index, summary, screen))
    plan = Plan(folder, tuple(origins), sum(writer.sizes), tuple(writer.sizes), 0)
    joined_ids = pa.concat_tables(joined) if joined else _JOINED.empty_table()
    _mark_duplicates(plan, joined_ids)
    missing = _summary_only(summary, joined_ids["material_id"])
    detail = "summary row without a structure file"
    rows = [Rejected(m, "summary", Reason.NO_STRUCTURE, detail).row() for m in missing]
    table = pa.Table.from_pylist([dict(zip(REJECT_COLUMNS, r, strict=True)) for r in rows],
                                 schema=REJECTS_SCHEMA)  # fmt: skip
    pq.write_table(table, folder / PLAN_REJECTS_NAME)
    return replace(plan, summary_only=len(missing))


def _mp_api_members(criteria: dict[str, Any]) -> tuple[Origin, Iterator[pa.RecordBatch]]:
    """(origin, members) of a Materials Project query: its ids, listed once by the client
    (`MPClient.list_ids`); the member is the id. The origin's path is the endpoint, so parts
    made from another server are not reused."""
    from elastic_atlas.inputs.mp_api import MPClient

    client = MPClient()  # no key: a one-line error before anything is planned

    def batches() -> Iterator[pa.RecordBatch]:
        ids = client.list_ids(**criteria)
        while chunk := list(islice(ids, BATCH)):
            yield pa.record_batch(
                [pa.array(chunk, pa.string())]
                + [pa.nulls(len(chunk), field.type) for field in list(PLAN_SCHEMA)[1:]],
                schema=PLAN_SCHEMA,
            )

    origin = Origin(client.base_url, MP_API, "", "")
    return origin, batches()


MP_API = "mp_api"  # the kind of an origin that is a Materials Project query
PLAN_SLICE = 4_096  # members planned at a time (65,536 at once held ~100 MiB of dicts at 1M)
_JOINED = pa.schema([("material_id", pa.string()), ("ordinal", pa.int64())])


def _plan_batch(
    writer: _RowGroups,
    members: tuple[pa.RecordBatch, pa.Array],
    origin: int,
    summary: pa.Table | None,
    screen: ScreenSettings | None,
) -> pa.Table:
    """One batch of a source's members into the plan, with the join and the band-gap screen
    as `candidates` applies them (no screen: the shard screens); the (id, ordinal) of the
    members that passed the join. `members`: the batch and the ids its members stand for."""
    batch, ids = members
    found = None if summary is None else pc.index_in(ids, value_set=summary["material_id"])
    joined = []
    for start in range(0, len(batch), PLAN_SLICE):  # a row is a Python dict while planned
        at = None if found is None else found.slice(start, PLAN_SLICE)
        piece = (batch.slice(start, PLAN_SLICE), ids.slice(start, PLAN_SLICE), at)
        joined.append(_plan_slice(writer, piece, origin, summary, screen))
    return pa.concat_tables(joined) if joined else _JOINED.empty_table()


def _plan_slice(
    writer: _RowGroups,
    piece: tuple[pa.RecordBatch, pa.Array, pa.Array | None],
    origin: int,
    summary: pa.Table | None,
    screen: ScreenSettings | None,
) -> pa.Table:
    """`_plan_batch` for one slice: (members, their ids, their summary rows or None)."""
    batch, id_array, found = piece
    ids = id_array.to_pylist()
    cells: list[dict[str, Any] | None]
    if summary is None or found is None:
        cells = [{} for _ in ids]
    else:
        rows = summary.drop_columns(["material_id"]).take(found).to_pylist()
        cells = [None if at is None else row
                 for at, row in zip(found.to_pylist(), rows, strict=True)]  # fmt: skip
    joined_ids, joined_ordinals = [], []
    for row, material_id, summary_cells in zip(batch.to_pylist(), ids, cells, strict=True):
        row.update(origin=origin, material_id=material_id, reason=None, detail=None)
        if summary_cells is None:
            verdict = (Reason.NO_SUMMARY_ROW, "structure without a row in the summary")
        else:
            known = {**summary_cells, "material_id": material_id}
            verdict = None if screen is None else screen_band_gap(known, screen)
            joined_ids.append(material_id)
            joined_ordinals.append(writer.next_ordinal)
        if verdict is not None:
            row.update(reason=str(verdict[0]), detail=verdict[1], summary=None)
        elif summary is not None:
            row["summary"] = json.dumps(summary_cells, sort_keys=True)
        writer.add(row)
    return pa.table([pa.array(joined_ids, pa.string()), pa.array(joined_ordinals, pa.int64())],
                    schema=_JOINED)  # fmt: skip


def _mark_duplicates(plan: Plan, joined: pa.Table) -> None:
    """Every input whose id passed the join at an earlier input becomes a `duplicate_id`
    (whatever its other verdicts), as in a streamed build; the plan is rewritten only when
    there is one."""
    ordered = joined.sort_by([("material_id", "ascending"), ("ordinal", "ascending")])
    ids = ordered["material_id"]
    if len(ids) < 2:
        return
    repeated = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    duplicates = set(ordered["ordinal"].slice(1).filter(repeated).to_pylist())
    if not duplicates:
        return
    source = pq.ParquetFile(plan.path)
    rewritten = plan.path.with_name(f".{PLAN_NAME}.{os.getpid()}.tmp")
    with pq.ParquetWriter(rewritten, PLAN_COLUMNS) as writer:
        for group in range(source.num_row_groups):
            rows = source.read_row_group(group).to_pylist()
            for row in rows:
                if row["ordinal"] in duplicates:
                    detail = f"{row['material_id']} already read from an earlier input"
                    row.update(reason=str(Reason.DUPLICATE_ID), detail=detail, summary=None)
            table = pa.Table.from_pylist(rows, schema=PLAN_COLUMNS)
            writer.write_table(table, row_group_size=len(rows))
    os.replace(rewritten, plan.path)


def _summary_only(summary: pa.Table | None, read: pa.ChunkedArray) -> list[str]:
    """Summary ids that no input carries, sorted (each is a `no_structure` reject)."""
    if summary is None:
        return []
    ids = summary["material_id"]
    return ids.filter(pc.invert(pc.is_in(ids, value_set=read))).to_pylist()


class _RowGroups:
    """Plan rows written as row groups of exactly `size` rows (the last may be shorter)."""

    def __init__(self, path: Path, size: int) -> None:
        self.size, self.rows, self.sizes, self.written = size, [], [], 0
        self.writer = pq.ParquetWriter(path, PLAN_COLUMNS)

    @property
    def next_ordinal(self) -> int:
        return self.written + len(self.rows)

    def add(self, row: dict[str, Any]) -> None:
        row["ordinal"] = self.next_ordinal
        self.rows.append(row)
        if len(self.rows) == self.size:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=PLAN_COLUMNS)
            self.writer.write_table(table, row_group_size=self.size)
            self.sizes.append(len(self.rows))
            self.written += len(self.rows)
            self.rows = []

    def __enter__(self) -> _RowGroups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
        self.writer.close()


def shard_rows(plan: Plan, index: int) -> list[dict[str, Any]]:
    """The plan rows of shard `index` (one row group)."""
    return pq.ParquetFile(plan.path).read_row_group(index).to_pylist()
