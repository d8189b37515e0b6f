"""croissant.json: the release as MLCommons Croissant 1.0 JSON-LD, built with mlcroissant.

Every Parquet file is a FileObject with its sha256; every table is a RecordSet whose fields
carry the schema's data type and description (with the unit), each extracted from its Parquet
column. Loaders that read Croissant (mlcroissant, TFDS, Hugging Face, Kaggle) then find the
tables without reading this project's schema.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from elastic_atlas.digest import file_digest
from elastic_atlas.release.citations import bibtex, release_entry, release_key
from elastic_atlas.release.context import Release

CROISSANT = "http://mlcommons.org/croissant/1.0"


def _data_type(kind: str) -> Any:
    import mlcroissant as mlc

    types = {
        "number": mlc.DataType.FLOAT64,
        "integer": mlc.DataType.INT64,
        "boolean": mlc.DataType.BOOL,
    }
    return types.get(kind, mlc.DataType.TEXT)


def record_set(name: str, file: str, schema: dict[str, Any], description: str) -> Any:
    """One RecordSet: every field of `schema` extracted from the Parquet `file`, keyed by
    material_id."""
    import mlcroissant as mlc

    fields = [
        mlc.Field(
            id=f"{name}/{f['name']}",
            name=f["name"],
            description=f"{f.get('description', '')} Unit: {f.get('unit', '1')}.",
            data_types=[_data_type(f["type"])],
            source=mlc.Source(file_object=file, extract=mlc.Extract(column=f["name"])),
        )
        for f in schema["fields"]
    ]
    return mlc.RecordSet(
        id=name, name=name, description=description, key=[f"{name}/material_id"], fields=fields
    )


def creators(release: Release) -> list[Any]:
    import mlcroissant as mlc

    return [
        mlc.Person(name=c.full_name, url=f"https://orcid.org/{c.orcid}" if c.orcid else None)
        if c.family_names
        else mlc.Organization(name=c.full_name)
        for c in release.config.creators
    ]


def croissant_metadata(release: Release, descriptor: dict[str, Any]) -> dict[str, Any]:
    """The Croissant JSON-LD of a release folder (its Parquet tables)."""
    import mlcroissant as mlc

    folder, config = release.out, release.config
    parquet = [r for r in descriptor["resources"] if r.get("format") == "parquet"]
    tables = [r for r in parquet if "elastic_atlas:table" in r]
    files = [
        mlc.FileObject(
            id=r["path"], name=r["path"], content_url=r["path"],
            encoding_formats=[mlc.EncodingFormat.PARQUET], sha256=file_digest(folder / r["path"]),
        )
        for r in parquet
    ] + [
        mlc.FileObject(
            id=r["path"], name=r["path"], content_url=r["path"], encoding_formats=["text/html"],
            sha256=file_digest(folder / r["path"]),
        )
        for r in descriptor["resources"] if r["path"] == "index.html"
    ]  # fmt: skip
    records = [
        record_set(r["elastic_atlas:table"], r["path"], r["schema"], r["description"])
        for r in tables
    ] + [
        record_set(r["name"], r["path"], r["schema"], r["title"])
        for r in parquet if "elastic_atlas:table" not in r
    ]  # fmt: skip
    own = release_entry(config, release.version, release.year, doi=config.doi)
    url = config.homepage or (f"https://doi.org/{config.doi}" if config.doi else None)
    licences = sorted({r["licenses"][0]["path"] for r in tables})
    metadata = mlc.Metadata(
        name=descriptor["name"],
        description=descriptor["description"],
        version=_semver(descriptor["version"]),
        license=licences,
        url=url,
        cite_as=bibtex([], own, release_key(config, release.year)).strip(),
        creators=creators(release),
        keywords=descriptor["keywords"],
        date_published=datetime.fromisoformat(descriptor["created"].replace("Z", "+00:00")),
        distribution=files,
        record_sets=records,
    )
    return metadata.to_json()


def _semver(version: str) -> str:
    """Croissant wants MAJOR.MINOR.PATCH; build metadata (+sample) stays in the name."""
    return version.partition("+")[0]


def write_croissant(release: Release, descriptor: dict[str, Any]) -> Path:
    path = release.out / "croissant.json"
    data = croissant_metadata(release, descriptor)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    return path
