"""A release says exactly what it is: its own identity, each table's facts as its build applied
them, every source cited, sane DFT values, and the changes since the previous version.

One release of two tables that differ in everything a statement could get wrong: MPED from the
embedded sample (band-gap screen, a DFT table with broken entries) and NED from GNoME-style
files (no band gaps: gap policy include, no DFT table, another licence and source).
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from recipes import NED_FROM_CIFS
from structures import cif_text, diamond, rock_salt

from elastic_atlas.cli import main
from elastic_atlas.contract.references import Reference
from elastic_atlas.paths import repo_root

SAMPLE = repo_root() / "build" / "sample"
MPED = f"""table = "mped"
[[structures]]
path = "{SAMPLE / "structures"}"
source = "embedded sample structures"
licence = "CC-BY-4.0"
snapshot = "2026-11-01"
cite = ["materials-project"]
[summary]
path = "{SAMPLE / "summary.csv"}"
[screen]
gap_policy = "exclude"
[dft]
path = "elastic.csv"
source = "a DFT table with broken entries"
cite = ["mp-elastic"]
"""
# mp-149 (Si) sane; mp-2534 (GaAs) absurd G; mp-1156 (AlSb) Reuss above Voigt
DFT = """material_id,k_voigt,k_reuss,k_vrh,g_voigt,g_reuss,g_vrh
mp-149,98,97.6,97.8,67,66,66.5
mp-2534,76,74,75,5.6e13,40,2.8e13
mp-1156,50,56,53,30,28,29
"""
CONFIG = """name = "truth-check"
title = "Truth check"
description = "A release built by the tests."
keywords = ["test"]
doi = "10.5555/truth.check"
homepage = "https://example.org/truth"
record_dois = {{mped = "10.5555/truth.mped", ned = "10.5555/truth.ned"}}
[[creators]]
given_names = "Ada"
family_names = "Lovelace"
orcid = "0000-0002-1825-0097"
affiliation = "Analytical Engines"
affiliation_ror = "https://ror.org/05a28rw58"
[[creators]]
name = "elastic-atlas developers"
[[funding]]
funder = "A Funder"
funder_id = "10.13039/501100001809"
award = "42"
[tables]
{tables}
"""


def release_args(root: Path, version: str) -> list[str]:
    return ["release", "--config", str(root / "release.toml"), "--version", version,
            "--releases", str(root / "releases"), "--quiet", "--workers", "0"]  # fmt: skip


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("truth")
    (root / "cifs").mkdir()
    for i, structure in enumerate([rock_salt(), diamond(), rock_salt(6.1)]):
        (root / "cifs" / f"{i + 1:010x}.CIF").write_text(cif_text(structure))
    (root / "elastic.csv").write_text(DFT)
    (root / "mped.toml").write_text(MPED)
    (root / "ned.toml").write_text(NED_FROM_CIFS)
    (root / "release.toml").write_text(CONFIG.format(tables='mped = "mped.toml"\nned = "ned.toml"'))
    result = CliRunner().invoke(main, release_args(root, "1.0.0"))
    assert result.exit_code == 0, result.output
    return root / "releases" / "1.0.0"


def statements(folder: Path) -> dict[str, str]:
    """Every text of the release that speaks of its tables."""
    descriptor = json.loads((folder / "datapackage.json").read_text())
    croissant = json.loads((folder / "croissant.json").read_text())
    by_name = {r["name"]: r["description"] for r in descriptor["resources"] if "description" in r}
    records = {r["@id"]: r["description"] for r in croissant["recordSet"]}
    out = {
        "card": (folder / "README.md").read_text(),
        "notes": (folder / "RELEASE.md").read_text(),
    }
    for table in ("mped", "ned"):
        datacite = json.loads((folder / "sciencedb" / table / "datacite.json").read_text())
        out[f"{table}-resource"] = by_name[f"{table}-csv"]
        out[f"{table}-croissant"] = records[table]
        out[f"{table}-datacite"] = " ".join(d["description"] for d in datacite["descriptions"])
    return out


def test_each_table_is_described_by_what_its_build_applied(truth):
    said = statements(truth)
    mped_screen = "band gap 0.1-3 eV (the summary's band_gap); inputs without a band gap excluded"
    ned_screen = "no band-gap screen applied: none of the 3 rows has a band gap"
    for place in ("resource", "croissant", "datacite"):
        assert mped_screen in said[f"mped-{place}"], place
        assert ned_screen in said[f"ned-{place}"], place
        assert "0.1-3" not in said[f"ned-{place}"], place  # no window claimed for NED
        assert "GNoME-style structures" in said[f"ned-{place}"]
        assert "embedded sample structures, taken 2026-11-01" in said[f"mped-{place}"]
    for document in ("card", "notes"):
        assert mped_screen in said[document] and ned_screen in said[document]
    # the DFT statement counts each status of the rows
    table = pd.read_parquet(truth / "mped.parquet").set_index("material_id")
    counts = table["dft_status"].value_counts().to_dict()
    assert counts["ok"] == 1 and counts["rejected_above_limit"] == 1
    assert counts["rejected_voigt_below_reuss"] == 1
    assert f"{counts['no_entry']} without an entry" in said["mped-resource"]
    assert "No DFT table was set beside the predictions" in said["ned-resource"]
    assert table.loc["mp-149", "k_vrh_dft"] == 97.8
    assert table.loc[["mp-2534", "mp-1156"], ["k_vrh_dft", "g_vrh_dft"]].isna().all().all()


def test_the_release_has_its_own_identity(truth):
    descriptor = json.loads((truth / "datapackage.json").read_text())
    assert descriptor["id"] == "https://doi.org/10.5555/truth.check"
    assert descriptor["homepage"] == "https://example.org/truth"
    assert descriptor["citation"].startswith("Lovelace, Ada; elastic-atlas developers (")
    assert "https://doi.org/10.5555/truth.check" in descriptor["citation"]
    assert [c["title"] for c in descriptor["contributors"]] == [
        "Ada Lovelace",
        "elastic-atlas developers",
    ]
    sources = {s["path"] for s in descriptor["sources"]}
    assert f"https://doi.org/{Reference.GNOME.doi}" in sources
    assert Reference.STUDY_DATASET.doi not in descriptor.get("id", "")
    croissant = json.loads((truth / "croissant.json").read_text())
    assert croissant["url"] == "https://example.org/truth"
    assert [c["name"] for c in croissant["creator"]] == ["Ada Lovelace", "elastic-atlas developers"]
    assert croissant["citeAs"].startswith("@misc{truthcheck")
    assert {r["@id"]: r["key"] for r in croissant["recordSet"]}["ned"] == {"@id": "ned/material_id"}


def test_each_upload_record_stands_alone_with_its_own_relations(truth, tmp_path, monkeypatch):
    from datacite import schema43

    for table, other in (("mped", "ned"), ("ned", "mped")):
        folder = truth / "sciencedb" / table
        record = json.loads((folder / "datacite.json").read_text())
        schema43.validator.validate(record)
        assert record["identifiers"][0]["identifier"] == f"10.5555/truth.{table}"
        person = record["creators"][0]
        assert person["nameIdentifiers"][0]["nameIdentifier"].endswith("0000-0002-1825-0097")
        assert person["affiliation"][0]["affiliationIdentifierScheme"] == "ROR"
        assert record["fundingReferences"][0]["funderIdentifierType"] == "Crossref Funder ID"
        related = {r["relatedIdentifier"]: r["relationType"] for r in record["relatedIdentifiers"]}
        gnome = related.get(Reference.GNOME.doi)
        assert gnome == ("IsDerivedFrom" if table == "ned" else None)
        assert (Reference.MP_ELASTIC.doi in related) and related[
            Reference.STUDY.doi
        ] == "References"
        (bundle,) = folder.glob("*.zip")
        unzipped = tmp_path / table
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(unzipped)
        package = json.loads((unzipped / "datapackage.json").read_text())
        assert package["id"] == f"https://doi.org/10.5555/truth.{table}"
        tables = {r["name"].split("-")[0] for r in package["resources"] if r["type"] == "table"}
        assert tables == {table}
        card = (unzipped / "README.md").read_text()
        assert f'"{other}.parquet"' not in card and f"config_name: {other}" not in card
        assert "PHYSICS.md" in {p.name for p in unzipped.iterdir()}
        run_card_snippets(card, unzipped, monkeypatch, tmp_path / f"hf-{table}")
        from datasets import load_dataset

        assert (
            load_dataset(str(unzipped), table)["train"].num_rows == package["resources"][0]["rows"]
        )


def run_card_snippets(card: str, folder: Path, monkeypatch, hf_home: Path) -> None:
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(hf_home))
    for code in re.findall(r"```python\n(.*?)```", card, flags=re.S):
        scope: dict = {}
        exec(code, scope)
        assert len(scope["frame"]) == len(scope["rows"]) > 0


def test_the_card_describes_and_cites_every_table(truth):
    from pybtex.database import parse_string

    card = (truth / "README.md").read_text()
    assert "### Columns of mped" in card and "### Columns of ned" in card
    assert "GNoME MaterialId" in card.split("### Columns of ned")[1]
    assert "### Loading mped" in card and "### Loading ned" in card
    assert "default: true" in card.split("---")[1].split("config_name: ned")[0]
    assert "## How this release differs from the study's dataset" in card
    assert "| NED rows | 3 | 26,305 |" in card
    (bib,) = re.findall(r"```bibtex\n(.*?)```", card, flags=re.S)
    entries = parse_string(bib, "bibtex").entries
    dois = {e.fields.get("doi") for e in entries.values()}
    assert {r.doi for r in Reference} <= dois  # the study, its dataset and every source
    assert entries["truthcheck" + json.loads((truth / "datapackage.json").read_text())[
        "created"][:4]].fields["doi"] == "10.5555/truth.check"  # fmt: skip
    ned_card = zipfile.ZipFile(next((truth / "sciencedb" / "mped").glob("*.zip")))
    mped_bib = ned_card.read("README.md").decode()
    assert Reference.GNOME.doi not in mped_bib  # the MPED record cites no GNoME


@pytest.mark.slow
def test_changes_compare_both_moduli_and_the_rows_with_the_previous_version(truth, tmp_path):
    root = tmp_path / "again"
    shutil.copytree(truth.parents[1], root)
    previous = root / "releases" / "1.0.0" / "mped.parquet"
    old = pd.read_parquet(previous)
    dropped = old.material_id.iloc[0]
    old = old.iloc[1:].copy()
    old.loc[old.index[0], "g_vrh"] *= 1.01  # a change any CSV shows
    old.loc[old.index[1], "k_vrh"] *= 1 + 1e-9  # below the CSV's 7 digits: not a change
    fake = old.iloc[[2]].assign(material_id="mp-999999")
    pd.concat([old, fake]).to_parquet(previous)
    result = CliRunner().invoke(main, release_args(root, "1.1.0"))
    assert result.exit_code == 0, result.output
    folder = root / "releases" / "1.1.0"
    diff = pd.read_csv(folder / "mped-changes.csv")
    assert dict(zip(diff.material_id, diff.change, strict=True)) == {
        dropped: "added",
        old.material_id.iloc[0]: "changed",
        "mp-999999": "removed",
    }
    notes = (folder / "RELEASE.md").read_text()
    assert "- mped: " in notes and "(1 added, 1 removed, 1 with B or G changed" in notes
    assert "- ned: " in notes and "(0 added, 0 removed, 0 with" in notes
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert {"mped-changes", "ned-changes"} <= {r["name"] for r in descriptor["resources"]}
    import frictionless

    report = frictionless.Package(str(folder / "datapackage.json")).validate()
    assert report.valid, report.flatten(["resourceName", "type", "note"])[:3]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('name = "../../../x"', "plain slug"),
        ('name = "a/b"', "plain slug"),
        ('doi = "https://doi.org/10.1/x"', "bare DOI"),
        ('doi = "see website"', "bare DOI"),
        ('homepage = "ftp://example.org"', "http(s) URL"),
        ('record_dois = {nxd = "10.5555/x"}', "not tables of this release"),
        ('colour = "red"', "colour"),
    ],
)
def test_a_release_config_is_checked_before_any_work(tmp_path, line, message):
    config = CONFIG.format(tables='mped = "nowhere.toml"')
    key = line.split(" = ")[0]
    kept = [row for row in config.splitlines() if not row.startswith(f"{key} = ")]
    (tmp_path / "release.toml").write_text("\n".join([line, *kept]) + "\n")
    result = CliRunner().invoke(main, release_args(tmp_path, "1.0.0"))
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "releases").exists()


def test_a_release_that_is_not_the_sample_needs_its_creators(tmp_path):
    text = CONFIG.format(tables='mped = "nowhere.toml"')
    text = re.sub(r"\[\[creators\]\].*?(?=\[\[funding\]\])", "", text, flags=re.S)
    (tmp_path / "release.toml").write_text(text)
    result = CliRunner().invoke(main, release_args(tmp_path, "1.0.0"))
    assert result.exit_code == 2 and "must name its creators" in result.output


@pytest.mark.parametrize("version", ["1.0.0\n", "１.0.0", "01.0.0", "1.0"])
def test_versions_are_ascii_semver_in_full(version):
    from elastic_atlas.release.context import SEMVER

    assert not SEMVER.fullmatch(version)


@pytest.mark.parametrize("checkpoint", ["copy", "uncalibrated"])
def test_the_model_card_is_read_from_the_checkpoint_wherever_it_lies(tmp_path, checkpoint):
    """A checkpoint outside the repository (a user's, or the repository's with an installed
    wheel) still gives the release its accuracy and calibration; one without them says so."""
    from checkpoint_factory import make_own

    from elastic_atlas.inputs.recipe import default_checkpoint

    model = tmp_path / "elsewhere" / "model"
    if checkpoint == "copy":
        shutil.copytree(default_checkpoint(), model)
    else:
        make_own(model, calibrated=False)
    dft = MPED[MPED.index("[dft]") :]
    (tmp_path / "mped.toml").write_text(MPED.replace(dft, f'[models]\ncheckpoint = "{model}"\n'))
    config = CONFIG.format(tables='mped = "mped.toml"')
    (tmp_path / "release.toml").write_text(
        "\n".join(line for line in config.splitlines() if not line.startswith("record_dois"))
    )
    result = CliRunner().invoke(main, release_args(tmp_path, "1.0.0"))
    assert result.exit_code == 0, result.output
    card = (tmp_path / "releases" / "1.0.0" / "README.md").read_text()
    if checkpoint == "copy":
        shipped = json.loads((model / "model.json").read_text())
        members = len(shipped["members"])
        mae = shipped["metrics"]["targets"]["log10_k_vrh"]["test"]["mae"]
        said = f"model (trained with elastic-atlas, {members} member(s); Matbench fold-0 test MAE B"
        assert f"{said} {mae:.4f}" in card
        assert "are calibrated standard uncertainties" in card and "on different test sets" in card
    else:
        assert "carry no calibration" in card
        assert "model (trained with elastic-atlas, 2 member(s))" in card  # no MAE to state
        assert "on different test sets" not in card
