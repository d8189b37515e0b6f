"""A release in the making: its config, version, timestamp and folder, and what it built.

One `Release` object is handed from stage to stage instead of seven threaded values.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from elastic_atlas.inputs.recipe import Recipe, RecipeError, Strict, load_recipe, validated
from elastic_atlas.pipeline.run import BuildResult, RunOptions

SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


TABLE_TITLES = {"mped": "MPED (Materials Project)", "ned": "NED (GNoME)"}


class ReleaseError(Exception):
    """The release cannot be made (bad version, validation errors, existing version differs)."""


class ReleaseSetupError(RecipeError):
    """The environment of a release is unusable (an invalid SOURCE_DATE_EPOCH): exit 2."""


class ReleaseConfig(Strict):
    name: str
    title: str
    description: str
    keywords: list[str]
    sample: bool = False
    tables: dict[str, Path]
    doi: str | None = None  # the dataset's DOI: the descriptor's `id`
    # DOIs of the per-table upload records once ScienceDB has minted them ({mped = "10..."})
    record_dois: dict[str, str] = Field(default_factory=dict)
    homepage: str = "https://doi.org/10.7498/aps.74.20250127"


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
    validation: dict[str, Any] = field(default_factory=dict)

    @property
    def summaries(self) -> dict[str, dict[str, Any]]:
        return {table: result.summary for table, result in self.built.items()}


def load_config(path: Path) -> tuple[ReleaseConfig, dict[str, Recipe]]:
    config = validated(ReleaseConfig, path)
    recipes = {t: load_recipe((path.parent / p).resolve()) for t, p in config.tables.items()}
    return config, recipes


def check_version(version: str, config: ReleaseConfig) -> None:
    if not SEMVER.match(version):
        raise ReleaseError(f"version {version!r} is not X.Y.Z[-pre][+build]")
    if config.sample and "sample" not in version.partition("+")[2]:
        raise ReleaseError(f"a sample release needs '+sample' build metadata: {version}+sample")
    if not config.sample and "sample" in version:
        raise ReleaseError("only a release of the embedded sample may be labelled 'sample'")


def created_timestamp() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else today at 00:00 UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    try:
        seconds = int(epoch)
        if seconds < 0:
            raise ValueError(epoch)
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise ReleaseSetupError(
            f"SOURCE_DATE_EPOCH={epoch!r} is not a count of seconds since 1970; unset it or "
            "give e.g. $(git log -1 --format=%ct)"
        ) from None
    return moment.strftime("%Y-%m-%dT00:00:00Z")
