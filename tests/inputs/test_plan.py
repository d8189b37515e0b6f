"""The plan of a source without reading its structures: every member of a zip from its central
directory, as zipfile itself reads it, in bounded batches; damaged archives refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from elastic_atlas.errors import SourceError
from elastic_atlas.inputs.plan import plan_batches, read_member, source_members, write_plan


def as_zipfile_sees_it(path: Path) -> list[tuple]:
    with zipfile.ZipFile(path) as archive:
        return [(i.filename, i.header_offset, i.compress_size, i.file_size, i.CRC,
                 i.compress_type) for i in archive.infolist()]  # fmt: skip


def planned(path: Path, batch: int = 65_536) -> list[tuple]:
    rows = []
    for records in plan_batches(path, batch):
        d = records.to_pydict()
        rows += list(zip(d["member"], d["offset"], d["compressed_size"], d["size"], d["crc32"],
                         d["method"], strict=True))  # fmt: skip
    return rows


def archive(path: Path, comment: bytes = b"an archive comment") -> Path:
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("mp-1.cif", "data_mp-1\n" * 40, compress_type=zipfile.ZIP_DEFLATED)
        out.writestr("stored/mp-2.cif", "data_mp-2\n", compress_type=zipfile.ZIP_STORED)
        out.writestr("Fe₂O₃ ünïcode.cif", "x")  # flag bit 11: UTF-8 name
        out.writestr("folder/", "")
        with out.open("big.cif", "w", force_zip64=True) as member:  # ZIP64 extra field
            member.write(b"data_big\n" * 1000)
        out.comment = comment
    return path


def test_every_member_as_zipfile_reads_it(tmp_path):
    path = archive(tmp_path / "a.zip")
    assert planned(path) == as_zipfile_sees_it(path)
    assert planned(path, batch=2) == planned(path)  # batches are cut, rows the same


def test_an_end_signature_inside_the_comment_is_not_taken_for_the_end(tmp_path):
    # zipfile itself gives up on such an archive; the plan finds the real record
    plain = planned(archive(tmp_path / "a.zip"))
    tricky = archive(tmp_path / "b.zip", comment=b"PK\x05\x06" + b"x" * 30 + b"PK\x05\x06 end")
    assert planned(tricky) == plain


def test_data_before_the_archive_moves_every_offset(tmp_path):
    plain = archive(tmp_path / "a.zip")
    stub = tmp_path / "stub.zip"
    prefix = b"#!/bin/sh\necho self-extracting\n" * 10
    stub.write_bytes(prefix + plain.read_bytes())
    assert planned(stub) == as_zipfile_sees_it(stub)
    assert planned(stub)[0][1] == planned(plain)[0][1] + len(prefix)


@pytest.mark.slow
def test_a_zip64_archive_with_more_than_65535_members(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as out:
        for i in range(70_000):
            out.writestr(f"mp-{i}.cif", "")
    rows = planned(path)
    assert len(rows) == 70_000 and rows == as_zipfile_sees_it(path)


def test_the_plan_is_written_as_parquet(tmp_path):
    path = archive(tmp_path / "a.zip")
    assert write_plan(path, tmp_path / "plan.parquet") == 5
    table = pq.read_table(tmp_path / "plan.parquet")
    assert table.column("member").to_pylist()[0] == "mp-1.cif"
    assert table.column("mtime_ns").null_count == 5


def test_a_folder_is_planned_by_its_files(tmp_path):
    (tmp_path / "cifs" / "sub").mkdir(parents=True)
    (tmp_path / "cifs" / "b.cif").write_text("bb")
    (tmp_path / "cifs" / "sub" / "a.cif").write_text("a")
    (tmp_path / "cifs" / "link.cif").symlink_to(tmp_path / "cifs" / "b.cif")  # not followed
    rows = next(plan_batches(tmp_path / "cifs")).to_pydict()
    assert rows["member"] == ["b.cif", "sub/a.cif"] and rows["size"] == [2, 1]
    assert all(t > 0 for t in rows["mtime_ns"]) and rows["offset"] == [None, None]


def damaged(tmp_path: Path, how: str) -> Path:
    data = archive(tmp_path / "a.zip").read_bytes()
    directory = data.rfind(b"PK\x01\x02")
    if how == "not a zip":
        data = b"just some text, no archive\n" * 100
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "entry overwritten":
        data = data[:directory] + b"XXXX" + data[directory + 4 :]
    elif how == "directory beyond the end":
        end = data.rfind(b"PK\x05\x06")
        data = data[: end + 16] + (2**31).to_bytes(4, "little") + data[end + 20 :]
    elif how == "empty":
        data = b""
    path = tmp_path / "damaged.zip"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "how", ["not a zip", "truncated", "entry overwritten", "directory beyond the end", "empty"]
)
def test_a_damaged_archive_is_a_source_error(tmp_path, how):
    with pytest.raises(SourceError, match=r"damaged\.zip"):
        list(plan_batches(damaged(tmp_path, how)))


def test_an_unreadable_source_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot read"):
        list(plan_batches(tmp_path / "absent.zip"))


@pytest.mark.parametrize("archive_path", ["mp2018/structures.zip", "gnome/by_id.zip"])
def test_the_shared_archives_are_planned_as_zipfile_reads_them(shared, archive_path):
    path = shared / archive_path
    assert planned(path) == as_zipfile_sees_it(path)


# ------------------------------------------------------------------ reading members by the plan
def members_of(path: Path) -> dict[str, dict]:
    kind, members = source_members(path)
    assert kind == "zip"
    return {row["member"]: row for batch in members for row in batch.to_pylist()}


def test_a_member_read_by_its_plan_row_is_what_zipfile_reads(tmp_path):
    path = archive(tmp_path / "a.zip")
    rows = members_of(path)
    assert "folder/" not in rows and list(rows) == sorted(rows)  # read order: by name
    with zipfile.ZipFile(path) as expected, path.open("rb") as handle:
        for name, row in rows.items():
            assert read_member(handle, path, name, row, 1 << 20) == expected.read(name)
        assert (
            read_member(handle, path, "big.cif", rows["big.cif"], 100) == b"data_big\n" * 11 + b"d"
        )


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("data", "cannot be read"),  # deflate stream or CRC-32 broken
        ("header", "no local header"),  # the central directory points at the wrong place
        ("encrypted", "encrypted"),
        ("method", "disagree"),
    ],
)
def test_a_damaged_member_is_a_source_error_naming_it(tmp_path, damage, message):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("mp-1.cif", "data_mp-1\n_cell_length_a 5\n" * 50, zipfile.ZIP_DEFLATED)
    row = members_of(path)["mp-1.cif"]
    start = row["offset"]
    if damage == "data":
        flip(path, start + 30 + len("mp-1.cif") + 20)
    elif damage == "header":
        flip(path, start)
    elif damage == "encrypted":
        flip(path, start + 6)  # general purpose flags: bit 0 set
    else:
        flip(path, start + 8)  # compression method of the local header
    with path.open("rb") as handle, pytest.raises(SourceError, match=message) as error:
        read_member(handle, path, "mp-1.cif", row, 1 << 20)
    assert "mp-1.cif" in str(error.value)


def test_an_unsupported_compression_is_a_source_error(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("mp-1.cif", "data_mp-1\n" * 50, zipfile.ZIP_BZIP2)
    with path.open("rb") as handle, pytest.raises(SourceError, match="method 12"):
        read_member(handle, path, "mp-1.cif", members_of(path)["mp-1.cif"], 1 << 20)


def test_a_member_larger_than_it_says_stops_at_the_limit(tmp_path):
    """A lying central directory (a zip bomb) costs at most `limit` bytes, never all of it."""
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("bomb.cif", b"\0" * 5_000_000, zipfile.ZIP_DEFLATED)
    row = members_of(path)["bomb.cif"]
    with path.open("rb") as handle:
        assert read_member(handle, path, "bomb.cif", row, 1001) == b"\0" * 1001


def test_a_source_of_no_cif_or_no_such_path_is_refused_as_the_build_refuses_it(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("notes.txt", "x")
    with pytest.raises(SourceError, match=r"holds no \.cif files"):
        source_members(path)
    with pytest.raises(SourceError, match="no such file or folder"):
        source_members(tmp_path / "missing")
    (tmp_path / "cut.zip").write_bytes(path.read_bytes()[:20])
    with pytest.raises(SourceError, match="not a readable zip"):
        source_members(tmp_path / "cut.zip")
