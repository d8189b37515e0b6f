"""Rows of the MPED / NED tables from predictions, in schema order, and their files.

Writing is deterministic: rows sorted by `material_id`, floats written with their shortest
round-trip representation in CSV and as float64 in Parquet (zstd, fixed writer options), so the
same inputs and checkpoints give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.contract import physics
from elastic_atlas.contract.columns import STRUCTURE_FACTS, Column
from elastic_atlas.contract.risk import risk_flags
from elastic_atlas.contract.schema import SIGNIFICANT_DIGITS, load_table_schema
from elastic_atlas.contract.targets import UNCERTAINTY_OF, Target
from elastic_atlas.pipeline.crosscheck import CrossCheck, crosscheck_columns
from elastic_atlas.pipeline.predict import Predicted

BULK, SHEAR = Target.LOG10_K_VRH.value, Target.LOG10_G_VRH.value
ARROW_TYPES = {
    "string": pa.string(),
    "number": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
}


def symmetry_of(structure: Any) -> dict[str, Any]:
    """Space group and crystal system with pymatgen's SpacegroupAnalyzer at symprec 0.1."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    analyzer = SpacegroupAnalyzer(structure, symprec=0.1)
    return {
        "space_group_number": int(analyzer.get_space_group_number()),
        "crystal_system": analyzer.get_crystal_system(),
    }


def table_frame(
    records: list[Predicted], table: str, crosscheck: CrossCheck | None = None
) -> pd.DataFrame:
    """The table of accepted predictions: schema columns, schema order, sorted by id.

    The uncertainty columns are the checkpoints' calibrated standard uncertainties (null where
    a checkpoint has no calibration); the DFT columns and `in_training` come from `crosscheck`
    (null without one); the risk flags from the row's own columns (contract.risk).
    """
    schema = load_table_schema(table)
    records = sorted(records, key=lambda r: r.material_id)
    k = 10.0 ** np.array([r.values[BULK] for r in records], dtype=np.float64)
    g = 10.0 ** np.array([r.values[SHEAR] for r in records], dtype=np.float64)
    frame = pd.DataFrame({Column.MATERIAL_ID: [r.material_id for r in records]})
    for name in STRUCTURE_FACTS:
        frame[name] = [r.info.get(name) for r in records]
    frame[Column.K_VRH], frame[Column.G_VRH] = k, g
    for target, column_name in UNCERTAINTY_OF.items():
        frame[column_name] = np.array(
            [r.uncertainty.get(target, np.nan) for r in records], dtype=np.float64
        )
    for name, values in interval_columns(records).items():
        frame[name] = values
    derived = physics.derive(
        k, g, frame[Column.NSITES], frame[Column.VOLUME], mass=frame[Column.MASS]
    )
    for name, values in derived.items():
        frame[name] = values
    ids = list(frame[Column.MATERIAL_ID])
    if crosscheck is not None:
        for name, values in crosscheck_columns(ids, crosscheck).items():
            frame[name] = values
    flags = risk_flags(
        k,
        frame[Column.DENSITY].to_numpy(dtype=np.float64),
        frame[Column.K_VRH_UNCERTAINTY].to_numpy(),
        frame[Column.G_VRH_UNCERTAINTY].to_numpy(),
    )
    for name, values in flags.items():
        frame[name] = [None if v != v else bool(v) for v in values]
    return conform(frame, schema)


def interval_columns(records: list[Predicted]) -> dict[Column, np.ndarray]:
    """The 95 % interval of each modulus, 10^(log10 value ∓ U) with U = k95·u: symmetric in
    log10 like u itself (NaN where the checkpoint has no calibration)."""
    out = {}
    for target in Target:
        log10 = np.array([r.values[target] for r in records], dtype=np.float64)
        half = np.array(
            [r.expanded_uncertainty.get(target, np.nan) for r in records], dtype=np.float64
        )
        out[target.lower_column] = 10.0 ** (log10 - half)
        out[target.upper_column] = 10.0 ** (log10 + half)
    return out


def conform(frame: pd.DataFrame, schema: dict[str, Any]) -> pd.DataFrame:
    """Columns in schema order with the schema's types (nullable where allowed)."""
    out = pd.DataFrame(index=frame.index)
    for field in schema["fields"]:
        name, kind = field["name"], field["type"]
        values = frame[name] if name in frame else pd.Series([None] * len(frame))
        if kind == "integer":
            out[name] = pd.array(values, dtype="Int64")
        elif kind == "boolean":
            out[name] = pd.array(values, dtype="boolean")
        elif kind == "number":
            out[name] = pd.to_numeric(values, errors="raise").astype("float64")
        else:
            out[name] = values.astype(object)
    return out.reset_index(drop=True)


def field_metadata(field: dict[str, Any]) -> dict[str, str]:
    """What the schema says of a column, carried by the Parquet field itself (unit, the
    study's symbol as title, description), so a Parquet file read alone describes itself."""
    return {key: str(field[key]) for key in ("unit", "title", "description") if key in field}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a table: the schema's types, nullability and field metadata."""
    fields = [
        pa.field(
            f["name"],
            ARROW_TYPES[f["type"]],
            nullable=not f.get("constraints", {}).get("required", False),
            metadata=field_metadata(f),
        )
        for f in load_table_schema(table)["fields"]
    ]
    return pa.schema(fields)


def arrow_table(frame: pd.DataFrame, table: str) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=arrow_schema(table), preserve_index=False)


PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}


def write_parquet(frame: pd.DataFrame, table: str, path: Path, metadata: dict[str, str]) -> None:
    arrow = arrow_table(frame, table)
    arrow = arrow.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
    pq.write_table(arrow, path, **PARQUET_OPTIONS)


def write_csv(frame: pd.DataFrame, path: Path, table: str | None = None) -> None:
    """CSV with each number column rounded to the significant digits its schema field states
    (the Parquet file keeps float64 and is the authoritative copy); nulls are empty cells.
    Without a table, floats are written exactly (shortest round-trip repr)."""
    path.write_text(csv_text(frame, table), encoding="utf-8")


def csv_text(frame: pd.DataFrame, table: str | None = None, header: bool = True) -> str:
    """The CSV text of `write_csv`; without the header line for a chunk that continues a file
    (the text of a table is the same whether written whole or chunk by chunk)."""
    if table is not None:
        frame = frame.copy()
        for field in load_table_schema(table)["fields"]:
            digits = field.get(SIGNIFICANT_DIGITS)
            if field["type"] == "boolean":  # Table Schema's canonical true/false
                frame[field["name"]] = [
                    "" if v is None or v is pd.NA else ("true" if v else "false")
                    for v in frame[field["name"]]
                ]
            elif digits is not None:
                frame[field["name"]] = [
                    "" if v != v else f"{v:.{digits}g}" for v in frame[field["name"]]
                ]
    return frame.to_csv(index=False, header=header, lineterminator="\n", na_rep="")
