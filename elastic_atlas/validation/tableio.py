"""Read a CSV or Parquet table into typed columns, keeping what could not be typed.

Validation must see a bad value rather than have the reader choke on it or silently coerce it,
so every column is read as text (CSV) or as stored (Parquet) and typed here against the schema:
each field gets its values, a mask of missing cells and a mask of cells of the wrong type.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
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


@dataclass
class TypedTable:
    path: Path
    nrows: int
    header: list[str]
    columns: dict[str, TypedColumn] = field(default_factory=dict)

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


def read_arrow(path: Path) -> pa.Table:
    """The file as an Arrow table; CSV cells stay text so nothing is coerced before checking."""
    try:
        if table_format(path) == "parquet":
            table = pq.read_table(path)
            header = table.column_names
        else:
            with path.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), None)
            if not header:
                raise TableReadError(f"{path}: empty CSV file (no header row)")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:  # which of the two is the column? neither can be checked
            raise TableReadError(f"{path}: column(s) {', '.join(repeated)} appear more than once")
        if table_format(path) == "parquet":
            return table
        options = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        )
        return pacsv.read_csv(path, convert_options=options)
    except (OSError, pa.ArrowException, UnicodeDecodeError, csv.Error) as error:
        raise TableReadError(f"{path}: cannot read table: {error}") from error


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


def type_table(path: Path, table: pa.Table, fields: dict[str, dict[str, Any]]) -> TypedTable:
    """Type the columns named in `fields`; other columns are kept as text."""
    typed = TypedTable(path=path, nrows=table.num_rows, header=list(table.column_names))
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
