"""The plan of a structure source, made without reading a structure: one row per member.

A build that scales out (issue 23) cuts its work into ranges of this plan, so the plan must cost
little whatever the size of the source. For a zip archive the central directory is read
straight from the file in blocks and turned into Arrow record batches: `zipfile.infolist()`
would hold a `ZipInfo` object per member (about 640 bytes each: 2.9 GB for Alexandria's 4.5
million). For a folder, a sorted walk of its files. The rows say where each member is and what
it should be (offset, sizes, CRC-32; size and modification time for a file), so a worker reads
its own members and a changed source can be told from the plan.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from elastic_atlas.errors import SourceError
from elastic_atlas.inputs.sources import is_cif_name

PLAN_SCHEMA = pa.schema(
    [
        ("member", pa.string()),  # the path inside the archive or the folder
        ("offset", pa.int64()),  # zip: where the member's local header starts
        ("compressed_size", pa.int64()),  # zip
        ("size", pa.int64()),  # bytes of the member (uncompressed)
        ("crc32", pa.int64()),  # zip: the CRC-32 the archive states
        ("method", pa.int16()),  # zip: 0 stored, 8 deflated, ...
        ("mtime_ns", pa.int64()),  # folder: the file's modification time
    ]
)
BATCH = 65_536  # members per record batch: a few MB of Arrow memory at most

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes, right before the EOCD record
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # 56 bytes
_ENTRY = struct.Struct("<4s6H3L5H2L")  # central directory file header, 46 bytes
_MAX_COMMENT = 0xFFFF
_FULL32, _FULL16 = 0xFFFFFFFF, 0xFFFF


def plan_batches(source: Path, batch: int = BATCH) -> Iterator[pa.RecordBatch]:
    """The plan of a zip archive or a folder of files, in record batches of `batch` rows."""
    if source.is_dir():
        yield from _folder_batches(source, batch)
    else:
        yield from _zip_batches(source, batch)


def write_plan(source: Path, path: Path) -> int:
    """The plan of `source` as a Parquet file at `path`, written batch by batch; its rows."""
    rows = 0
    with pq.ParquetWriter(path, PLAN_SCHEMA) as writer:
        for records in plan_batches(source):
            writer.write_batch(records)
            rows += records.num_rows
    return rows


def _zip_batches(path: Path, batch: int) -> Iterator[pa.RecordBatch]:
    try:
        handle = path.open("rb")
    except OSError as error:
        raise SourceError(f"{path}: cannot read the archive ({error.strerror})") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        start, length, entries, shift = _central_directory(handle, size, path)
        handle.seek(start)
        columns: dict[str, list] = {name: [] for name in PLAN_SCHEMA.names}
        for index in range(entries):
            _read_entry(handle, columns, shift, path, index)
            if len(columns["member"]) == batch:
                yield _batch(columns)
        if handle.tell() != start + length:
            raise SourceError(f"{path}: the central directory does not end where it says")
        if columns["member"]:
            yield _batch(columns)


def _central_directory(handle, size: int, path: Path) -> tuple[int, int, int, int]:
    """(start, length, entries, shift) of the central directory; shift is the length of data
    prepended to the archive (a self-extracting stub), which offsets must be moved by."""
    tail_length = min(size, _EOCD.size + _MAX_COMMENT)
    handle.seek(size - tail_length)
    tail = handle.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    # the record's comment runs exactly to the end of the file; a signature that is part of
    # the comment does not satisfy that, so look further back
    while at >= 0 and not (
        at + _EOCD.size <= len(tail)
        and at + _EOCD.size + _EOCD.unpack_from(tail, at)[-1] == len(tail)
    ):
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0:
        raise SourceError(f"{path}: not a zip archive (no end of central directory record)")
    _, _, _, _, entries, length, start, _ = _EOCD.unpack_from(tail, at)
    record = size - tail_length + at
    if entries == _FULL16 or _FULL32 in (length, start):
        record, entries, length, start = _zip64_directory(handle, record, path)
    shift = record - length - start
    if shift < 0 or start + shift < 0 or start + shift + length > size:
        raise SourceError(f"{path}: the central directory lies outside the file (damaged)")
    return start + shift, length, entries, shift


def _zip64_directory(handle, record: int, path: Path) -> tuple[int, int, int, int]:
    """(record, entries, length, start) from the ZIP64 end records before `record`."""
    if record < _ZIP64_LOCATOR.size:
        raise SourceError(f"{path}: ZIP64 archive without its locator (damaged)")
    handle.seek(record - _ZIP64_LOCATOR.size)
    # the locator states where the record is; it is read right before the locator instead, as
    # zipfile does, so an archive with data prepended still opens
    signature = _ZIP64_LOCATOR.unpack(handle.read(_ZIP64_LOCATOR.size))[0]
    if signature != b"PK\x06\x07":
        raise SourceError(f"{path}: ZIP64 archive without its locator (damaged)")
    zip64_record = record - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
    handle.seek(zip64_record)
    data = handle.read(_ZIP64_EOCD.size)
    if len(data) < _ZIP64_EOCD.size or data[:4] != b"PK\x06\x06":
        raise SourceError(f"{path}: ZIP64 end of central directory record missing (damaged)")
    fields = _ZIP64_EOCD.unpack(data)
    entries, length, start = fields[7], fields[8], fields[9]
    return zip64_record, entries, length, start


def _read_entry(handle, columns: dict[str, list], shift: int, path: Path, index: int) -> None:
    """One central directory entry into the columns."""
    fixed = handle.read(_ENTRY.size)
    if len(fixed) < _ENTRY.size or fixed[:4] != b"PK\x01\x02":
        raise SourceError(f"{path}: central directory entry {index} is damaged or missing")
    (_, _, _, flags, method, _, _, crc, compressed, size, name_length, extra_length,
     comment_length, _, _, _, offset) = _ENTRY.unpack(fixed)  # fmt: skip
    variable = handle.read(name_length + extra_length + comment_length)
    if len(variable) < name_length + extra_length + comment_length:
        raise SourceError(f"{path}: central directory entry {index} is cut short")
    name = variable[:name_length].decode("utf-8" if flags & 0x800 else "cp437", "replace")
    size, compressed, offset = _zip64_extra(
        variable[name_length : name_length + extra_length], size, compressed, offset
    )
    columns["member"].append(name)
    columns["offset"].append(offset + shift)
    columns["compressed_size"].append(compressed)
    columns["size"].append(size)
    columns["crc32"].append(crc)
    columns["method"].append(method)
    columns["mtime_ns"].append(None)


def _zip64_extra(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """The 64-bit values of the ZIP64 extra field (id 1) for those stated as 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        if kind == 1:
            values = iter(struct.unpack_from(f"<{length // 8}Q", extra, at + 4))
            size = next(values, size) if size == _FULL32 else size
            compressed = next(values, compressed) if compressed == _FULL32 else compressed
            offset = next(values, offset) if offset == _FULL32 else offset
            break
        at += 4 + length
    return size, compressed, offset


