"""Where the repository's declarative folders (schema/, validate/, build/, models/) live."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The project root: $ELASTIC_ATLAS_HOME, else the folder above the (editable) package."""
    override = os.environ.get("ELASTIC_ATLAS_HOME")
    return Path(override) if override else Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    """The read-only real data of ../shared/data, next to the repository."""
    override = os.environ.get("ELASTIC_ATLAS_SHARED_DATA")
    return Path(override) if override else repo_root().parent / "shared" / "data"


def display_path(path: Path) -> str:
    """A path relative to the repository when inside it, so no machine-specific prefix is
    written into release files."""
    try:
        return Path(path).resolve().relative_to(repo_root().resolve()).as_posix()
    except ValueError:
        return Path(path).name
