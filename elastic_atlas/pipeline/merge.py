"""The streaming merge of sorted parts into a table's files, in bounded memory (issue 23).

A scaled-out build leaves one part per shard: its rows sorted by id (with each row's input
ordinal) and its rejects sorted. The merge reads every part a batch at a time, k-way, and writes
the CSV and the Parquet file chunk by chunk, so the client holds a few batches per part, never
the table. Ids seen twice are adjacent in the merge: the first in input order stays, the others
are returned (the caller makes them `duplicate_id` rejects). With more parts than `fan_in`, groups
of parts are merged first into scratch files, so open files stay bounded too.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.pipeline.tables import PARQUET_OPTIONS, arrow_schema, csv_text

ORDINAL = "_ordinal"  # a row's position among the build's inputs, in every part file
BATCH_ROWS = 4_096  # rows read from a part at a time
ROW_GROUP = 65_536  # rows per row group of the merged Parquet file
FAN_IN = 64  # parts merged at once
BUFFERED_ROWS = 65_536  # rows read ahead over all parts of one merge
MIN_READ_ROWS = 256
# a scratch file is read once, by the next level: no dictionaries and no statistics, whose
# builders kept the client's memory higher when merging CIF texts (measured by hand)
SCRATCH_OPTIONS = {"use_dictionary": False, "write_statistics": False}


@dataclass
class MergedTable:
    rows: int = 0
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (material_id, ordinal)


def merge_sorted(
    parts: list[Path],
    keys: list[str],
    batch_rows: int = BATCH_ROWS,
    buffered_rows: int = BUFFERED_ROWS,
) -> Iterator[pa.Table]:
    """The rows of `parts` (each sorted by `keys`) in `keys` order, in chunks of about
    `batch_rows`; equal keys come in the order of `parts`. Each part is read in batches small
    enough that all parts together hold about `buffered_rows` rows (their keys are Python
    tuples, a few hundred bytes each; fewer for wide rows such as CIF texts)."""
    per_part = max(MIN_READ_ROWS, min(batch_rows, buffered_rows // max(1, len(parts))))
    readers = [row_group_batches(p, per_part) for p in parts]
    tables: list[pa.Table | None] = [None] * len(parts)
    key_rows: list[list[tuple]] = [[] for _ in parts]
    position = [0] * len(parts)

    def load(i: int) -> bool:
        batch = next(readers[i], None)
        while batch is not None and batch.num_rows == 0:
            batch = next(readers[i], None)
        if batch is None:
            tables[i] = None
            return False
        tables[i] = pa.Table.from_batches([batch])
        columns = [["" if v is None else v for v in batch.column(k).to_pylist()] for k in keys]
        key_rows[i], position[i] = list(zip(*columns, strict=True)), 0
        return True

    heap = [(key_rows[i][0], i) for i in range(len(parts)) if load(i)]
    heapq.heapify(heap)
    chosen: list[tuple[pa.Table, int]] = []
    while heap:
        _, i = heapq.heappop(heap)
        table = tables[i]
        assert table is not None
        chosen.append((table, position[i]))
        position[i] += 1
        if position[i] < len(key_rows[i]) or load(i):
            heapq.heappush(heap, (key_rows[i][position[i]], i))
        if len(chosen) >= batch_rows:
            yield _gather(chosen)
            chosen = []
    if chosen:
        yield _gather(chosen)


def row_group_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The record batches of a Parquet file, one row group decoded at a time. (pyarrow's
    `iter_batches` reads ahead: 137 MiB held for one 175k-row file of CIF texts whose row
    groups hold 256 rows each; this holds one row group.)"""
    source = pq.ParquetFile(path)
    for group in range(source.num_row_groups):
        rows = source.read_row_group(group, use_threads=False)  # one arena, one thread
        yield from rows.to_batches(max_chunksize=batch_rows)