def _folder_batches(folder: Path, batch: int) -> Iterator[pa.RecordBatch]:
    columns: dict[str, list] = {name: [] for name in PLAN_SCHEMA.names}
    for path in sorted(_files(folder), key=lambda p: p.relative_to(folder).as_posix()):
        try:
            stat = path.stat()
        except OSError as error:  # vanished between the walk and now
            raise SourceError(f"{path}: cannot read it ({error.strerror})") from None
        columns["member"].append(path.relative_to(folder).as_posix())
        columns["size"].append(stat.st_size)
        columns["mtime_ns"].append(stat.st_mtime_ns)
        for name in ("offset", "compressed_size", "crc32", "method"):
            columns[name].append(None)
        if len(columns["member"]) == batch:
            yield _batch(columns)
    if columns["member"]:
        yield _batch(columns)


def _files(folder: Path) -> Iterator[Path]:
    """Every regular file under `folder`, links not followed (as the folder source reads)."""
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _batch(columns: dict[str, list]) -> pa.RecordBatch:
    records = pa.record_batch([pa.array(columns[n], PLAN_SCHEMA.field(n).type)
                               for n in PLAN_SCHEMA.names], schema=PLAN_SCHEMA)  # fmt: skip
    for values in columns.values():
        values.clear()
    return records


# ------------------------------------------------------------------ reading by the plan
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header, 30 bytes
_BLOCK = 1 << 20


def source_members(path: Path) -> tuple[str, Iterator[pa.RecordBatch]]:
    """(kind, members) of a CIF source, in the order the build reads it: a zip's members by
    name (directories left out), a folder's files by name, or the one file; the same errors as
    `sources.iter_cif_source` for a source that is not one. `kind`: zip, folder or file.

    A zip whose central directory is already in name order (the usual case) is streamed in
    batches, twice (a check, then the rows), so its plan costs no memory per member; another
    is read whole and sorted."""
    path = Path(path)
    if path.is_dir():
        kind, members = "folder", _folder_members(path)
    elif path.is_file() and zipfile.is_zipfile(path):
        return "zip", _zip_members(path)
    elif path.is_file() and path.suffix.lower() == ".zip":
        raise SourceError(f"{path}: not a readable zip archive (truncated or corrupt)")
    elif path.is_file():
        return "file", iter(_file_members([path]).to_batches())
    else:
        raise SourceError(f"{path}: no such file or folder; check the path in the recipe or option")
    if not any(is_cif_name(name) for name in members["member"].to_pylist()):
        raise SourceError(f"{path}: the {kind} holds no .cif files")
    return kind, iter(members.to_batches(BATCH))


