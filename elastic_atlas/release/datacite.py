"""DataCite metadata (kernel 4.3, the JSON form the `datacite` package validates) of one upload
record: one table of a release, with its own licence, composed from CITATION.cff and the
release config. ScienceDB mints DOIs through DataCite, so this is what a record must carry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from elastic_atlas.contract.licences import LICENCES
from elastic_atlas.paths import contract_root

PUBLISHER = "Science Data Bank"
SUBJECTS = [
    "Materials science",
    "Condensed matter physics",
    "Elastic moduli",
    "Machine learning",
    "Crystal graph convolutional neural network",
]
# Funding of the study (its acknowledgements): (funder, award number or None).
FUNDING = [
    ("National Natural Science Foundation of China", "12104356"),
    ("National Natural Science Foundation of China", "52250191"),
    ("Funding of National Key Laboratory of Computational Physics", None),
    ("National Key Research and Development Program of China", "2023YFB4604100"),
]
SOURCES = [  # where the structures and training labels come from (IsDerivedFrom)
    ("https://materialsproject.org", "URL"),
    ("10.1038/s41586-023-06735-9", "DOI"),  # GNoME, Merchant et al., Nature 624, 80 (2023)
    ("10.1038/s41524-020-00406-3", "DOI"),  # Matbench, Dunn et al., npj Comput. Mater. 2020
]


def citation_file() -> dict[str, Any]:
    return yaml.safe_load((contract_root() / "CITATION.cff").read_text(encoding="utf-8"))


def citation_text() -> str:
    """The study's citation in one line (Parquet metadata, datapackage.json)."""
    paper = citation_file()["preferred-citation"]
    text = (
        f"{paper['title']}. {paper.get('journal', '')} {paper.get('volume', '')}, "
        f"{paper.get('start', '')} ({paper.get('year', '')}). doi:{paper.get('doi', '')}"
    )
    return " ".join(text.split())


def creators() -> list[dict[str, Any]]:
    """The study's authors in order, with their affiliations (CITATION.cff)."""
    return [
        {
            "name": f"{a['family-names']}, {a['given-names']}",
            "nameType": "Personal",
            "givenName": a["given-names"],
            "familyName": a["family-names"],
            "affiliation": [{"name": a["affiliation"]}] if a.get("affiliation") else [],
        }
        for a in citation_file()["preferred-citation"]["authors"]
    ]


def related_identifiers(doi: str | None) -> list[dict[str, str]]:
    """The paper, the study's published dataset (unless this record is it) and the sources."""
    cff = citation_file()
    paper, published = cff["preferred-citation"]["doi"], cff["references"][0]["doi"]
    related = [
        {
            "relatedIdentifier": paper,
            "relatedIdentifierType": "DOI",
            "relationType": "IsSupplementTo",
        }
    ]
    if published != doi:
        related.append(
            {"relatedIdentifier": published, "relatedIdentifierType": "DOI",
             "relationType": "IsVersionOf"}
        )  # fmt: skip
    related += [
        {"relatedIdentifier": i, "relatedIdentifierType": kind, "relationType": "IsDerivedFrom"}
        for i, kind in SOURCES
    ]
    return related


def datacite_record(
    *, title: str, description: str, version: str, year: str, licence: str, doi: str | None
) -> dict[str, Any]:
    """The DataCite JSON of one upload record."""
    terms = LICENCES[licence]
    record: dict[str, Any] = {
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Tabular data"},
        "creators": creators(),
        "titles": [{"title": title}],
        "publisher": PUBLISHER,
        "publicationYear": year,
        "subjects": [{"subject": s} for s in SUBJECTS],
        "version": version,
        "language": "en",
        "rightsList": [
            {"rights": terms["title"], "rightsUri": terms["path"], "rightsIdentifier": licence}
        ],
        "descriptions": [{"description": description, "descriptionType": "Abstract"}],
        "fundingReferences": [
            {"funderName": funder, **({"awardNumber": award} if award else {})}
            for funder, award in FUNDING
        ],
        "relatedIdentifiers": related_identifiers(doi),
        "formats": ["text/csv", "application/vnd.apache.parquet"],
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }
    # "(:tba)" is DataCite's standard value for an identifier still to be assigned: ScienceDB
    # mints the record's DOI on submission; the release config's `doi` fills it in afterwards.
    record["identifiers"] = [{"identifier": doi or "(:tba)", "identifierType": "DOI"}]
    return record


def write_datacite(path: Path, record: dict[str, Any]) -> Path:
    from elastic_atlas.release.descriptor import write_json

    write_json(path, record)
    return path