def _gather(chosen: list[tuple[pa.Table, int]]) -> pa.Table:
    """The chosen rows, in the order chosen, as one table (one `take` per source batch)."""
    groups: dict[int, tuple[pa.Table, list[int], list[int]]] = {}
    for at, (table, row) in enumerate(chosen):
        entry = groups.setdefault(id(table), (table, [], []))
        entry[1].append(row)
        entry[2].append(at)
    pieces = [table.take(rows) for table, rows, _ in groups.values()]
    order = np.argsort(
        np.concatenate([np.array(at) for _, _, at in groups.values()]), kind="stable"
    )
    return pa.concat_tables(pieces).take(pa.array(order))


def merge_table_parts(
    parts: list[Path],
    table: str,
    csv_path: Path,
    parquet_path: Path,
    metadata: dict[str, str],
    fan_in: int = FAN_IN,
) -> MergedTable:
    """A table's CSV and Parquet from its sorted row parts; duplicates of an id returned."""
    schema = arrow_schema(table).with_metadata(
        {k.encode(): v.encode() for k, v in metadata.items()}
    )
    result = MergedTable()
    last: str | None = None
    with tempfile.TemporaryDirectory(dir=parquet_path.parent, prefix=".merge-") as scratch:
        chunks = merge_sorted(bounded_parts(parts, ["material_id", ORDINAL], fan_in, Path(scratch)),
                              ["material_id", ORDINAL])  # fmt: skip
        with (
            csv_path.open("w", encoding="utf-8", newline="") as csv_file,
            pq.ParquetWriter(parquet_path, schema, **PARQUET_OPTIONS) as parquet,
        ):
            pending: list[pa.Table] = []
            csv_file.write(csv_text(_frame(schema.empty_table()), table, header=True))
            for chunk in chunks:
                ids = chunk.column("material_id").to_pylist()
                keep = np.ones(len(ids), dtype=bool)
                ordinals = chunk.column(ORDINAL).to_pylist()
                for row, material_id in enumerate(ids):
                    if material_id == last:
                        keep[row] = False
                        result.duplicates.append((material_id, ordinals[row]))
                    last = material_id
                rows = chunk.filter(pa.array(keep)).drop_columns([ORDINAL]).cast(schema)
                result.rows += rows.num_rows
                csv_file.write(csv_text(_frame(rows), table, header=False))
                pending.append(rows)
                if sum(t.num_rows for t in pending) >= ROW_GROUP:
                    parquet.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
                    pending = []
            if pending:
                parquet.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
    return result


def merge_reject_parts(parts: list[Path], table: str, path: Path, fan_in: int = FAN_IN) -> int:
    """The rejects CSV (table column first, rows sorted) from sorted reject parts."""
    from elastic_atlas.contract.reasons import REJECT_COLUMNS

    keys = list(REJECT_COLUMNS)
    rows = 0
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".merge-") as scratch:
        chunks = merge_sorted(bounded_parts(parts, keys, fan_in, Path(scratch)), keys)
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(",".join(["table", *keys]) + "\n")
            for chunk in chunks:
                frame = chunk.select(keys).to_pandas()
                frame.insert(0, "table", table)
                handle.write(frame.to_csv(index=False, header=False, lineterminator="\n"))
                rows += len(frame)
    return rows


def bounded_parts(
    parts: list[Path],
    keys: list[str],
    fan_in: int,
    scratch: Path,
    batch_rows: int = BATCH_ROWS,
    buffered_rows: int = BUFFERED_ROWS,
) -> list[Path]:
    """`parts` merged group-wise into scratch files until at most `fan_in` remain."""
    level = 0
    while len(parts) > fan_in:
        merged = []
        for start in range(0, len(parts), fan_in):
            path = scratch / f"level{level}-{start // fan_in}.parquet"
            group = parts[start : start + fan_in]
            writer: pq.ParquetWriter | None = None
            for chunk in merge_sorted(group, keys, batch_rows, buffered_rows):
                if writer is None:
                    writer = pq.ParquetWriter(path, chunk.schema, **SCRATCH_OPTIONS)
                writer.write_table(chunk)
            if writer is not None:
                writer.close()
                merged.append(path)
        parts, level = merged, level + 1
    return parts


def _frame(rows: pa.Table) -> pd.DataFrame:
    return rows.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
