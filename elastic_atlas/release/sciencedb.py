"""The Science Data Bank (ScienceDB) upload records: one per table, each with its own licence.

MPED (Materials Project data, CC-BY-4.0) and NED (GNoME data, CC-BY-NC-4.0) cannot share one
record. Each record is a zip (its table's CSV, Parquet and rejects, the checkpoints, a data
package descriptor of just those files, the checklist, the release notes as README and
CITATION.cff) plus `metadata.json` (the fields ScienceDB's form asks for) and `datacite.json`
(DataCite kernel 4.3). Zip entries carry a fixed timestamp, so a rebuild is byte-identical.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from elastic_atlas.paths import contract_root
from elastic_atlas.release.datacite import PUBLISHER, citation_file, datacite_record
from elastic_atlas.release.descriptor import write_json

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compresslevel=9)


def table_descriptor(descriptor: dict[str, Any], table: str) -> dict[str, Any]:
    """The release's descriptor with only one table's resources and the checkpoints."""
    keep = [
        r for r in descriptor["resources"]
        if r["name"].startswith(f"{table}-") or r["path"].startswith("models/")
    ]  # fmt: skip
    return {**descriptor, "name": f"{descriptor['name']}-{table}", "resources": keep}


def write_bundle(release: Path, descriptor: dict[str, Any], config: Any) -> list[Path]:
    """sciencedb/<table>/: the record's zip, metadata.json and datacite.json, per table."""
    tables = sorted({r["elastic_atlas:table"] for r in descriptor["resources"]
                     if "elastic_atlas:table" in r})  # fmt: skip
    return [write_record(release, table_descriptor(descriptor, t), t, config) for t in tables]


def write_record(release: Path, descriptor: dict[str, Any], table: str, config: Any) -> Path:
    folder = release / "sciencedb" / table
    folder.mkdir(parents=True)
    bundle = folder / f"{descriptor['name']}-{descriptor['version']}.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for name in sorted(r["path"] for r in descriptor["resources"]):
            _add(archive, name, (release / name).read_bytes())
        _add(archive, "datapackage.json", _json_bytes(descriptor))
        _add(archive, "checklist.json", (release / "checklist.json").read_bytes())
        _add(archive, "README.md", (release / "README.md").read_bytes())  # the dataset card
        _add(archive, "RELEASE.md", (release / "RELEASE.md").read_bytes())
        _add(archive, "CITATION.cff", (contract_root() / "CITATION.cff").read_bytes())
    licence = next(r for r in descriptor["resources"] if r["name"] == f"{table}-csv")
    licence_id = licence["licenses"][0]["name"]
    title = f"{descriptor['title']} — {table.upper()}"
    year = descriptor["created"][:4]
    doi = (getattr(config, "record_dois", None) or {}).get(table)  # each record its own DOI
    record = datacite_record(
        title=title, description=descriptor["description"], version=descriptor["version"],
        year=year, licence=licence_id, doi=doi,
    )  # fmt: skip
    write_json(folder / "datacite.json", record)
    write_json(folder / "metadata.json", sciencedb_metadata(descriptor, record, bundle, config))
    return bundle


def sciencedb_metadata(
    descriptor: dict[str, Any], record: dict[str, Any], bundle: Path, config: Any
) -> dict[str, Any]:
    """The fields of ScienceDB's submission form, from the DataCite record."""
    cff = citation_file()
    study = cff["preferred-citation"]
    return {
        "title": record["titles"][0]["title"],
        "description": descriptor["description"],
        "keywords": descriptor["keywords"],
        "subjects": [s["subject"] for s in record["subjects"]],
        "authors": [
            {
                "name": f"{a['given-names']} {a['family-names']}",
                "affiliation": a.get("affiliation", ""),
                **({"email": a["email"], "corresponding": True} if a.get("email") else {}),
            }
            for a in study["authors"]
        ],
        "equal_contribution": [
            f"{a['given-names']} {a['family-names']}" for a in study["authors"][:3]
        ],
        "licence": record["rightsList"][0]["rightsIdentifier"],
        "publisher": PUBLISHER,
        "publication_year": record["publicationYear"],
        "resource_type": record["types"],
        "funding": record["fundingReferences"],
        "related_identifiers": record["relatedIdentifiers"],
        "related_publication": {
            "title": " ".join(study["title"].split()),
            "journal": study["journal"],
            "doi": study["doi"],
        },
        "related_dataset_doi": cff["references"][0]["doi"],
        "version": descriptor["version"],
        "sample": bool(getattr(config, "sample", False)),
        "bundle": bundle.name,
    }


def _json_bytes(data: dict[str, Any]) -> bytes:
    import json

    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
