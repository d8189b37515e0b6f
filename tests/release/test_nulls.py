"""A release whose tables contain nulls passes the real `frictionless validate`, CSV and
Parquet, with and without the shipped checklist.

The NED-layout table has no band gaps (gap policy include), a checkpoint without calibration
or training ids and no DFT table, so band_gap, both uncertainty columns, the DFT columns,
in_training and the uncertainty flag are null in every row: frictionless reads Parquet nulls
through pandas as "nan", which the schemas' missingValues must cover.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from checkpoint_factory import make_own
from click.testing import CliRunner
from structures import cif_text, diamond, rock_salt
from test_release import frictionless_checklist_report

from elastic_atlas.cli import main

RECIPE = """table = "ned"
[[structures]]
path = "cifs"
source = "generated sample structures"
licence = "CC-BY-NC-4.0"
[screen]
gap_policy = "include"
[models]
checkpoint = "model"
"""


@pytest.fixture(scope="module")
def release_with_nulls(tmp_path_factory):
    root = tmp_path_factory.mktemp("nulls")
    make_own(root / "model", members=1, calibrated=False)
    (root / "cifs").mkdir()
    for i, structure in enumerate([rock_salt(), diamond(), rock_salt(6.1), rock_salt(5.2)]):
        (root / "cifs" / f"{i:010x}.CIF").write_text(cif_text(structure))  # GNoME-style ids
    (root / "ned.toml").write_text(RECIPE)
    (root / "release.toml").write_text(
        'name = "elastic-atlas-nulls"\ntitle = "Nulls"\ndescription = "d"\nkeywords = []\n'
        '[[creators]]\nname = "test"\n[tables]\nned = "ned.toml"\n'
    )
    result = CliRunner().invoke(
        main,
        ["release", "--config", str(root / "release.toml"), "--version", "0.0.1-rc1",
         "--releases", str(root / "releases"), "--quiet", "--workers", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root / "releases" / "0.0.1-rc1"


def test_the_tables_really_hold_nulls(release_with_nulls):
    table = pq.read_table(release_with_nulls / "ned.parquet")
    nullable = ("band_gap", "k_vrh_uncertainty", "g_vrh_uncertainty", "k_vrh_dft", "g_vrh_dft")
    nullable += ("dft_status",)  # no DFT table in the build
    for column in (*nullable, "in_training", "risk_high_uncertainty"):
        assert table.column(column).null_count == table.num_rows > 0


@pytest.mark.slow
def test_frictionless_finds_a_release_with_nulls_valid(release_with_nulls):
    import frictionless

    report = frictionless.Package(str(release_with_nulls / "datapackage.json")).validate()
    assert report.valid, report.flatten(["resourceName", "type", "fieldName", "cell"])[:5]
    for name in ("ned-csv", "ned-parquet"):
        checked = frictionless_checklist_report(release_with_nulls, name)
        assert checked["valid"], checked["tasks"][0]["errors"][:2]
