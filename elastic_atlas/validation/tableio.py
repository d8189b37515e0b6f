"""Read a CSV or Parquet table into typed columns, keeping what could not be typed.

Validation must see a bad value rather than have the reader choke on it or silently coerce it,
so every column is read as text (CSV) or as stored (Parquet) and typed here against the schema:
each field gets its values, a mask of missing cells and a mask of cells of the wrong type.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from elastic_atlas.errors import TableReadError

NUMERIC_TYPES = ("number", "integer")


@dataclass
class TypedColumn:
    """One column: values (float64 for numbers, object for text) plus per-cell masks."""

    values: np.ndarray
    raw: np.ndarray  # the cell as written, for messages about cells that failed typing
    missing: np.ndarray
    wrong_type: np.ndarray


class EarlierValues:
    """The values of one column in the earlier chunks of a file, for its `unique` check, in
    about 30 bytes per value: their 64-bit hashes, sorted, answer "seen before?" and a hit is
    confirmed against the values themselves (kept as Arrow text), so a hash collision never
    makes a duplicate."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.values: list[pa.Array] = []

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Which of `values` (text) an earlier chunk had."""
        if not len(self.hashes) or not len(values):
            return np.zeros(len(values), dtype=bool)
        hashes = pd.util.hash_array(values.astype(object))
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        found = self.hashes[at] == hashes
        if found.any():  # rare: a duplicate, or a collision that the text comparison undoes
            earlier = pa.concat_arrays(self.values)
            candidates = pa.array(values[found].astype(str), pa.string())
            found[found] = pc.is_in(candidates, value_set=earlier).to_numpy(zero_copy_only=False)
        return found

    def add(self, values: np.ndarray) -> None:
        hashes = pd.util.hash_array(values.astype(object))
        self.hashes = np.sort(np.concatenate([self.hashes, hashes]))
        self.values.append(pa.array(values.astype(str), pa.string()))


@dataclass
class TypedTable:
    path: Path
    nrows: int
    header: list[str]
    columns: dict[str, TypedColumn] = field(default_factory=dict)
    # values of `unique` columns in the earlier chunks of the same file (a file validated a
    # chunk at a time); None: the table is the whole file
    seen: dict[str, EarlierValues] | None = None

    def ids(self) -> np.ndarray:
        if "material_id" in self.columns:
            return self.columns["material_id"].raw
        return np.full(self.nrows, None, dtype=object)

    def numbers(self, name: str) -> np.ndarray:
        return self.columns[name].values


def table_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise TableReadError(f"{path}: unknown table format {suffix!r} (expected .csv or .parquet)")


CHUNK_ROWS = 8_192  # rows validated at a time: a typed chunk, not a typed table, is held


def count_rows(path: Path) -> int:
    """The file's data rows (a Parquet file's from its footer; a CSV read a chunk at a time)."""
    if table_format(path) == "parquet":
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException) as error:
            raise TableReadError(f"{path}: cannot read table: {error}") from error
    return sum(chunk.num_rows for chunk in iter_arrow(path))


def iter_arrow(path: Path, chunk_rows: int | None = None) -> Iterator[pa.Table]:
    """The file's rows in order, about `chunk_rows` at a time (at least one table, maybe empty:
    its columns are the header's). CSV cells stay text so nothing is coerced before checking;
    a file that cannot be read, at any point, is a TableReadError."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    try:
        header = _header(path)
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:  # which of the two is the column? neither can be checked
            raise TableReadError(f"{path}: column(s) {', '.join(repeated)} appear more than once")
        yield from (_parquet_chunks if table_format(path) == "parquet" else _csv_chunks)(
            path, header, chunk_rows
        )
    except (OSError, pa.ArrowException, UnicodeDecodeError, csv.Error) as error:
        raise TableReadError(f"{path}: cannot read table: {error}") from error


def _header(path: Path) -> list[str]:
    if table_format(path) == "parquet":
        return pq.read_schema(path).names
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise TableReadError(f"{path}: empty CSV file (no header row)")
    return header


def _parquet_chunks(path: Path, header: list[str], chunk_rows: int) -> Iterator[pa.Table]:
    source = pq.ParquetFile(path)
    if source.metadata.num_rows == 0:
        yield source.schema_arrow.empty_table()
        return
    for group in range(source.num_row_groups):  # one row group decoded at a time
        rows = source.read_row_group(group)
        for start in range(0, rows.num_rows, chunk_rows):
            yield rows.slice(start, chunk_rows)


