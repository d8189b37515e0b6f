"""Every member of a zip (and every file of a folder) is an input: read as a CIF, read as a
gzipped CIF, or counted with the reason it was skipped — never silently left out."""

from __future__ import annotations

import gzip
import zipfile

import pytest
from structures import cif_text, rock_salt

from elastic_atlas.inputs.sources import count_cif_inputs, iter_cif_source

MEMBERS = {
    "mp-1.cif": "cif",
    ".mp-107.cif": "hidden",
    "mp-108.cif.gz": "gzip",
    "mp-109.cif ": "spaces",
    "README.txt": "other",
    "__MACOSX/._mp-1.cif": "hidden",
}


def write(kind: str, cif: str) -> bytes:
    data = cif.encode()
    return gzip.compress(data, mtime=0) if kind == "gzip" else data


@pytest.mark.parametrize("layout", ["zip", "folder"])
def test_every_member_is_read_or_counted_with_a_reason(tmp_path, layout):
    cif = cif_text(rock_salt())
    if layout == "zip":
        source = tmp_path / "s.zip"
        with zipfile.ZipFile(source, "w") as archive:
            for name, kind in MEMBERS.items():
                archive.writestr(name, write(kind, cif))
        members = MEMBERS
    else:
        source = tmp_path / "s"
        source.mkdir()
        members = {n: k for n, k in MEMBERS.items() if "/" not in n}
        for name, kind in members.items():
            (source / name).write_bytes(write(kind, cif))
    records = list(iter_cif_source(source))
    assert len(records) == len(members) == count_cif_inputs(source)
    read = {r.material_id for r in records if r.text is not None}
    assert read == {"mp-1", "mp-108"}  # the gzipped CIF is read as one
    skipped = {r.material_id: r.detail for r in records if r.text is None}
    assert all(r.reason == "skipped_file" for r in records if r.text is None)
    assert "hidden" in skipped[".mp-107.cif"] and "spaces" in skipped["mp-109.cif "]
    assert "not a .cif" in skipped["README.txt"]


def test_a_gzip_bomb_member_stops_at_the_size_limit(tmp_path):
    from elastic_atlas.inputs.sources import MAX_CIF_BYTES

    bomb = gzip.compress(b" " * (MAX_CIF_BYTES + 10), mtime=0)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mp-1.cif.gz").write_bytes(bomb)
    (record,) = list(iter_cif_source(tmp_path / "s"))
    assert record.text is None and record.reason == "file_too_large"


@pytest.mark.parametrize("token", ["Cax", "Sx", "Wat", "Uue", "Hw"])
def test_an_element_like_token_is_refused_not_guessed(token):
    from elastic_atlas.contract.reasons import StructureRejected
    from elastic_atlas.inputs.cif import parse_cif

    text = cif_text(rock_salt()).replace(" Na ", f" {token} ").replace("Na1", f"{token}1")
    assert token in text
    with pytest.raises(StructureRejected) as caught:
        parse_cif(text)
    assert caught.value.reason == "unknown_element" and token in caught.value.detail


@pytest.mark.parametrize("token", ["Na", "NA", "na", "Na1+", "Na2"])
def test_an_element_in_any_letter_case_is_read(token):
    from elastic_atlas.inputs.cif import parse_cif

    text = cif_text(rock_salt()).replace(" Na ", f" {token} ")
    assert parse_cif(text).composition.reduced_formula == "NaCl"
