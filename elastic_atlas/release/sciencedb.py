"""The Science Data Bank (ScienceDB) upload records: one per table, each with its own licence.

MPED (Materials Project data, CC-BY-4.0) and NED (GNoME data, CC-BY-NC-4.0) cannot share one
record. Each record is a zip that stands alone (its table's CSV, Parquet and rejects, the
checkpoints that made it, and a data package descriptor, dataset card and release notes of that
table only, the checklist, PHYSICS.md and CITATION.cff) plus `metadata.json` (the fields
ScienceDB's form asks for) and `datacite.json` (DataCite kernel 4.3). Zip entries carry a fixed
timestamp, so a rebuild is byte-identical.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from elastic_atlas.paths import contract_root
from elastic_atlas.release.citations import citation_file, citation_text
from elastic_atlas.release.context import Release
from elastic_atlas.release.datacite import PUBLISHER, datacite_record
from elastic_atlas.release.dataset_card import dataset_card
from elastic_atlas.release.descriptor import sources, write_json
from elastic_atlas.release.facts import methods_text, table_description
from elastic_atlas.release.notes import release_notes
from elastic_atlas.release.page import index_html, page_resource

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compresslevel=9)


def table_descriptor(
    descriptor: dict[str, Any], table: str, release: Release, doi: str | None
) -> dict[str, Any]:
    """The release's descriptor with only one table's resources, the checkpoints that made it,
    its own description, sources and citation, and the record's DOI as its identity."""
    checkpoints = set(release.model_folders[table])
    keep = [
        r for r in descriptor["resources"]
        if (r["name"].startswith(f"{table}-") and r["name"] != "index-html")
        or (r["path"].startswith("models/") and Path(r["path"]).parts[1] in checkpoints)
    ]  # fmt: skip
    record = {k: v for k, v in descriptor.items() if k != "id"}
    if doi:
        record = {"id": f"https://doi.org/{doi}", **record}
    return {
        **record,
        "name": f"{descriptor['name']}-{table}",
        "title": f"{descriptor['title']} — {table.upper()}",
        "description": table_description(release, table),
        "sources": sources(release.references([table])),
        "citation": citation_text(release.config, release.version, release.year, doi),
        "resources": keep,
    }


def write_bundle(release: Release, descriptor: dict[str, Any]) -> list[Path]:
    """sciencedb/<table>/: the record's zip, metadata.json and datacite.json, per table."""
    return [write_record(release, descriptor, table) for table in release.built]


def write_record(release: Release, full: dict[str, Any], table: str) -> Path:
    """One record: a zip that stands alone (its table's files and checkpoints, and a
    datapackage, card and notes of that table only), with its DataCite and form metadata."""
    out, config = release.out, release.config
    doi = config.record_dois.get(table)  # each record its own DOI, once minted
    descriptor = table_descriptor(full, table, release, doi)
    folder = out / "sciencedb" / table
    folder.mkdir(parents=True)
    bundle = folder / f"{descriptor['name']}-{descriptor['version']}.zip"
    page = folder / "index.html"  # the record's own page: its table only
    page.write_text(index_html(release, [table]), encoding="utf-8")
    descriptor["resources"].append(page_resource(page, folder, release.statistics[table].licence))
    with zipfile.ZipFile(bundle, "w") as archive:
        for name in sorted(r["path"] for r in descriptor["resources"]):
            _add(
                archive, name, (folder if name == "index.html" else out).joinpath(name).read_bytes()
            )
        _add(archive, "datapackage.json", _json_bytes(descriptor))
        _add(archive, "checklist.json", (out / "checklist.json").read_bytes())
        _add(archive, "PHYSICS.md", (out / "PHYSICS.md").read_bytes())
        _add(archive, "README.md", dataset_card(release, [table], doi).encode())
        _add(archive, "RELEASE.md", release_notes(release, [table]).encode())
        _add(archive, "CITATION.cff", (contract_root() / "CITATION.cff").read_bytes())
    rows = next(r["rows"] for r in descriptor["resources"] if r["name"] == f"{table}-csv")
    record = datacite_record(
        config,
        title=descriptor["title"],
        abstract=descriptor["description"],
        methods=methods_text(release, table),
        version=descriptor["version"],
        created=descriptor["created"],
        licence=release.statistics[table].licence,
        doi=doi,
        references=release.references([table]),
        sizes=[f"{rows} rows", f"{bundle.stat().st_size} bytes (zip)"],
    )
    page.unlink()  # inside the zip only
    write_json(folder / "datacite.json", record)
    write_json(folder / "metadata.json", sciencedb_metadata(descriptor, record, bundle, config))
    return bundle


def sciencedb_metadata(
    descriptor: dict[str, Any], record: dict[str, Any], bundle: Path, config: Any
) -> dict[str, Any]:
    """The fields of ScienceDB's submission form, from the DataCite record: the authors are
    the release's creators; the study is the related publication whose method it follows."""
    cff = citation_file()
    study = cff["preferred-citation"]
    return {
        "title": record["titles"][0]["title"],
        "description": descriptor["description"],
        "keywords": descriptor["keywords"],
        "subjects": [s["subject"] for s in record["subjects"]],
        "authors": [
            {
                "name": c.full_name,
                **({"orcid": c.orcid} if c.orcid else {}),
                **({"affiliation": c.affiliation} if c.affiliation else {}),
            }
            for c in config.creators
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
            "relation": "the method this dataset re-implements",
        },
        "version": descriptor["version"],
        "sample": bool(config.sample),
        "bundle": bundle.name,
    }


def _json_bytes(data: dict[str, Any]) -> bytes:
    import json

    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
