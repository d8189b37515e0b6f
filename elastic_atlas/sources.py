"""Where structures come from: CIF files, folders and zips, streamed one at a time.

Every input yields exactly one `RawStructure`: its text, or the reason it could not be read, so
that nothing disappears between the input and the accounting of a build.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

CIF_SUFFIXES = (".cif",)


class SourceError(Exception):
    """A whole source cannot be read (missing path, broken zip directory)."""


@dataclass(frozen=True)
class RawStructure:
    """One input structure: CIF text, or why there is none (`reason`, `detail`)."""

    material_id: str
    text: str | None
    source: str
    reason: str | None = None
    detail: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    licence: str = ""


def _is_cif(name: str) -> bool:
    return name.lower().endswith(CIF_SUFFIXES) and not Path(name).name.startswith(".")


def _decode(material_id: str, data: bytes, source: str) -> RawStructure:
    try:
        return RawStructure(material_id, data.decode("utf-8"), source)
    except UnicodeDecodeError as error:
        return RawStructure(
            material_id, None, source, "unreadable_file", f"not UTF-8 text: {error}"
        )


def iter_zip(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    """CIFs of a zip (`<material_id>.cif` or GNoME's `<MaterialId>.CIF`), in name order."""
    source = source or path.name
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise SourceError(f"{path}: not a readable zip archive ({error})") from error
    with archive:
        names = sorted(n for n in archive.namelist() if _is_cif(n))
        for name in names:
            material_id = Path(name).stem
            try:
                data = archive.read(name)
            except (OSError, zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as error:
                yield RawStructure(material_id, None, source, "unreadable_file", f"{name}: {error}")
                continue
            yield _decode(material_id, data, source)


def iter_folder(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    source = source or path.name
    for file in sorted(p for p in path.iterdir() if p.is_file() and _is_cif(p.name)):
        yield from iter_file(file, source)


def iter_file(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    source = source or path.name
    try:
        data = path.read_bytes()
    except OSError as error:
        yield RawStructure(path.stem, None, source, "unreadable_file", str(error))
        return
    yield _decode(path.stem, data, source)


def iter_cif_source(path: Path) -> Iterator[RawStructure]:
    """A CIF file, a folder of CIFs or a zip of CIFs."""
    path = Path(path)
    if path.is_dir():
        return iter_folder(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return iter_zip(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        raise SourceError(f"{path}: not a readable zip archive (truncated or corrupt)")
    if path.is_file():
        return iter_file(path)
    raise SourceError(f"{path}: no such file or folder")


# ------------------------------------------------------------------ summary tables
# Column names of the supported summary layouts -> the project's names.
SUMMARY_LAYOUTS: dict[str, dict[str, str]] = {
    "mp": {
        "material_id": "material_id",
        "band_gap": "band_gap",
        "formula_pretty": "formula",
        "crystal_system": "crystal_system",
        "space_group_number": "space_group_number",
        "spacegroup_number": "space_group_number",
    },
    # GNoME's stable_materials_summary.csv
    "gnome": {
        "MaterialId": "material_id",
        "Reduced Formula": "formula",
        "Bandgap": "band_gap",
        "Crystal System": "crystal_system",
        "Space Group Number": "space_group_number",
    },
}


class SummaryError(SourceError):
    """A summary table that cannot be used (unreadable, no id column, duplicate ids)."""


def detect_layout(columns: list[str]) -> str:
    if "MaterialId" in columns:
        return "gnome"
    if "material_id" in columns:
        return "mp"
    raise SummaryError(f"summary has neither 'material_id' nor 'MaterialId' column: {columns}")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def load_summary(path: Path, layout: str | None = None) -> dict[str, dict[str, Any]]:
    """{material_id: {band_gap, formula, crystal_system, space_group_number}} of a summary CSV.

    Only the columns the tables use are kept (36k rows of metadata is small; the structures
    themselves are streamed). Missing or NaN values become None.
    """
    try:
        frame = pd.read_csv(path, dtype={"MaterialId": str, "material_id": str})
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise SummaryError(f"{path}: cannot read summary CSV ({error})") from error
    layout = layout or detect_layout(list(frame.columns))
    mapping = {k: v for k, v in SUMMARY_LAYOUTS[layout].items() if k in frame.columns}
    if "material_id" not in mapping.values():
        raise SummaryError(f"{path}: no id column for layout {layout!r}")
    frame = frame[list(mapping)].rename(columns=mapping)
    duplicated = frame["material_id"][frame["material_id"].duplicated()]
    if len(duplicated):
        raise SummaryError(f"{path}: duplicate ids, e.g. {duplicated.iloc[0]!r}")
    if "band_gap" in frame:
        frame["band_gap"] = pd.to_numeric(frame["band_gap"], errors="coerce")
    if "crystal_system" in frame:
        frame["crystal_system"] = frame["crystal_system"].str.strip().str.lower()
    records = frame.set_index("material_id").to_dict(orient="index")
    return {str(mid): {k: _clean(v) for k, v in row.items()} for mid, row in records.items()}
