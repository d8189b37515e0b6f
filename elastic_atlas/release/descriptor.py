"""The release's data package descriptor (Data Package v2) and its checksum file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from elastic_atlas.contract.licences import LICENCES
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.digest import file_digest
from elastic_atlas.validation.tableio import read_arrow

PACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"


SOURCES = [
    {"title": "Materials Project", "path": "https://materialsproject.org"},
    {
        "title": "GNoME (Merchant et al., Nature 624, 80 (2023))",
        "path": "https://github.com/google-deepmind/materials_discovery",
    },
    {
        "title": "Matbench v0.1 (training data of the CGCNN checkpoints)",
        "path": "https://matbench.materialsproject.org",
    },
]
MEDIATYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def contributors(citation: Path) -> list[dict[str, Any]]:
    """Authors of the study (CITATION.cff preferred-citation) and the software's authors."""
    cff = yaml.safe_load(citation.read_text(encoding="utf-8"))
    people = [
        {
            "title": f"{a['given-names']} {a['family-names']}",
            "givenName": a["given-names"],
            "familyName": a["family-names"],
            "roles": ["author"],
        }
        for a in cff["preferred-citation"]["authors"]
    ]
    people += [
        {"title": a.get("name") or f"{a['given-names']} {a['family-names']}", "roles": ["software"]}
        for a in cff["authors"]
    ]
    return people


def resource(
    path: Path,
    base: Path,
    name: str,
    licence: str,
    table: str | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One resource with sha256, size (CSV only: frictionless computes none for Parquet and
    would then report a mismatch) and row count."""
    fmt = path.suffix.lstrip(".")
    entry: dict[str, Any] = {
        "name": name,
        "type": "table",
        "path": path.relative_to(base).as_posix(),
        "format": fmt,
        "mediatype": MEDIATYPES[fmt],
    }
    if fmt == "csv":
        entry["encoding"] = "utf-8"
        entry["bytes"] = path.stat().st_size
    entry["hash"] = f"sha256:{file_digest(path)}"
    entry["rows"] = read_arrow(path).num_rows
    entry["licenses"] = [LICENCES[licence]]
    if table is not None:
        entry["schema"] = load_table_schema(table)
    return {**entry, **(extra or {})}


def write_checksums(folder: Path) -> Path:
    """CHECKSUMS.sha256 of every file under `folder`, in `sha256sum -c` format."""
    target = folder / "CHECKSUMS.sha256"
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p != target)
    lines = [f"{file_digest(p)}  {p.relative_to(folder).as_posix()}" for p in files]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def rebase(descriptor: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The same package with resource paths under `prefix` (for the root datapackage.json)."""
    out = json.loads(json.dumps(descriptor))
    for entry in out["resources"]:
        entry["path"] = f"{prefix}/{entry['path']}"
    return out
