"""What changed since the previous release of the same releases folder, per table and per row.

Both moduli and the row sets are compared: a row is added, removed, or changed when B or G
moved by more than the CSV's stated precision (half a unit in the last significant digit the
schema gives the column), so a change no CSV reader could see is not reported. Each table with
a previous version gets `<table>-changes.csv`, one row per changed material, listed in the
release like any table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas.contract.schema import SIGNIFICANT_DIGITS, field_map, load_table_schema

MODULI = ("k_vrh", "g_vrh")
CHANGE_COLUMNS = ("material_id", "change", "k_vrh_previous", "k_vrh", "g_vrh_previous", "g_vrh")


@dataclass(frozen=True)
class TableChanges:
    table: str
    previous: str  # the version compared with
    rows: int
    added: int
    removed: int
    changed: int
    new_table: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.table}-changes.csv"

    def line(self) -> str:
        if self.new_table:
            return f"- {self.table}: new table, {self.rows} rows"
        return (
            f"- {self.table}: {self.rows} rows ({self.added} added, {self.removed} removed, "
            f"{self.changed} with B or G changed beyond the CSV precision; per row in "
            f"`{self.file_name}`)"
        )


def precision(table: str, column: str) -> float:
    """The relative change a CSV of the table can show in `column`."""
    digits = field_map(load_table_schema(table))[column].get(SIGNIFICANT_DIGITS, 17)
    return 0.5 * 10.0 ** (1 - digits)


def row_changes(old: pd.DataFrame, new: pd.DataFrame, table: str) -> pd.DataFrame:
    """Rows added, removed or with a modulus changed beyond the CSV precision, by id."""
    old, new = old.set_index("material_id"), new.set_index("material_id")
    ids = old.index.union(new.index).sort_values()
    both = old.index.intersection(new.index)
    changed = pd.Series(False, index=both)
    for column in MODULI:
        ratio = new.loc[both, column].to_numpy(float) / old.loc[both, column].to_numpy(float)
        changed |= np.abs(ratio - 1.0) > precision(table, column)
    kind = pd.Series("", index=ids, dtype=object)
    kind[new.index.difference(old.index)] = "added"
    kind[old.index.difference(new.index)] = "removed"
    kind[changed[changed].index] = "changed"
    kind = kind[kind != ""]
    out = pd.DataFrame({"material_id": kind.index, "change": kind.to_numpy()})
    for column in MODULI:
        out[f"{column}_previous"] = old[column].reindex(kind.index).to_numpy()
        out[column] = new[column].reindex(kind.index).to_numpy()
    return out[list(CHANGE_COLUMNS)]


def previous_version(releases: Path, version: str) -> Path | None:
    from elastic_atlas.release.context import SEMVER

    def key(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.name.partition("+")[0].partition("-")[0].split("."))

    others = [
        p
        for p in releases.iterdir()
        if p.is_dir()
        and SEMVER.fullmatch(p.name)
        and p.name != version
        and (p / "datapackage.json").exists()
    ]
    return max(others, key=key) if others else None


def write_changes(out: Path, version: str, tables: list[str]) -> dict[str, TableChanges]:
    """Compare each table with the previous version's; write the per-row diff files."""
    previous = previous_version(out.parent, version)
    if previous is None:
        return {}
    found = {}
    for table in tables:
        new = pd.read_parquet(out / f"{table}.parquet", columns=["material_id", *MODULI])
        old_file = previous / f"{table}.parquet"
        if not old_file.exists():
            found[table] = TableChanges(table, previous.name, len(new), len(new), 0, 0, True)
            continue
        old = pd.read_parquet(old_file, columns=["material_id", *MODULI])
        diff = row_changes(old, new, table)
        counts = diff["change"].value_counts()
        entry = TableChanges(
            table, previous.name, len(new),
            int(counts.get("added", 0)), int(counts.get("removed", 0)),
            int(counts.get("changed", 0)),
        )  # fmt: skip
        diff.to_csv(out / entry.file_name, index=False, lineterminator="\n", float_format="%.17g")
        found[table] = entry
    return found


def changes_schema() -> dict[str, Any]:
    """The Table Schema of a `<table>-changes.csv` file."""
    modulus = {"type": "number", "unit": "GPa"}
    return {
        "fields": [
            {"name": "material_id", "type": "string", "constraints": {"required": True}},
            {
                "name": "change",
                "type": "string",
                "description": "added, removed, or changed (B or G beyond the CSV precision)",
                "constraints": {"required": True, "enum": ["added", "removed", "changed"]},
            },
            {**modulus, "name": "k_vrh_previous", "description": "B in the previous version"},
            {**modulus, "name": "k_vrh", "description": "B in this version"},
            {**modulus, "name": "g_vrh_previous", "description": "G in the previous version"},
            {**modulus, "name": "g_vrh", "description": "G in this version"},
        ],
        "primaryKey": ["material_id"],
        "missingValues": [""],
    }


def changes_lines(found: dict[str, TableChanges]) -> list[str]:
    if not found:
        return ["First release."]
    previous = next(iter(found.values())).previous
    return [f"Compared with {previous}:", *(c.line() for c in found.values())]
