"""Who and what a release cites, generated from one place (CITATION.cff) and the build.

A release is its own dataset: its creators (the release config) made it, with this project's
code and checkpoint, from the tables' sources. It credits the study's authors as authors of the
method (their article and dataset are cited) and cites every source its tables used: the
structures' and DFT tables' sources (recipe `cite`), the checkpoint's training data, CGCNN.
BibTeX is written by pybtex, which escapes what LaTeX would misread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import yaml

from elastic_atlas.contract.references import METHOD, TRAINING_DATA, Reference, Relation
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.paths import contract_root


@cache
def citation_file() -> dict[str, Any]:
    return yaml.safe_load((contract_root() / "CITATION.cff").read_text(encoding="utf-8"))


def cff_reference(reference: Reference) -> dict[str, Any]:
    """The full reference of a work in CITATION.cff (the study is its preferred citation)."""
    cff = citation_file()
    for entry in [cff["preferred-citation"], *cff.get("references", [])]:
        if str(entry.get("doi", "")).lower() == reference.doi.lower():
            return entry
    raise KeyError(f"CITATION.cff has no reference with DOI {reference.doi} ({reference.value})")


def table_references(
    recipe: Recipe, checkpoints: list[dict[str, Any]]
) -> dict[Reference, Relation]:
    """Every work one table's rows come from or rely on, with its DataCite relation."""
    related: dict[Reference, Relation] = {}
    data = [ref for origin in recipe.structures for ref in origin.cite]
    data += list(recipe.dft.cite) if recipe.dft else []
    for checkpoint in checkpoints:
        data += TRAINING_DATA.get(checkpoint["kind"], ())
    for reference in data:
        related[reference] = Relation.DERIVED_FROM
    for reference in METHOD:
        related.setdefault(reference, Relation.REFERENCES)
    return dict(sorted(related.items(), key=lambda item: list(Reference).index(item[0])))


def _bib_key(reference: Reference) -> str:
    entry = cff_reference(reference)
    family = entry["authors"][0]["family-names"].split()[-1].lower()
    return f"{family}{entry['year']}{reference.value.replace('-', '')}"


def _entry(reference: Reference) -> Any:
    from pybtex.database import Entry, Person

    cff = cff_reference(reference)
    kind = "misc" if cff.get("type") == "data" else "article"
    fields = {"title": " ".join(cff["title"].split()), "year": str(cff["year"]), "doi": cff["doi"]}
    if kind == "article":
        fields["journal"] = cff["journal"]
        fields["volume"] = str(cff["volume"])
        pages = str(cff.get("start", ""))
        fields["pages"] = f"{pages}--{cff['end']}" if cff.get("end") else pages
    else:
        fields["publisher"] = cff["publisher"]["name"]
    persons = [Person(f"{a['family-names']}, {a['given-names']}") for a in cff["authors"]]
    return Entry(kind, fields=fields, persons={"author": persons})


def release_entry(
    config: Any, version: str, year: str, table: str | None = None, doi: str | None = None
) -> Any:
    """@misc of the release itself (or of one table's record)."""
    from pybtex.database import Entry, Person

    fields = {
        "title": config.title + (f" ({table.upper()})" if table else ""),
        "year": year,
        "version": version,
        "publisher": "Science Data Bank" if doi else "elastic-atlas",
        "note": "Regenerated with elastic-atlas by the method of Liu et al. (2025)",
    }
    if doi:
        fields["doi"] = doi
    if config.homepage:
        fields["url"] = config.homepage
    people = [
        Person(f"{c.family_names}, {c.given_names or ''}".rstrip(", "))
        if c.family_names
        else Person(f"{{{c.name}}}")  # an organisation: braces keep it one name
        for c in config.creators
    ] or [Person("{elastic-atlas developers}")]
    return Entry("misc", fields=fields, persons={"author": people})


def release_key(config: Any, year: str) -> str:
    """The BibTeX key of a release: its name and year, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", config.name.lower()) + year


def bibtex(references: Iterable[Reference], own: Any | None = None, own_key: str = "") -> str:
    """BibTeX of the release (`own`, when given) and the works it cites, in that order."""
    from pybtex.database import BibliographyData

    entries = {own_key or "release": own} if own is not None else {}
    entries |= {_bib_key(r): _entry(r) for r in references}
    return BibliographyData(entries).to_string("bibtex")


def citation_text(config: Any, version: str, year: str, doi: str | None = None) -> str:
    """One line citing the release (Parquet metadata, datapackage.json `citation`)."""
    names = (
        "; ".join(
            f"{c.family_names}, {c.given_names or ''}".rstrip(", ") if c.family_names else c.name
            for c in config.creators
        )
        or "elastic-atlas developers"
    )
    where = f" https://doi.org/{doi}" if doi else (f" {config.homepage}" if config.homepage else "")
    return (
        f"{names} ({year}). {config.title} (version {version}) [Data set].{where} "
        f"Regenerated by the method of Liu et al., Acta Physica Sinica 74, 120702 (2025), "
        f"doi:{Reference.STUDY.doi}."
    )
