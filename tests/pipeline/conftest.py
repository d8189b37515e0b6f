"""Inputs shared by the build and engine tests: two sources and a summary exercising every
reason an input can end with."""

from __future__ import annotations

import zipfile

import pytest
from checkpoint_factory import make_own
from pymatgen.core import Structure
from structures import BAD_CIFS, cif_text, cubic_crystal, diamond, rock_salt


def uranium_dioxide() -> Structure:
    return cubic_crystal("Fm-3m", 5.47, ("U", "O"), ((0, 0, 0), (0.25, 0.25, 0.25))).copy()


@pytest.fixture
def inputs(tmp_path):
    """Two structure sources and a summary exercising every reason (a truncated zip lies beside
    them for the tests that expect a build to stop on it)."""
    make_own(tmp_path / "model")
    folder = tmp_path / "cifs"
    folder.mkdir()
    good = {
        "mp-1": rock_salt(),
        "mp-2": diamond(),
        "mp-20": uranium_dioxide(),
        "mp-31": rock_salt(6.0),
        "mp-40": rock_salt(5.5),
        "mp-41": rock_salt(5.6),
        "mp-50": diamond(),
    }
    for name, structure in good.items():
        (folder / f"{name}.cif").write_text(cif_text(structure))
    bad_ids = {}
    for i, (_, (text, reason)) in enumerate(sorted(BAD_CIFS.items())):
        bad_ids[f"mp-{100 + i}"] = reason
        (folder / f"mp-{100 + i}.cif").write_text(text)
    second = tmp_path / "second.zip"
    with zipfile.ZipFile(second, "w") as archive:
        archive.writestr("mp-1.cif", cif_text(rock_salt()))  # duplicate of the first source
        archive.writestr("mp-60.cif", cif_text(diamond()))
        archive.writestr("mp-31.cif", cif_text(diamond()))  # again, and still no summary row
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        archive.writestr("mp-70.cif", cif_text(diamond()))
    (tmp_path / "cut.zip").write_bytes(whole.read_bytes()[:50])
    rows = [
        ("mp-1", 2.0),
        ("mp-2", 1.1),
        ("mp-20", 2.1),
        ("mp-40", "nan"),
        ("mp-41", ""),
        ("mp-50", 5.5),
        ("mp-60", 1.5),
        ("mp-99", 1.0),
    ]
    rows += [(mid, 1.0) for mid in bad_ids]
    summary = tmp_path / "summary.csv"
    summary.write_text("material_id,band_gap\n" + "".join(f"{m},{g}\n" for m, g in rows))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("""
table = "mped"
[[structures]]
path = "cifs"
source = "folder"
licence = "CC-BY-4.0"
[[structures]]
path = "second.zip"
source = "second"
licence = "CC-BY-4.0"
[summary]
path = "summary.csv"
[models]
bulk = "model"
shear = "model"
""")
    expected = {
        "mp-1": "duplicate_id",
        "mp-20": "radioactive_element",
        "mp-31": "no_summary_row",
        "mp-40": "band_gap_unknown",
        "mp-41": "band_gap_unknown",
        "mp-50": "band_gap_outside_window",
        "mp-99": "no_structure",
        **bad_ids,
    }
    return recipe, expected
