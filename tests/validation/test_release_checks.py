"""`validate` checks a release against itself: forgeries whose hashes were updated everywhere
(datapackage.json and CHECKSUMS.sha256) are still found by what the other files say."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hostile import rehash

from elastic_atlas.cli import main
from elastic_atlas.contract import physics

VERSION = "0.1.0+sample"


def edit_csv(change: Callable[[pd.DataFrame], None]) -> Callable[[Path], None]:
    def forge(folder: Path) -> None:
        frame = pd.read_csv(folder / "mped.csv", dtype={"dft_status": str}, keep_default_na=True)
        change(frame)
        frame.to_csv(folder / "mped.csv", index=False, lineterminator="\n")

    return forge


def flip_in_training(frame: pd.DataFrame) -> None:
    frame.loc[0, "in_training"] = not bool(frame.loc[0, "in_training"])


def double_k_with_derived(frame: pd.DataFrame) -> None:
    frame.loc[0, "k_vrh"] *= 2
    row = frame.loc[[0]]
    derived = physics.derive(row.k_vrh, row.g_vrh, row.nsites, row.volume, mass=row.mass)
    for name, values in derived.items():
        frame.loc[0, name] = float(values.iloc[0] if hasattr(values, "iloc") else values[0])


def parquet_metadata(unit: str | None = None, version: str | None = None) -> Callable:
    def forge(folder: Path) -> None:
        table = pq.read_table(folder / "mped.parquet")
        schema = table.schema
        if unit is not None:
            index = schema.get_field_index("k_vrh")
            field = schema.field(index)
            meta = {**field.metadata, b"unit": unit.encode()}
            schema = schema.set(index, field.with_metadata(meta))
        if version is not None:
            schema = schema.with_metadata(
                {**schema.metadata, b"elastic_atlas.version": version.encode()}
            )
        pq.write_table(table.cast(schema), folder / "mped.parquet")

    return forge


def swap_weights(folder: Path) -> None:
    model = next((folder / "models").iterdir())
    (model / "member-0.safetensors").write_bytes((model / "member-1.safetensors").read_bytes())


def declare_as_file(folder: Path) -> None:
    path = folder / "datapackage.json"
    descriptor = json.loads(path.read_text())
    for resource in descriptor["resources"]:
        if resource["name"] == "mped-csv":
            resource["type"] = "file"
            resource["name"] = "notes-csv"
            resource.pop("elastic_atlas:table", None)
    path.write_text(json.dumps(descriptor))
    edit_csv(lambda frame: frame.__setitem__("k_vrh", frame["k_vrh"] * 3))(folder)


def duplicate_name(folder: Path) -> None:
    path = folder / "datapackage.json"
    descriptor = json.loads(path.read_text())
    models = [r for r in descriptor["resources"] if r["path"].startswith("models/")]
    models[1]["name"] = models[0]["name"]
    path.write_text(json.dumps(descriptor))


def croissant_unit(folder: Path) -> None:
    path = folder / "croissant.json"
    data = json.loads(path.read_text())
    for field in data["recordSet"][0]["field"]:
        if field["name"] == "k_vrh":
            field["description"] = field["description"].replace("Unit: GPa.", "Unit: MPa.")
    data["license"] = ["https://creativecommons.org/publicdomain/zero/1.0/"]
    path.write_text(json.dumps(data))


def narrow_intervals(folder: Path) -> None:
    """Every interval re-scaled to ±2u in both files: well formed, symmetric and wider than u,
    so only the model card's k95 can tell it is not the release's 95 % interval."""
    import numpy as np

    for path, write in ((folder / "mped.parquet", "parquet"), (folder / "mped.csv", "csv")):
        frame = pd.read_parquet(path) if write == "parquet" else pd.read_csv(
            path, dtype={"dft_status": str})  # fmt: skip
        for symbol in ("k_vrh", "g_vrh"):
            half = 2.0 * frame[f"{symbol}_uncertainty"].to_numpy(dtype=float)
            frame[f"{symbol}_lower"] = frame[symbol] * 10.0**-half
            frame[f"{symbol}_upper"] = frame[symbol] * 10.0**half
        assert np.isfinite(frame["k_vrh_upper"]).all()
        if write == "parquet":
            table = pq.read_table(path)
            for name in ("k_vrh_lower", "k_vrh_upper", "g_vrh_lower", "g_vrh_upper"):
                index = table.schema.get_field_index(name)
                column = pa.array(frame[name].to_numpy(), type=table.schema.field(index).type)
                table = table.set_column(index, table.schema.field(index), column)
            pq.write_table(table, path)
        else:
            frame.to_csv(path, index=False, lineterminator="\n")


FORGERIES = {
    "csv in_training flipped": (edit_csv(flip_in_training), "release.csv_parquet"),
    "csv k_vrh doubled, derived recomputed": (
        edit_csv(double_k_with_derived), "release.csv_parquet",
    ),
    "parquet unit MPa": (parquet_metadata(unit="MPa"), "release.parquet_metadata"),
    "parquet version 9.9.9": (parquet_metadata(version="9.9.9"), "release.parquet_metadata"),
    "weight file swapped": (swap_weights, "release.checkpoint"),
    "table declared a file": (declare_as_file, "release.escaped_table"),
    "duplicate resource name": (duplicate_name, "release.duplicate_name"),
    "croissant unit and licence": (croissant_unit, "release.croissant"),
    "95 % intervals narrowed to ±2u": (narrow_intervals, "release.intervals"),
}  # fmt: skip


@pytest.mark.parametrize(("forgery", "check"), FORGERIES.values(), ids=list(FORGERIES))
def test_a_forged_release_with_updated_hashes_is_invalid(released, tmp_path, forgery, check):
    folder = tmp_path / "copy"
    shutil.copytree(released / "releases" / VERSION, folder)
    forgery(folder)
    rehash(folder)
    result = CliRunner().invoke(main, ["validate", str(folder / "datapackage.json")])
    assert result.exit_code == 1, result.output
    assert check in result.output and "INVALID" in result.output


def test_checksums_must_agree_with_the_files(released, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(released / "releases" / VERSION, folder)
    (folder / "extra.txt").write_text("not listed\n")
    result = CliRunner().invoke(main, ["validate", str(folder / "datapackage.json")])
    assert result.exit_code == 1 and "extra.txt is not in CHECKSUMS.sha256" in result.output


def test_the_release_as_built_passes_every_cross_check(released):
    result = CliRunner().invoke(
        main, ["validate", str(released / "releases" / VERSION / "datapackage.json")]
    )
    assert "release." not in result.output and "VALID" in result.output


def test_the_cross_checks_read_a_chunk_at_a_time(released, tmp_path, monkeypatch):
    """Issue 23: CSV and Parquet are compared in step, a few rows at a time (chunks of 3 here,
    cut differently in each file): the release as built still passes; a CSV cell changed in
    its last row is found at that row; a CSV without its last row has other row counts."""
    import elastic_atlas.validation.tableio as tableio
    from elastic_atlas.validation.release_checks import csv_matches_parquet

    monkeypatch.setattr(tableio, "CHUNK_ROWS", 3)
    folder = tmp_path / "copy"
    shutil.copytree(released / "releases" / VERSION, folder)
    resources = json.loads((folder / "datapackage.json").read_text())["resources"]
    assert csv_matches_parquet(folder, "mped", resources) == []
    frame = pd.read_csv(folder / "mped.csv", dtype={"dft_status": str})
    last = len(frame) - 1
    assert last > 6  # several chunks
    changed = frame.copy()
    changed.loc[last, "in_training"] = not bool(changed.loc[last, "in_training"])
    changed.to_csv(folder / "mped.csv", index=False, lineterminator="\n")
    found = csv_matches_parquet(folder, "mped", resources)
    assert len(found) == 1 and f"first data row {last + 1}:" in found[0].message
    frame.iloc[:-1].to_csv(folder / "mped.csv", index=False, lineterminator="\n")
    found = csv_matches_parquet(folder, "mped", resources)
    assert [f.message for f in found] == [f"{last} CSV rows, {last + 1} Parquet rows"]