def _csv_chunks(path: Path, header: list[str], chunk_rows: int) -> Iterator[pa.Table]:
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )
    reader = pacsv.open_csv(path, convert_options=options,
                            read_options=pacsv.ReadOptions(block_size=1 << 20,
                                                           use_threads=False))  # fmt: skip
    pending: list[pa.RecordBatch] = []
    rows = 0
    yielded = False
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            yield pa.Table.from_batches(pending, schema=reader.schema)
            pending, rows, yielded = [], 0, True
    if pending or not yielded:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def rename_columns(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    return table.rename_columns([mapping.get(name, name) for name in table.column_names])


def _type_number(column: pa.ChunkedArray, integer: bool) -> TypedColumn:
    missing = column.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        values = np.where(missing, np.nan, values)
        raw = values.astype(object)
        wrong = np.zeros(len(values), dtype=bool)
    else:
        text = pd.Series(column.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        stripped = text.str.strip().str.lower()
        written_nan = stripped.isin(["nan", "+nan", "-nan"]).to_numpy()
        wrong = ~missing & np.isnan(values) & ~written_nan
        raw = text.to_numpy()
    if integer:
        finite = np.isfinite(values)
        wrong |= finite & (values != np.round(values))
    return TypedColumn(values=values, raw=raw, missing=missing, wrong_type=wrong)


def _type_text(column: pa.ChunkedArray) -> TypedColumn:
    values = column.cast(pa.string()).to_numpy(zero_copy_only=False)
    missing = column.is_null().to_numpy(zero_copy_only=False)
    return TypedColumn(
        values=values, raw=values, missing=missing, wrong_type=np.zeros(len(values), dtype=bool)
    )


TRUE_VALUES = ("true", "True", "TRUE", "1")  # Table Schema's defaults for boolean fields
FALSE_VALUES = ("false", "False", "FALSE", "0")


def _type_boolean(column: pa.ChunkedArray) -> TypedColumn:
    """Booleans as 1.0 / 0.0 (NaN where missing or not a boolean), so rules compare arrays."""
    missing = column.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_boolean(column.type):
        values = np.where(missing, np.nan, column.fill_null(False).to_numpy(zero_copy_only=False))
        return TypedColumn(
            values.astype(np.float64), values.astype(object), missing, np.zeros(len(values), bool)
        )
    text = column.cast(pa.string()).to_numpy(zero_copy_only=False)
    is_true = np.isin(text, TRUE_VALUES)
    is_false = np.isin(text, FALSE_VALUES)
    values = np.where(is_true, 1.0, np.where(is_false, 0.0, np.nan))
    return TypedColumn(values, text, missing, ~missing & ~is_true & ~is_false)


def _type_nested(column: pa.ChunkedArray) -> TypedColumn:
    """A list, struct or map column: no cell is a value of a table field."""
    raw = np.array([str(v) for v in column.to_pylist()], dtype=object)
    missing = column.is_null().to_numpy(zero_copy_only=False)
    values = np.full(len(raw), np.nan)
    return TypedColumn(values=values, raw=raw, missing=missing, wrong_type=~missing)


def type_table(
    path: Path,
    table: pa.Table,
    fields: dict[str, dict[str, Any]],
    seen: dict[str, EarlierValues] | None = None,
) -> TypedTable:
    """Type the columns named in `fields`; other columns are kept as text. `seen`: the unique
    columns' values of the file's earlier chunks, when `table` is one chunk of it."""
    typed = TypedTable(path=path, nrows=table.num_rows, header=list(table.column_names),
                       seen=seen)  # fmt: skip
    for name in table.column_names:
        kind = fields.get(name, {}).get("type", "string")
        column = table.column(name)
        if pa.types.is_nested(column.type):
            typed.columns[name] = _type_nested(column)
        elif kind in NUMERIC_TYPES:
            typed.columns[name] = _type_number(column, integer=kind == "integer")
        elif kind == "boolean":
            typed.columns[name] = _type_boolean(column)
        else:
            typed.columns[name] = _type_text(column)
    return typed
