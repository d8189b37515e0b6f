"""The Science Data Bank (ScienceDB) upload bundle: one zip and a metadata JSON.

The zip holds the data files, datapackage.json, the release notes as README and CITATION.cff;
its entries carry a fixed timestamp so the bundle is byte-identical on rebuild.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import yaml

from elastic_atlas.paths import contract_root
from elastic_atlas.release.descriptor import write_json

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
AFFILIATION = "see the publication (Acta Physica Sinica 74, 120702 (2025))"


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compresslevel=9)


def write_bundle(release: Path, descriptor: dict[str, Any], config: Any) -> Path:
    folder = release / "sciencedb"
    folder.mkdir()
    version = descriptor["version"]
    bundle = folder / f"{descriptor['name']}-{version}.zip"
    files = [r["path"] for r in descriptor["resources"]]
    with zipfile.ZipFile(bundle, "w") as archive:
        for name in sorted(files):
            _add(archive, name, (release / name).read_bytes())
        _add(archive, "datapackage.json", (release / "datapackage.json").read_bytes())
        _add(archive, "checklist.json", (release / "checklist.json").read_bytes())
        _add(archive, "README.md", (release / "RELEASE.md").read_bytes())
        _add(archive, "CITATION.cff", (contract_root() / "CITATION.cff").read_bytes())
    cff = yaml.safe_load((contract_root() / "CITATION.cff").read_text(encoding="utf-8"))
    study = cff["preferred-citation"]
    licences = sorted({lic["name"] for r in descriptor["resources"] for lic in r["licenses"]})
    metadata = {
        "title": descriptor["title"],
        "description": descriptor["description"],
        "keywords": descriptor["keywords"],
        "authors": [
            {"name": f"{a['given-names']} {a['family-names']}", "affiliation": AFFILIATION}
            for a in study["authors"]
        ],
        "licence": licences if len(licences) > 1 else licences[0],
        "licence_per_file": {r["path"]: r["licenses"][0]["name"] for r in descriptor["resources"]},
        "related_publication": {
            "title": study["title"].strip(),
            "journal": study["journal"],
            "doi": study["doi"],
        },
        "related_dataset_doi": cff["references"][0]["doi"],
        "version": version,
        "sample": bool(getattr(config, "sample", False)),
        "bundle": bundle.name,
    }
    write_json(folder / "metadata.json", metadata)
    return bundle
