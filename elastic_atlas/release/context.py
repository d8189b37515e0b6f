"""A release in the making: its config, version, timestamp and folder, and what it built.

One `Release` object is handed from stage to stage instead of seven threaded values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from elastic_atlas.contract.references import Reference, Relation
from elastic_atlas.contract.tables import Table
from elastic_atlas.errors import EnvironmentSetupError, ReleaseError
from elastic_atlas.inputs.recipe import Recipe, Strict, load_recipe, validated
from elastic_atlas.pipeline.records import BuildStatistics
from elastic_atlas.pipeline.run import BuildResult, RunOptions
from elastic_atlas.release.citations import table_references

# SemVer 2.0 in ASCII, matched in full (no leading zeros, no trailing newline).
_NUMBER = r"(0|[1-9][0-9]*)"
SEMVER = re.compile(
    rf"{_NUMBER}\.{_NUMBER}\.{_NUMBER}(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?",
    re.ASCII,
)


def matching(pattern: str, what: str) -> Any:
    """A string type that must match `pattern` in full (ASCII), else "'value' is not <what>"."""
    compiled = re.compile(pattern, re.ASCII)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return Annotated[str, AfterValidator(check)]


Slug = matching(r"[a-z0-9]+([-_.][a-z0-9]+)*", "a plain slug (lower-case letters, digits, - _ .)")
Doi = matching(r"10\.[0-9]{4,9}/[^\s]+", "a bare DOI (10.prefix/suffix, no URL)")
Orcid = matching(r"[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]",
                 "a bare ORCID iD (0000-0002-1825-0097)")  # fmt: skip
RorId = matching(r"https://ror\.org/0[a-z0-9]{8}", "a ROR id (https://ror.org/0abcdefgh)")
HttpUrl = matching(r"https?://[^\s]+", "an http(s) URL")


TABLE_TITLES = {t.value: t.title for t in Table}


# The environment of a release is unusable (an invalid SOURCE_DATE_EPOCH): exit 2.
ReleaseSetupError = EnvironmentSetupError


class Creator(Strict):
    """A creator of this release: a person (given/family names, ORCID) or an organisation."""

    name: str | None = None  # an organisation (or a person's full name)
    given_names: str | None = None
    family_names: str | None = None
    orcid: Orcid | None = None  # 0000-0002-1825-0097
    affiliation: str | None = None
    affiliation_ror: RorId | None = None  # https://ror.org/0abcdefgh

    @model_validator(mode="after")
    def _named(self) -> Creator:
        if not (self.name or self.family_names):
            raise ValueError("a creator needs `name` or `family_names`")
        return self

    @property
    def full_name(self) -> str:
        return self.name or " ".join(n for n in (self.given_names, self.family_names) if n)


class Funding(Strict):
    funder: str
    funder_id: str | None = None  # Crossref Funder ID (10.13039/...) or a ROR id
    award: str | None = None


class ReleaseConfig(Strict):
    name: Slug
    title: str
    description: str  # what the release is; each table's facts are generated from its build
    keywords: list[str]
    sample: bool = False
    tables: dict[str, Path]
    doi: Doi | None = None  # this dataset's own DOI, once minted: the descriptor's `id`
    # DOIs of the per-table upload records once ScienceDB has minted them ({mped = "10..."})
    record_dois: dict[str, Doi] = Field(default_factory=dict)
    homepage: HttpUrl | None = None  # this dataset's landing page (http or https)
    creators: list[Creator] = Field(default_factory=list)
    funding: list[Funding] = Field(default_factory=list)

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: dict[str, Path]) -> dict[str, Path]:
        unknown = sorted(set(value) - set(TABLE_TITLES))
        if unknown or not value:
            raise ValueError(
                f"tables must name some of {sorted(TABLE_TITLES)}, got {sorted(value)}"
            )
        return value

    @model_validator(mode="after")
    def _complete(self) -> ReleaseConfig:
        if not self.sample and not self.creators:
            raise ValueError("creators: a release that is not the sample must name its creators")
        stray = sorted(set(self.record_dois) - set(self.tables))
        if stray:
            raise ValueError(f"record_dois: {stray} are not tables of this release")
        return self


@dataclass
class Release:
    """Everything the stages of one release share."""

    config: ReleaseConfig
    recipes: dict[str, Recipe]
    version: str
    created: str
    out: Path
    options: RunOptions
    built: dict[str, BuildResult] = field(default_factory=dict)
    model_files: list[Path] = field(default_factory=list)
    model_folders: dict[str, list[str]] = field(default_factory=dict)  # table -> models/<name>
    validation: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)  # table -> TableChanges

    @property
    def statistics(self) -> dict[str, BuildStatistics]:
        return {table: result.statistics for table, result in self.built.items()}

    @property
    def year(self) -> str:
        return self.created[:4]

    def references(self, tables: list[str] | None = None) -> dict[Reference, Relation]:
        """The works the given tables (default: all) come from or rely on, with relations."""
        merged: dict[Reference, Relation] = {}
        for table in tables or list(self.built):
            checkpoints = self.statistics[table].checkpoints
            for ref, relation in table_references(self.recipes[table], checkpoints).items():
                if merged.get(ref) is not Relation.DERIVED_FROM:
                    merged[ref] = relation
        return dict(sorted(merged.items(), key=lambda item: list(Reference).index(item[0])))


def load_config(path: Path) -> tuple[ReleaseConfig, dict[str, Recipe]]:
    config = validated(ReleaseConfig, path)
    recipes = {t: load_recipe((path.parent / p).resolve()) for t, p in config.tables.items()}
    return config, recipes


def check_version(version: str, config: ReleaseConfig) -> None:
    if not SEMVER.fullmatch(version):
        raise ReleaseError(f"version {version!r} is not X.Y.Z[-pre][+build]")
    if config.sample and "sample" not in version.partition("+")[2]:
        raise ReleaseError(f"a sample release needs '+sample' build metadata: {version}+sample")
    if not config.sample and "sample" in version:
        raise ReleaseError("only a release of the embedded sample may be labelled 'sample'")
