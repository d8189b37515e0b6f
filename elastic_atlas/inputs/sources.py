"""Where structures come from: CIF files, folders and zips, streamed one at a time.

Every input yields exactly one `RawStructure`: its text, or the reason it could not be read, so
that nothing disappears between the input and the accounting of a build.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from elastic_atlas.contract.reasons import Reason
from elastic_atlas.errors import SourceError

CIF_SUFFIXES = (".cif",)
# The largest CIF read (bytes, uncompressed). The largest of the 72,733 MP 2018 and GNoME CIFs
# is well under 100 kB; a bigger entry is a broken or hostile input (a zip bomb), rejected
# before it is decompressed in full.
MAX_CIF_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class RawStructure:
    """One input structure: CIF text, or why there is none (`reason`, `detail`)."""

    material_id: str
    text: str | None
    source: str
    reason: Reason | None = None
    detail: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    licence: str = ""


GZIP_SUFFIX = ".cif.gz"


def is_cif_name(name: str) -> bool:
    return _kind(name) in ("cif", "gzip")


def _kind(name: str) -> str:
    """How a file or member is read: 'cif', 'gzip' (a gzipped CIF, read as one), or 'skip'
    (a hidden file, a name with surrounding spaces, anything else) — never silently."""
    base = Path(name).name
    if base.startswith(".") or base != base.strip():
        return "skip"
    lower = base.lower()
    if lower.endswith(GZIP_SUFFIX):
        return "gzip"
    return "cif" if lower.endswith(CIF_SUFFIXES) else "skip"


def _material_id(name: str) -> str:
    base = Path(name).name
    return base[: -len(GZIP_SUFFIX)] if base.lower().endswith(GZIP_SUFFIX) else Path(base).stem


def _skipped(name: str, source: str) -> RawStructure:
    base = Path(name).name
    why = (
        "a hidden file" if base.startswith(".")
        else "a name with leading or trailing spaces" if base != base.strip()
        else "not a .cif or .cif.gz file"
    )  # fmt: skip
    return RawStructure(base, None, source, Reason.SKIPPED_FILE, f"{name!r}: {why}")


def _gunzip(material_id: str, data: bytes, source: str) -> RawStructure:
    """A gzipped CIF, decompressed to at most MAX_CIF_BYTES + 1 bytes (a gzip bomb stops
    there)."""
    import gzip
    import io

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            text = handle.read(MAX_CIF_BYTES + 1)
    except (OSError, EOFError) as error:
        return RawStructure(
            material_id, None, source, Reason.UNREADABLE_FILE, f"not a gzip file: {error}"
        )
    return _decode(material_id, text, source)


def _decode(material_id: str, data: bytes, source: str) -> RawStructure:
    if len(data) > MAX_CIF_BYTES:
        return _too_large(material_id, source, len(data))
    try:
        # utf-8-sig: a byte-order mark (allowed by CIF 2.0) is not part of the first token
        return RawStructure(material_id, data.decode("utf-8-sig"), source)
    except UnicodeDecodeError as error:
        return RawStructure(
            material_id, None, source, Reason.UNREADABLE_FILE, f"not UTF-8 text: {error}"
        )


def _too_large(material_id: str, source: str, size: int) -> RawStructure:
    detail = f"{size} bytes or more; the limit for one CIF is {MAX_CIF_BYTES} bytes"
    return RawStructure(material_id, None, source, Reason.FILE_TOO_LARGE, detail)


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """An entry's bytes, at most MAX_CIF_BYTES + 1 of them (the declared size may lie).

    A damaged entry (bad CRC, unsupported compression, encryption) makes the whole source
    unreadable: the build must not publish a table with holes in it.
    """
    if info.flag_bits & 0x1:
        raise SourceError(f"{path}: entry {info.filename} is encrypted; give an unencrypted zip")
    try:
        with archive.open(info) as handle:
            return handle.read(MAX_CIF_BYTES + 1)
    except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as error:
        raise SourceError(
            f"{path}: entry {info.filename} cannot be read ({error}); the archive is damaged "
            "or uses an unsupported compression: download it again"
        ) from error


def iter_zip(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    """CIFs of a zip (`<material_id>.cif` or GNoME's `<MaterialId>.CIF`), in name order."""
    source = source or path.name
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise SourceError(f"{path}: not a readable zip archive ({error})") from error
    with archive:
        entries = sorted(
            (i for i in archive.infolist() if not i.is_dir()), key=lambda i: i.filename
        )
        if not any(is_cif_name(i.filename) for i in entries):
            raise SourceError(f"{path}: the zip holds no .cif files")
        for info in entries:  # every member is an input: read, or counted with its reason
            yield member_structure(
                info.filename, info.file_size, partial(_read_entry, archive, info, path), source
            )


def member_id(name: str) -> str:
    """The material id an archive member or file stands for (the base name of one skipped)."""
    return Path(name).name if _kind(name) == "skip" else _material_id(name)


def member_structure(name: str, size: int, read: Callable[[], bytes], source: str) -> RawStructure:
    """One member of an archive as an input: skipped, too large (by its stated size, before
    any byte is read), or its text (`read` gives at most MAX_CIF_BYTES + 1 bytes of it)."""
    kind, material_id = _kind(name), _material_id(name)
    if kind == "skip":
        return _skipped(name, source)
    if size > MAX_CIF_BYTES:
        return _too_large(material_id, source, size)
    if kind == "gzip":
        return _gunzip(material_id, read(), source)
    return _decode(material_id, read(), source)


def iter_folder(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    source = source or path.name
    files = sorted(p for p in path.iterdir() if p.is_file())
    if not any(is_cif_name(p.name) for p in files):
        raise SourceError(f"{path}: the folder holds no .cif files")
    for file in files:  # every file is an input: read, or counted with its reason
        yield folder_file(file, source)


def folder_file(path: Path, source: str) -> RawStructure:
    """One file of a folder source as an input: skipped by its name, or read."""
    if _kind(path.name) == "skip":
        return _skipped(path.name, source)
    return next(iter_file(path, source))


def iter_file(path: Path, source: str | None = None) -> Iterator[RawStructure]:
    source = source or path.name
    try:
        size = path.stat().st_size
        if size > MAX_CIF_BYTES:
            yield _too_large(path.stem, source, size)
            return
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"{path}: cannot be read ({error.strerror or error})") from error
    if _kind(path.name) == "gzip":
        yield _gunzip(_material_id(path.name), data, source)
    else:
        yield _decode(path.stem, data, source)


def count_cif_inputs(path: Path) -> int | None:
    """How many inputs a CIF source will yield (for a progress bar's total), cheaply; None
    when it cannot tell (the read itself reports the problem)."""
    path = Path(path)
    try:
        if path.is_dir():
            return sum(1 for p in path.iterdir() if p.is_file())
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return sum(1 for i in archive.infolist() if not i.is_dir())
        return 1 if path.is_file() else None
    except (OSError, zipfile.BadZipFile):
        return None


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
    raise SourceError(f"{path}: no such file or folder; check the path in the recipe or option")


# ------------------------------------------------------------------ summary tables
# Column names of the supported summary layouts -> the project's names.
SUMMARY_LAYOUTS: dict[str, dict[str, str]] = {
    "mp": {
        "material_id": "material_id",
        "band_gap": "band_gap",
        "formula_pretty": "formula",
        "crystal_system": "crystal_system",
        "space_group_number": "space_group_number",
        "spacegroup_number": "space_group_number",
    },
    # GNoME's stable_materials_summary.csv
    "gnome": {
        "MaterialId": "material_id",
        "Reduced Formula": "formula",
        "Bandgap": "band_gap",
        "Crystal System": "crystal_system",
        "Space Group Number": "space_group_number",
    },
}


class SummaryError(SourceError):
    """A summary table that cannot be used (unreadable, no id column, duplicate ids)."""


def detect_layout(columns: list[str]) -> str:
    if "MaterialId" in columns:
        return "gnome"
    if "material_id" in columns:
        return "mp"
    raise SummaryError(f"summary has neither 'material_id' nor 'MaterialId' column: {columns}")


CRYSTAL_SYSTEMS = (
    "triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic",
)  # fmt: skip
_MISSING = {"", "nan", "na", "n/a", "null", "none"}


def _bad_cell(path: Path, line: int, column: str, value: str, expected: str) -> SummaryError:
    return SummaryError(
        f"{path}: line {line}, column {column!r}: {value!r} is not {expected}; fix the summary "
        "(nothing was predicted)"
    )


def _band_gap(text: str) -> float | None:
    """A band gap in eV written as a plain number (a comma decimal is an error, not a gap)."""
    if text.strip().lower() in _MISSING:
        return None
    value = float(text)  # ValueError for '1,5', text, ...
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _space_group(text: str) -> int | None:
    if text.strip().lower() in _MISSING:
        return None
    value = float(text)  # '225' or '225.0' (a float column written by pandas)
    if not value.is_integer() or not 1 <= value <= 230:
        raise ValueError(text)
    return int(value)


def _crystal_system(text: str) -> str | None:
    value = text.strip().lower()
    if value in _MISSING:
        return None
    if value not in CRYSTAL_SYSTEMS:
        raise ValueError(text)
    return value


_PARSERS = {
    "band_gap": (_band_gap, "a band gap in eV (a number >= 0 with a decimal point)"),
    "space_group_number": (_space_group, "a space-group number 1-230"),
    "crystal_system": (_crystal_system, f"a crystal system ({', '.join(CRYSTAL_SYSTEMS)})"),
}


SUMMARY_TYPES = {
    "material_id": pa.string(),
    "band_gap": pa.float64(),
    "formula": pa.string(),
    "crystal_system": pa.string(),
    "space_group_number": pa.int64(),
}
_BLOCK = 1 << 20  # bytes of CSV parsed at a time (the parser holds ~10 times that)


def summary_table(
    path: Path, layout: str | None = None, *, require_band_gap: bool = False
) -> pa.Table:
    """The summary CSV as an Arrow table sorted by id: `material_id` and the cells the tables
    use (band_gap, formula, crystal_system, space_group_number where the file has them).

    Read in blocks, so a summary of millions of rows costs about its Arrow size, not a frame of
    Python strings. Every cell the tables use is checked here, before any structure is predicted,
    so a bad summary costs seconds, not a whole run: a band gap or space group that is not a
    number (comma decimals, 'Fm-3m', 225.5), an unknown crystal system or an empty symmetry
    column raise SummaryError with the line and column. Missing cells become null.
    """
    names = _summary_header(path)
    layout = layout or detect_layout(names)
    mapping = {k: v for k, v in SUMMARY_LAYOUTS[layout].items() if k in names}
    if "material_id" not in mapping.values():
        raise SummaryError(f"{path}: no id column for layout {layout!r}")
    if require_band_gap and "band_gap" not in mapping.values():
        raise SummaryError(
            f"{path}: no band gap column, but the screen needs band gaps; add the column or "
            'set gap_policy = "include"'
        )
    reader = _summary_reader(path, list(mapping))
    blocks, line = [], 2  # line 1 is the header
    try:
        for batch in reader:
            blocks.append(_summary_block(path, batch, mapping, line))
            line += batch.num_rows
    except pa.ArrowInvalid as error:
        raise SummaryError(f"{path}: cannot read summary CSV ({error})") from None
    schema = pa.schema([(n, SUMMARY_TYPES[n]) for n in SUMMARY_TYPES if n in mapping.values()])
    table = pa.Table.from_batches(blocks, schema=schema) if blocks else schema.empty_table()
    for name in ("crystal_system", "space_group_number"):
        if name in table.column_names and len(table) and table[name].null_count == len(table):
            raise SummaryError(f"{path}: column {name!r} is empty; fill it or remove the column")
    table = table.sort_by("material_id")
    ids = table["material_id"]
    if len(ids) > 1:
        repeated = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
        if pc.any(repeated).as_py():
            first = pc.index(repeated, True).as_py()
            raise SummaryError(f"{path}: duplicate ids, e.g. {ids[first].as_py()!r}")
    return table


def _summary_header(path: Path) -> list[str]:
    """The summary's column names (its first line)."""
    import csv as text_csv

    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            names = next(text_csv.reader(handle), [])
    except (OSError, UnicodeDecodeError) as error:
        raise SummaryError(f"{path}: cannot read summary CSV ({error})") from None
    if not names:
        raise SummaryError(f"{path}: cannot read summary CSV (no header line)")
    return names


def _summary_reader(path: Path, columns: list[str]) -> Any:
    """A reader of the summary's record batches: only `columns`, as text, one block at a time
    in this thread (every column of a million-row summary, parsed ahead by reader threads,
    held about 100 MiB more than the table it makes)."""
    from pyarrow import csv

    try:
        return csv.open_csv(
            path,
            read_options=csv.ReadOptions(block_size=_BLOCK, use_threads=False),
            convert_options=csv.ConvertOptions(
                column_types={name: pa.string() for name in columns}, include_columns=columns,
                null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )  # fmt: skip
    except (OSError, UnicodeDecodeError, pa.ArrowInvalid) as error:
        raise SummaryError(f"{path}: cannot read summary CSV ({error})") from None


def _summary_block(
    path: Path, batch: pa.RecordBatch, mapping: dict[str, str], line: int
) -> pa.RecordBatch:
    """One block of the summary: mapped columns, every cell checked and typed."""
    columns: dict[str, list] = {}
    for source, name in mapping.items():
        texts = batch.column(source).to_pylist()
        if name == "material_id":
            values = [t.strip() for t in texts]
            if "" in values:
                raise SummaryError(f"{path}: line {line + values.index('')} has no material id")
        elif name == "formula":
            values = [t.strip() or None for t in texts]
        else:
            values = _parse_column(path, texts, name, line)
        columns[name] = values
    names = [n for n in SUMMARY_TYPES if n in columns]
    return pa.record_batch([pa.array(columns[n], SUMMARY_TYPES[n]) for n in names], names=names)


def _parse_column(path: Path, texts: list[str], column: str, first_line: int) -> list[Any]:
    parse, expected = _PARSERS[column]
    values = []
    for line, text in enumerate(texts, start=first_line):
        try:
            values.append(parse(text))
        except ValueError:
            raise _bad_cell(path, line, column, text, expected) from None
    return values


def load_summary(
    path: Path, layout: str | None = None, *, require_band_gap: bool = False
) -> dict[str, dict[str, Any]]:
    """{material_id: {band_gap, formula, crystal_system, space_group_number}} of a summary CSV,
    checked as `summary_table` checks it (a streamed build joins on it in memory)."""
    return summary_by_id(summary_table(path, layout, require_band_gap=require_band_gap))


def summary_by_id(table: pa.Table) -> dict[str, dict[str, Any]]:
    """A summary table (`summary_table`) as {material_id: {its other cells}}."""
    names = [n for n in table.column_names if n != "material_id"]
    return {
        row.pop("material_id"): row for row in table.select(["material_id", *names]).to_pylist()
    }
