"""Where the declarative folders (schema/, validate/, build/, models/) and caches live.

In a source checkout they are the repository's top-level folders, the source of truth. A wheel
carries copies of them inside the package (`elastic_atlas/_data/`, found through
importlib.resources), so a pip-installed `elastic-atlas` works from any folder without a clone.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

PACKAGED = "_data"  # the wheel's copy of schema/, validate/, build/, models/, CITATION.cff


def repo_root() -> Path:
    """The project root: $ELASTIC_ATLAS_HOME, else the folder above the package (a checkout)."""
    override = os.environ.get("ELASTIC_ATLAS_HOME")
    return Path(override) if override else Path(__file__).resolve().parent.parent


def packaged_root() -> Path | None:
    """The wheel's copy of the declarative folders, or None in a source checkout."""
    folder = Path(str(importlib.resources.files("elastic_atlas") / PACKAGED))
    return folder if folder.is_dir() else None


def contract_root() -> Path:
    """Where schema/, validate/, build/, models/ and CITATION.cff are read from."""
    if os.environ.get("ELASTIC_ATLAS_HOME"):
        return repo_root()
    return packaged_root() or repo_root()


def is_source_checkout() -> bool:
    return packaged_root() is None and (repo_root() / "pyproject.toml").is_file()


def default_releases() -> Path:
    """releases/ of the checkout; for an installed package, releases/ in the current folder."""
    return repo_root() / "releases" if is_source_checkout() else Path.cwd() / "releases"


def cache_dir(kind: str) -> Path:
    """$ELASTIC_ATLAS_CACHE/<kind>, else the per-user cache folder — never the current one."""
    root = os.environ.get("ELASTIC_ATLAS_CACHE")
    if root:
        return Path(root) / kind
    import platformdirs

    return Path(platformdirs.user_cache_dir("elastic-atlas")) / kind


def shared_data() -> Path:
    """The read-only real data of ../shared/data, next to the repository."""
    override = os.environ.get("ELASTIC_ATLAS_SHARED_DATA")
    return Path(override) if override else repo_root().parent / "shared" / "data"


def display_path(path: Path) -> str:
    """A path relative to the contract folders (or the repository) when inside them, so no
    machine-specific prefix is written into release files."""
    resolved = Path(path).resolve()
    for root in (contract_root(), repo_root()):
        try:
            return resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    return resolved.name