def _zip_members(path: Path) -> Iterator[pa.RecordBatch]:
    in_order, any_cif, last = True, False, None
    for batch in _zip_batches(path, BATCH):
        names = [n for n in batch.column("member").to_pylist() if not n.endswith("/")]
        any_cif = any_cif or any(is_cif_name(n) for n in names)
        if names and (names != sorted(names) or (last is not None and names[0] < last)):
            in_order = False
        last = names[-1] if names else last
    if not any_cif:
        raise SourceError(f"{path}: the zip holds no .cif files")
    files = (_without_folders(b) for b in _zip_batches(path, BATCH))
    if in_order:
        return files
    members = pa.Table.from_batches(list(files), schema=PLAN_SCHEMA)
    return iter(members.take(pc.sort_indices(members, [("member", "ascending")])).to_batches())


def _without_folders(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch.filter(pc.invert(pc.ends_with(batch.column("member"), "/")))


def _folder_members(folder: Path) -> pa.Table:
    """The files directly in `folder` (links followed, as the folder source reads them)."""
    return _file_members(sorted(p for p in folder.iterdir() if p.is_file()))


def _file_members(files: list[Path]) -> pa.Table:
    columns: dict[str, list] = {name: [] for name in PLAN_SCHEMA.names}
    for path in files:
        try:
            stat = path.stat()
        except OSError as error:
            raise SourceError(f"{path}: cannot be read ({error.strerror})") from None
        columns["member"].append(path.name)
        columns["size"].append(stat.st_size)
        columns["mtime_ns"].append(stat.st_mtime_ns)
        for name in ("offset", "compressed_size", "crc32", "method"):
            columns[name].append(None)
    return pa.Table.from_batches([_batch(columns)], schema=PLAN_SCHEMA)


def read_member(handle: BinaryIO, path: Path, member: str, plan: dict, limit: int) -> bytes:
    """At most `limit` bytes of the zip member a plan row locates (offset, compressed size,
    method, CRC-32), read straight from the archive: no central directory is parsed again.
    The CRC is checked when the member was read whole. A damaged or encrypted member, or a
    compression other than stored and deflate, is a SourceError: the build stops rather than
    publish a table with holes in it."""

    def damaged(why: str) -> SourceError:
        return SourceError(
            f"{path}: entry {member} cannot be read ({why}); the archive is damaged or uses an "
            "unsupported compression: download it again"
        )

    handle.seek(plan["offset"])
    header = handle.read(_LOCAL.size)
    if len(header) < _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise damaged("no local header where the central directory says")
    flags, method, name_length, extra_length = (
        *_LOCAL.unpack(header)[2:4],
        *_LOCAL.unpack(header)[9:],
    )
    if flags & 0x1:
        raise SourceError(f"{path}: entry {member} is encrypted; give an unencrypted zip")
    if method != plan["method"]:
        raise damaged("local header and central directory disagree")
    handle.seek(plan["offset"] + _LOCAL.size + name_length + extra_length)
    size = plan["compressed_size"]
    if method == 0:
        data = handle.read(min(size, limit))
        whole = len(data) == size
        if not whole and len(data) < min(size, limit):
            raise damaged("cut short")
    elif method == 8:
        data, whole = _inflate(handle, size, limit, damaged)
    else:
        raise damaged(f"compression method {method}; use stored or deflate")
    if whole and zlib.crc32(data) != plan["crc32"]:
        raise damaged("bad CRC-32")
    return bytes(data)


def _inflate(handle: BinaryIO, size: int, limit: int, damaged) -> tuple[bytearray, bool]:
    """(at most `limit` inflated bytes, whether the member's stream ended)."""
    inflater = zlib.decompressobj(-15)
    data, left = bytearray(), size
    try:
        while len(data) < limit and not inflater.eof:
            chunk = inflater.unconsumed_tail
            if not chunk:
                if left == 0:
                    raise damaged("cut short")
                chunk = handle.read(min(left, _BLOCK))
                if not chunk:
                    raise damaged("cut short")
                left -= len(chunk)
            data += inflater.decompress(chunk, limit - len(data))
    except zlib.error as error:
        raise damaged(str(error)) from None
    return data, inflater.eof
