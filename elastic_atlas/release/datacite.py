"""DataCite metadata (kernel 4.3, the JSON form the `datacite` package validates) of one upload
record: one table of a release, with its own licence, description, sources and relations.

The creators are the release's (its config); the study's authors are credited through the
related identifiers (their article and dataset, relation References) and the citations.
ScienceDB mints DOIs through DataCite, so this is what a record must carry.
"""

from __future__ import annotations

from typing import Any

from elastic_atlas.contract.licences import LICENCES
from elastic_atlas.contract.references import Reference, Relation

PUBLISHER = "Science Data Bank"
FOS = "Fields of Science and Technology (FOS)"
FOS_URI = "http://www.oecd.org/science/inno/38235147.pdf"
SUBJECTS = [  # OECD Fields of Science, the scheme DataCite recommends for disciplines
    {"subject": "FOS: Physical sciences", "subjectScheme": FOS, "schemeUri": FOS_URI},
    {"subject": "FOS: Materials engineering", "subjectScheme": FOS, "schemeUri": FOS_URI},
    {
        "subject": "FOS: Computer and information sciences",
        "subjectScheme": FOS,
        "schemeUri": FOS_URI,
    },
]
FORMATS = ["text/csv", "application/vnd.apache.parquet", "application/zip"]


def creators(config: Any) -> list[dict[str, Any]]:
    """The release's creators (config), with ORCID and ROR where the config gives them."""
    out = []
    for c in config.creators:
        person = bool(c.family_names)
        entry: dict[str, Any] = {
            "name": f"{c.family_names}, {c.given_names}"
            if person and c.given_names
            else c.full_name,
            "nameType": "Personal" if person else "Organizational",
        }
        if person:
            entry["familyName"] = c.family_names
            if c.given_names:
                entry["givenName"] = c.given_names
        if c.orcid:
            entry["nameIdentifiers"] = [
                {
                    "nameIdentifier": f"https://orcid.org/{c.orcid}",
                    "nameIdentifierScheme": "ORCID",
                    "schemeUri": "https://orcid.org",
                }
            ]
        if c.affiliation:
            affiliation: dict[str, Any] = {"name": c.affiliation}
            if c.affiliation_ror:
                affiliation |= {
                    "affiliationIdentifier": c.affiliation_ror,
                    "affiliationIdentifierScheme": "ROR",
                    "schemeUri": "https://ror.org",
                }
            entry["affiliation"] = [affiliation]
        out.append(entry)
    return out


def funding(config: Any) -> list[dict[str, Any]]:
    """The release's funding (config); funder ids typed as Crossref Funder ID or ROR."""
    out = []
    for f in config.funding:
        entry: dict[str, Any] = {"funderName": f.funder}
        if f.funder_id:
            ror = f.funder_id.startswith("https://ror.org/")
            entry["funderIdentifier"] = f.funder_id
            entry["funderIdentifierType"] = "ROR" if ror else "Crossref Funder ID"
        if f.award:
            entry["awardNumber"] = f.award
        out.append(entry)
    return out


def related_identifiers(references: dict[Reference, Relation]) -> list[dict[str, str]]:
    return [
        {"relatedIdentifier": r.doi, "relatedIdentifierType": "DOI", "relationType": rel.value}
        for r, rel in references.items()
    ]


def datacite_record(
    config: Any,
    *,
    title: str,
    abstract: str,
    methods: str,
    version: str,
    created: str,
    licence: str,
    doi: str | None,
    references: dict[Reference, Relation],
    sizes: list[str],
) -> dict[str, Any]:
    """The DataCite JSON of one upload record."""
    terms = LICENCES[licence]
    record: dict[str, Any] = {
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Tabular data"},
        "creators": creators(config),
        "titles": [{"title": title}],
        "publisher": PUBLISHER,
        "publicationYear": created[:4],
        "subjects": SUBJECTS + [{"subject": k} for k in config.keywords],
        "dates": [
            {"date": created[:10], "dateType": "Created"},
            {"date": created[:10], "dateType": "Issued"},
        ],
        "version": version,
        "language": "en",
        "sizes": sizes,
        "formats": FORMATS,
        "rightsList": [
            {
                "rights": terms["title"],
                "rightsUri": terms["path"],
                "rightsIdentifier": licence,
                "rightsIdentifierScheme": "SPDX",
                "schemeUri": "https://spdx.org/licenses/",
            }
        ],
        "descriptions": [
            {"description": abstract, "descriptionType": "Abstract"},
            {"description": methods, "descriptionType": "Methods"},
        ],
        "fundingReferences": funding(config),
        "relatedIdentifiers": related_identifiers(references),
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }
    # "(:tba)" is DataCite's standard value for an identifier still to be assigned: ScienceDB
    # mints the record's DOI on submission; the release config's `record_dois` fills it in.
    record["identifiers"] = [{"identifier": doi or "(:tba)", "identifierType": "DOI"}]
    return record
