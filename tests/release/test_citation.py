from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def cffconvert() -> str:
    # `make` installs cffconvert in a venv of its own (.venv/cffconvert): it pins jsonschema<4.
    local = Path(sys.prefix) / "cffconvert" / "bin" / "cffconvert"
    found = str(local) if local.exists() else shutil.which("cffconvert")
    assert found, "cffconvert is not installed: run `make test`, which installs it"
    return found


def test_citation_cff_is_valid():
    result = subprocess.run(
        [cffconvert(), "--validate", "-i", str(ROOT / "CITATION.cff")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_citation_names_the_study_and_the_dataset():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    study = citation["preferred-citation"]
    assert study["doi"] == "10.7498/aps.74.20250127"
    assert [a["family-names"] for a in study["authors"]] == [
        "Liu",
        "Wang",
        "Lei",
        "Zhang",
        "Xian",
        "Gao",
        "Sun",
        "Song",
        "Ding",
    ]
    assert study["journal"] == "Acta Physica Sinica" and study["volume"] == 74
    assert citation["references"][0]["doi"] == "10.57760/sciencedb.j00213.00104"


def test_licences_are_stated():
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    data = (ROOT / "LICENSE-DATA.md").read_text(encoding="utf-8")
    assert "CC-BY-4.0" in data and "CC-BY-NC-4.0" in data


def test_citation_lists_every_work_a_release_may_cite():
    """CITATION.cff is the one place references are written; each key of contract.references
    finds its full reference there (the study is the preferred citation)."""
    from elastic_atlas.contract.references import Reference
    from elastic_atlas.release.citations import cff_reference

    for reference in Reference:
        entry = cff_reference(reference)
        assert entry["authors"] and entry["title"] and entry["year"], reference
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    listed = {str(r["doi"]) for r in citation["references"]}
    assert listed == {r.doi for r in Reference if r is not Reference.STUDY}


def test_bibtex_is_escaped_by_the_library():
    from pybtex.database import parse_string

    from elastic_atlas.contract.references import Reference
    from elastic_atlas.release.citations import bibtex

    text = bibtex(list(Reference))
    entries = parse_string(text, "bibtex").entries
    assert len(entries) == len(Reference)
    de_jong = next(e for e in entries.values() if e.fields["doi"] == Reference.MP_ELASTIC.doi)
    assert str(de_jong.persons["author"][0]) == "de Jong, Maarten"
