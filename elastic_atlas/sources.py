"""Where structures come from: CIF files, folders and zips, streamed one at a time.

Every input yields exactly one `RawStructure`: its text, or the reason it could not be read, so
that nothing disappears between the input and the accounting of a build.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CIF_SUFFIXES = (".cif",)


class SourceError(Exception):
    """A whole source cannot be read (missing path, broken zip directory)."""


@dataclass(frozen=True)
class RawStructure:
    """One input structure: CIF text, or why there is none (`reason`, `detail`)."""

    material_id: str
    text: str | None
    source: str
    reason: str | None = None
    detail: str | None = None


def _is_cif(name: str) -> bool:
    return name.lower().endswith(CIF_SUFFIXES) and not Path(name).name.startswith(".")


def _decode(material_id: str, data: bytes, source: str) -> RawStructure:
    try:
        return RawStructure(material_id, data.decode("utf-8"), source)
    except UnicodeDecodeError as error:
        return RawStructure(
            material_id, None, source, "unreadable_file", f"not UTF-8 text: {error}"
        )


def iter_zip(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    """CIFs of a zip (`<material_id>.cif` or GNoME's `<MaterialId>.CIF`), in name order."""
    source = source or path.name
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise SourceError(f"{path}: not a readable zip archive ({error})") from error
    with archive:
        names = sorted(n for n in archive.namelist() if _is_cif(n))
        for name in names:
            material_id = Path(name).stem
            try:
                data = archive.read(name)
            except (OSError, zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as error:
                yield RawStructure(material_id, None, source, "unreadable_file", f"{name}: {error}")
                continue
            yield _decode(material_id, data, source)


def iter_folder(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    source = source or path.name
    for file in sorted(p for p in path.iterdir() if p.is_file() and _is_cif(p.name)):
        yield from iter_file(file, source)


def iter_file(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    source = source or path.name
    try:
        data = path.read_bytes()
    except OSError as error:
        yield RawStructure(path.stem, None, source, "unreadable_file", str(error))
        return
    yield _decode(path.stem, data, source)


def iter_cif_source(path: Path) -> Iterator[RawStructure]:
    """A CIF file, a folder of CIFs or a zip of CIFs."""
    path = Path(path)
    if path.is_dir():
        return iter_folder(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return iter_zip(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        raise SourceError(f"{path}: not a readable zip archive (truncated or corrupt)")
    if path.is_file():
        return iter_file(path)
    raise SourceError(f"{path}: no such file or folder")
