"""The structure of every row, shipped with the table: `<table>-structures.parquet`.

Each row's CIF text exactly as the build read and parsed it (one row per material id, sorted
by id): `parse_cif` of that text is the structure the row was predicted from, same sites and
same cell, so anyone can rebuild its graph and prediction. CIF because every tool reads it
(pymatgen, ASE, gemmi, VESTA) and it is the text the sources themselves publish; Parquet (zstd)
because it keeps one text per id, compresses CIF's repetition well and loads in pandas, polars
and duckdb like the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.inputs.sources import RawStructure

CIF_DESCRIPTION = (
    "The structure the row was predicted from: the CIF text exactly as the build read it from "
    "its source (parse it with pymatgen's Structure.from_str(cif, 'cif'), ASE's read with "
    "format 'cif', or elastic_atlas.structures)."
)
ARROW_SCHEMA = pa.schema(
    [
        pa.field("material_id", pa.string(), nullable=False,
                 metadata={"description": "Material id of the row in the table."}),
        pa.field("cif", pa.string(), nullable=False, metadata={"description": CIF_DESCRIPTION}),
    ]
)  # fmt: skip


# the same writer options as the tables', except no dictionaries (every CIF text is unique)
STRUCTURE_OPTIONS = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": False,
    # the ids' min and max per row group (a reader skips to an id); a CIF text's are of no use
    # and cost the writer two whole texts per page
    "write_statistics": ["material_id"],
    "version": "2.6",
}


def structures_name(table: str) -> str:
    return f"{table}-structures.parquet"


class TextKeeper:
    """The CIF text of each input in flight, taken back when its row is made (the workers
    return predictions, not texts)."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def watch(self, raws: Iterable[RawStructure]) -> Iterator[RawStructure]:
        for raw in raws:
            if raw.text is not None:
                self._texts[raw.material_id] = raw.text
            yield raw

    def take(self, material_ids: list[str]) -> pa.Table:
        texts = [self._texts.pop(m) for m in material_ids]
        return pa.table({"material_id": material_ids, "cif": texts}, schema=ARROW_SCHEMA)

    def discard(self, material_ids: Iterable[str]) -> None:
        for material_id in material_ids:
            self._texts.pop(material_id, None)

    def clear(self) -> None:
        self._texts.clear()  # the texts of inputs that were rejected


def sorted_structures(parts: list[pa.Table]) -> pa.Table:
    table = pa.concat_tables(parts) if parts else ARROW_SCHEMA.empty_table()
    return table.sort_by("material_id")


def write_structures(table: pa.Table, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Deterministic Parquet (same writer options as the tables), row groups of 2,048."""
    if metadata:
        table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
    pq.write_table(table, path, row_group_size=2048, **STRUCTURE_OPTIONS)


def structures_schema() -> dict[str, Any]:
    """The Table Schema of a structures file (a resource of the release)."""
    return {
        "fields": [
            {"name": "material_id", "type": "string", "description": "Material id of the row.",
             "constraints": {"required": True, "unique": True}},
            {"name": "cif", "type": "string", "description": CIF_DESCRIPTION,
             "constraints": {"required": True}},
        ],
        "primaryKey": ["material_id"],
        "missingValues": [""],
    }  # fmt: skip
