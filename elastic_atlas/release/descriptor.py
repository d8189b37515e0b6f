"""The release's data package descriptor (Data Package v2) and its checksum file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from elastic_atlas.contract.licences import LICENCES
from elastic_atlas.contract.references import Reference
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.digest import file_digest
from elastic_atlas.validation.tableio import count_rows

PACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"


MEDIATYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def contributors(config: Any) -> list[dict[str, Any]]:
    """The release's creators (its config); the study's authors are cited, not listed here."""
    people = []
    for c in config.creators:
        entry: dict[str, Any] = {"title": c.full_name, "roles": ["creator"]}
        if c.family_names:
            entry["familyName"] = c.family_names
        if c.given_names:
            entry["givenName"] = c.given_names
        if c.orcid:
            entry["path"] = f"https://orcid.org/{c.orcid}"
        if c.affiliation:
            entry["organization"] = c.affiliation
        people.append(entry)
    return people


def sources(references: Iterable[Reference]) -> list[dict[str, str]]:
    """Data Package `sources`: every work the tables come from or rely on, by DOI."""
    return [{"title": r.short, "path": f"https://doi.org/{r.doi}"} for r in references]


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
    entry["rows"] = count_rows(path)
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
