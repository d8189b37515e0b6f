"""What `validate` may open: plain relative paths to regular files inside the package."""

from __future__ import annotations

import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from elastic_atlas.errors import PackageError
from elastic_atlas.validation.findings import Finding, table_finding

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, file:, C: ...


def inside_package(base: Path, relative: Any, name: str) -> tuple[Path | None, list[Finding]]:
    """The file a descriptor path names, if it is a plain relative path to a regular file inside
    the package folder; else a finding and nothing to read (URLs, absolute paths, '..', links
    leading out, devices and pipes are never opened)."""
    if isinstance(relative, list):
        raise PackageError(f"resource {name!r}: multipart paths are not supported")
    if not isinstance(relative, str) or not relative:
        raise PackageError(f"resource {name!r}: path {relative!r} is not a string")

    def refused(why: str) -> tuple[None, list[Finding]]:
        message = f"{relative!r} {why}; only files inside the package folder are read"
        return None, [table_finding("package.path", [name], message)]

    if "\0" in relative:
        return refused("contains a NUL character")
    pure = PurePosixPath(relative.replace("\\", "/"))
    if _SCHEME.match(relative) or relative.startswith("//"):
        return refused("is a URL or names a drive")
    if pure.is_absolute():
        return refused("is an absolute path")
    if ".." in pure.parts:
        return refused("climbs out with '..'")
    candidate = base / pure
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base.resolve()):
        return refused("leads outside the package folder through a link")
    if not resolved.exists():
        return None, [table_finding("package.missing_file", [name], f"{candidate} does not exist")]
    if not stat.S_ISREG(resolved.stat().st_mode):
        return refused("is not a regular file")
    return resolved, []
