"""The embedded-sample release end to end: package, frictionless, determinism, tampering."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import frictionless
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import DEFAULT_MODEL, default_checkpoint
from elastic_atlas.paths import repo_root
from elastic_atlas.release.assemble import ReleaseError, build_release, check_version, load_config

SAMPLE = repo_root() / "build" / "release-sample.toml"
VERSION = "0.1.0+sample"


def test_release_layout(released):
    folder = released / "releases" / VERSION
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {
        "mped.csv",
        "mped.parquet",
        "mped-rejects.csv",
        "datapackage.json",
        "RELEASE.md",
        "CHECKSUMS.sha256",
        "checklist.json",
        "sciencedb/mped/metadata.json",
        "sciencedb/mped/datacite.json",
        f"sciencedb/mped/elastic-atlas-sample-mped-{VERSION}.zip",
    } <= names
    for figure in (
        "crystal_systems",
        "atoms_per_cell",
        "element_frequency",
        "bulk_vs_shear",
        "bulk_vs_shear_by_system",
    ):
        assert {f"figures/mped/{figure}.png", f"figures/mped/{figure}.svg"} <= names
    descriptor = json.loads((folder / "datapackage.json").read_text())
    assert descriptor["$schema"].endswith("/2.0/datapackage.json")
    assert descriptor["version"] == VERSION and "NOT" in descriptor["title"]
    by_name = {r["name"]: r for r in descriptor["resources"]}
    assert by_name["mped-parquet"]["licenses"][0]["name"] == "CC-BY-4.0"
    assert "bytes" in by_name["mped-csv"] and "bytes" not in by_name["mped-parquet"]
    assert by_name["mped-csv"]["hash"] == f"sha256:{file_digest(folder / 'mped.csv')}"
    assert by_name["mped-csv"]["rows"] == by_name["mped-parquet"]["rows"] > 10
    assert "This is the embedded sample" in (folder / "RELEASE.md").read_text()
    metadata = json.loads((folder / "sciencedb" / "mped" / "metadata.json").read_text())
    assert metadata["related_publication"]["doi"] == "10.7498/aps.74.20250127"
    assert not (released / "CHANGES.md").exists()  # sample releases are not logged


def test_release_notes_compare_predictions_with_the_literature(released):
    """The sample's RELEASE.md carries predicted vs measured moduli, row for row."""
    notes = (released / "releases" / VERSION / "RELEASE.md").read_text()
    assert "### Predicted vs literature (GPa)" in notes
    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in notes.splitlines()
        if line.startswith("| mp-")
    }
    literature = pd.read_csv(repo_root() / "build" / "sample" / "literature.csv")
    table = pd.read_csv(released / "releases" / VERSION / "mped.csv").set_index("material_id")
    in_table = set(literature.material_id) & set(table.index)
    assert set(rows) == in_table and 5 <= len(in_table) < len(literature)
    silicon = rows["mp-149"]  # Si: B 97.8 GPa, G 66.5 GPa from its elastic constants
    assert silicon[0] == "Si" and silicon[2] == "97.8" and silicon[4] == "66.5"
    assert silicon[1] == f"{table.loc['mp-149', 'k_vrh']:.1f}"
    assert f"{len(in_table)} of the {len(literature)} materials" in notes
    assert "mean absolute (signed) error in log10 GPa" in notes


def test_checksums_verify_with_sha256sum(released):
    folder = released / "releases" / VERSION
    check = subprocess.run(
        ["sha256sum", "-c", "CHECKSUMS.sha256"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_frictionless_and_elastic_atlas_accept_the_current_release_descriptor(released):
    # --releases DIR: the descriptor of the current release goes inside DIR, nothing beside it
    assert sorted(p.name for p in released.iterdir()) == ["releases"]
    current = released / "releases" / "datapackage.json"
    report = frictionless.Package(str(current)).validate()
    assert report.valid, report.flatten(["type", "note"])
    tables = [t for t in report.tasks if t.type == "table"]
    assert len(tables) == 4  # CSV and Parquet table, the rejects and the structures
    # the checkpoint's files, hash and size: members, features, card, README, training ids;
    # and the page
    members = len(json.loads((default_checkpoint() / "model.json").read_text())["members"])
    assert len(report.tasks) - len(tables) == members + 4 + 1
    result = CliRunner().invoke(main, ["validate", str(current), "--strict"])
    assert result.exit_code == 0, result.output


def frictionless_checklist_report(folder, resource):
    """`frictionless validate` with the release's checklist, run inside the release folder."""
    command = [
        str(Path(sys.executable).parent / "frictionless"),
        "validate",
        "--json",
        "--checklist",
        "checklist.json",
        "--resource-name",
        resource,
        "datapackage.json",
    ]
    report = subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)
    return json.loads(report.stdout)


@pytest.mark.slow
def test_frictionless_applies_the_physics_checklist_shipped_with_the_release(released, tmp_path):
    folder = released / "releases" / VERSION
    notes = (folder / "RELEASE.md").read_text()
    assert "--checklist checklist.json --resource-name mped-parquet" in notes
    with zipfile.ZipFile(next((folder / "sciencedb").glob("*/*.zip"))) as bundle:
        assert "checklist.json" in bundle.namelist()
    for name in ("mped-csv", "mped-parquet"):
        report = frictionless_checklist_report(folder, name)
        assert report["valid"], report["tasks"][0]["errors"][:2]
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    table = pd.read_csv(copy / "mped.csv")
    table.loc[3, "v_mean"] *= 1.01  # data row 4, i.e. row position 5 with the header
    table.to_csv(copy / "mped.csv", index=False, lineterminator="\n")
    report = frictionless_checklist_report(copy, "mped-csv")
    constraint_errors = [e for e in report["tasks"][0]["errors"] if e["type"] == "row-constraint"]
    assert [e["rowNumber"] for e in constraint_errors] == [5]
    assert "v_mean" in constraint_errors[0]["note"]


@pytest.mark.slow
def test_rebuilding_a_version_is_byte_identical_and_never_overwrites(released, capsys):
    target = build_release(SAMPLE, VERSION, released / "releases", workers=0, quiet=True)
    assert "byte-identical" in capsys.readouterr().err
    csv = target / "mped.csv"
    original = csv.read_bytes()
    csv.write_bytes(original.replace(b"mp-", b"mq-", 1))
    try:
        with pytest.raises(ReleaseError, match="differs"):
            build_release(SAMPLE, VERSION, released / "releases", workers=0, quiet=True)
        assert csv.read_bytes() != original  # the existing folder was left as it was
        with pytest.raises(ReleaseError, match="only for draft"):
            build_release(SAMPLE, VERSION, released / "releases", force=True, workers=0, quiet=True)
    finally:
        csv.write_bytes(original)
    assert not list((released / "releases").glob(".*building*"))


def tampered(released, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(released / "releases" / VERSION, copy)
    return copy


def validate_package(folder):
    return CliRunner().invoke(main, ["validate", str(folder / "datapackage.json")])


def test_flipped_byte_in_parquet_is_a_hash_error(released, tmp_path):
    folder = tampered(released, tmp_path)
    path = folder / "mped.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = validate_package(folder)
    assert result.exit_code in (1, 2) and "package.hash" in result.output


def test_nan_in_parquet_and_wrong_row_count_are_errors(released, tmp_path):
    folder = tampered(released, tmp_path)
    path = folder / "mped.parquet"
    table = pq.read_table(path)
    k = table.column("k_vrh").to_numpy().copy()
    k[0] = float("nan")
    table = table.set_column(
        table.schema.get_field_index("k_vrh"), "k_vrh", pa.array(k, from_pandas=False)
    )
    pq.write_table(table, path)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    for entry in descriptor["resources"]:
        if entry["name"] == "mped-parquet":
            entry["hash"] = f"sha256:{file_digest(path)}"  # a consistent-looking descriptor
        if entry["name"] == "mped-csv":
            entry["rows"] += 1
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    result = validate_package(folder)
    assert result.exit_code == 1
    assert "bounds.finite" in result.output and "package.rows" in result.output
    assert "package.hash" not in result.output


@pytest.mark.slow
def test_interrupted_build_leaves_no_partial_release(tmp_path, monkeypatch):
    import elastic_atlas.release.sciencedb as sciencedb

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sciencedb, "write_bundle", boom)
    with pytest.raises(KeyboardInterrupt):
        build_release(SAMPLE, "0.2.0+sample", tmp_path / "releases", workers=0, quiet=True)
    # no version folder and no scratch; only the table's finished shards, kept to resume
    assert [p.name for p in (tmp_path / "releases").iterdir()] == [".parts-0.2.0+sample"]
    assert list((tmp_path / "releases" / ".parts-0.2.0+sample").glob("mped/s*/manifest.json"))


def test_version_rules():
    config, _ = load_config(SAMPLE)
    with pytest.raises(ReleaseError, match=r"\+sample"):
        check_version("1.0.0", config)
    with pytest.raises(ReleaseError, match=r"X\.Y\.Z"):
        check_version("v1", config)
    check_version("1.0.0-rc1+sample", config)


def test_release_help():
    result = subprocess.run(
        [sys.executable, "-m", "elastic_atlas.cli", "release", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "--version" in result.stdout


def test_parquet_files_describe_themselves(released):
    schema = pq.read_schema(released / "releases" / VERSION / "mped.parquet")
    k = schema.field("k_vrh").metadata
    assert k[b"unit"] == b"GPa" and k[b"title"] == b"B" and b"bulk modulus" in k[b"description"]
    assert schema.field("debye_temperature").metadata[b"unit"] == b"K"
    about = {key.decode(): value.decode() for key, value in schema.metadata.items()}
    assert about["elastic_atlas.version"] == VERSION
    assert about["elastic_atlas.licence"] == "CC-BY-4.0"
    assert "10.7498/aps.74.20250127" in about["elastic_atlas.citation"]
    members = len(json.loads((default_checkpoint() / "model.json").read_text())["members"])
    assert json.loads(about["elastic_atlas.checkpoints"])[0]["members"] == members


def test_csv_numbers_carry_the_schema_digits_and_parquet_the_full_doubles(released):
    folder = released / "releases" / VERSION
    schema = json.loads((folder / "datapackage.json").read_text())["resources"][0]["schema"]
    digits = {
        f["name"]: f["elastic_atlas:significantDigits"]
        for f in schema["fields"]
        if "elastic_atlas:significantDigits" in f
    }
    assert digits["k_vrh"] == 7 and digits["k_vrh_uncertainty"] == 4
    text = pd.read_csv(folder / "mped.csv", dtype=str, keep_default_na=False)
    exact = pd.read_parquet(folder / "mped.parquet")
    for name, n in digits.items():
        for cell, value in zip(text[name], exact[name], strict=True):
            if cell == "":
                assert pd.isna(value)
                continue
            mantissa = cell.split("e")[0].replace("-", "").replace(".", "").lstrip("0")
            assert len(mantissa) <= n, (name, cell)  # no float noise such as ...00000004
            assert float(cell) == pytest.approx(value, rel=10.0 ** (1 - n))
    # the Parquet file keeps what the CSV rounds away
    assert any(len(repr(v).replace(".", "")) > 9 for v in exact["k_vrh"])


def test_the_checkpoints_travel_with_the_release(released, tmp_path):
    folder = released / "releases" / VERSION
    descriptor = json.loads((folder / "datapackage.json").read_text())
    files = [r for r in descriptor["resources"] if r["path"].startswith("models/")]
    assert {Path(r["path"]).parts[1] for r in files} == {DEFAULT_MODEL}  # one network
    assert all(r["hash"] == f"sha256:{file_digest(folder / r['path'])}" for r in files)
    # the release's own identity: no DOI minted for the sample, the study cited as the method
    assert "id" not in descriptor and "homepage" not in descriptor
    assert descriptor["citation"].startswith("elastic-atlas developers (2")
    assert "10.7498/aps.74.20250127" in descriptor["citation"]
    with zipfile.ZipFile(next((folder / "sciencedb").glob("*/*.zip"))) as bundle:
        assert {r["path"] for r in files} <= set(bundle.namelist())
    # anyone can re-predict from a copy of the release alone
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    cif = repo_root() / "build" / "sample" / "structures" / "mp-1156.cif"
    out = tmp_path / "again.csv"
    model = copy / "models" / DEFAULT_MODEL
    result = CliRunner().invoke(
        main, ["predict", "--checkpoint", str(model), str(cif), "-o", str(out), "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(copy / "mped.parquet").set_index("material_id")
    again = pd.read_csv(out).set_index("material_id")
    assert 10 ** again.loc["mp-1156", "log10_k_vrh"] == pytest.approx(table.loc["mp-1156", "k_vrh"])
    assert 10 ** again.loc["mp-1156", "log10_g_vrh"] == pytest.approx(table.loc["mp-1156", "g_vrh"])
    assert again.loc["mp-1156", "log10_k_vrh_uncertainty"] == pytest.approx(
        table.loc["mp-1156", "k_vrh_uncertainty"]
    )
    # a changed weight file is a finding
    member = model / "member-0.safetensors"
    member.write_bytes(member.read_bytes()[:-4] + b"\0\0\0\0")
    check = CliRunner().invoke(main, ["validate", str(copy / "datapackage.json")])
    assert check.exit_code == 1 and "package.hash" in check.output


def test_upload_records_carry_valid_datacite_metadata_of_their_own(released, tmp_path):
    from datacite import schema43

    folder = released / "releases" / VERSION / "sciencedb" / "mped"
    record = json.loads((folder / "datacite.json").read_text())
    schema43.validator.validate(record)  # the DataCite kernel 4.3 JSON schema
    assert schema43.tostring(record).startswith("<?xml")  # and its XML form
    # the release's creators (its config), not the study's authors; no DOI minted yet
    assert record["creators"] == [
        {"name": "elastic-atlas developers", "nameType": "Organizational"}
    ]
    assert record["identifiers"] == [{"identifier": "(:tba)", "identifierType": "DOI"}]
    assert record["rightsList"][0]["rightsIdentifier"] == "CC-BY-4.0"
    assert record["fundingReferences"] == []  # the config names none; the study's is not ours
    assert all("subjectScheme" in s for s in record["subjects"][:3])
    assert {d["dateType"] for d in record["dates"]} == {"Created", "Issued"}
    assert record["sizes"][0].endswith(" rows") and record["version"] == VERSION
    related = {r["relatedIdentifier"]: r["relationType"] for r in record["relatedIdentifiers"]}
    assert related["10.7498/aps.74.20250127"] == "References"  # the study: the method
    assert related["10.57760/sciencedb.j00213.00104"] == "References"  # not a version of it
    assert related["10.1038/s41524-020-00406-3"] == "IsDerivedFrom"  # Matbench: training data
    assert "10.1038/s41586-023-06735-9" not in related  # no GNoME row in this table
    metadata = json.loads((folder / "metadata.json").read_text())
    assert [a["name"] for a in metadata["authors"]] == ["elastic-atlas developers"]
    assert "placeholder" not in json.dumps(metadata).lower()
    # the record's zip is a package of its own: frictionless checks it as downloaded
    with zipfile.ZipFile(folder / f"elastic-atlas-sample-mped-{VERSION}.zip") as bundle:
        bundle.extractall(tmp_path / "download")
    report = frictionless.Package(str(tmp_path / "download" / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])[:3]


def test_croissant_metadata_validates_and_reads_the_records(released):
    import mlcroissant as mlc

    folder = released / "releases" / VERSION
    croissant = json.loads((folder / "croissant.json").read_text())
    assert croissant["conformsTo"].startswith("http://mlcommons.org/croissant/1.0")
    files = {f["contentUrl"]: f for f in croissant["distribution"]}
    assert set(files) == {"mped.parquet", "mped-structures.parquet", "index.html"}
    assert files["mped.parquet"]["sha256"] == file_digest(folder / "mped.parquet")
    fields = {f["name"]: f for f in croissant["recordSet"][0]["field"]}
    assert fields["k_vrh"]["dataType"] == "cr:Float64" and "GPa" in fields["k_vrh"]["description"]
    dataset = mlc.Dataset(jsonld=str(folder / "croissant.json"))  # validates, raises on errors
    records = list(dataset.records(record_set="mped"))
    table = pd.read_parquet(folder / "mped.parquet")
    assert len(records) == len(table)
    assert records[0]["mped/material_id"].decode() == table.material_id.iloc[0]
    assert records[0]["mped/k_vrh"] == table.k_vrh.iloc[0]
    assert fields["risk_soft"]["dataType"] == "sc:Boolean"
    assert bool(records[0]["mped/risk_soft"]) == bool(table.risk_soft.iloc[0])
    structures = list(dataset.records(record_set="mped-structures"))
    assert (
        len(structures) == len(table) and b"_cell_length_a" in structures[0]["mped-structures/cif"]
    )


def test_the_dataset_card_front_matter_and_its_loading_snippets_work(
    released, monkeypatch, tmp_path
):
    import re

    import yaml

    folder = released / "releases" / VERSION
    card = (folder / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "cc-by-4.0"
    assert front["configs"][0]["data_files"][0]["path"] == "mped.parquet"
    for heading in ("What these data are", "## Columns", "## Loading", "How to check", "@article"):
        assert heading in card
    assert "| `k_vrh` | B | GPa |" in card and "band_gap_outside_window" in card
    # every snippet of the card, run as published, in a copy of the release folder
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    monkeypatch.chdir(copy)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    (code,) = re.findall(r"```python\n(.*?)```", card, flags=re.S)
    scope: dict = {}
    exec(code, scope)
    n = len(pd.read_parquet(copy / "mped.parquet"))
    assert len(scope["frame"]) == n and len(scope["rows"]) == n
    from datasets import load_dataset

    by_card = load_dataset(str(copy), "mped")["train"]  # the front matter's config
    assert by_card.num_rows == n and "k_vrh" in by_card.column_names


def test_dense_scatters_are_pixels_inside_the_svgs(released):
    figures = released / "releases" / VERSION / "figures" / "mped"
    for name in ("bulk_vs_shear", "bulk_vs_shear_by_system"):
        svg = (figures / f"{name}.svg").read_text()
        assert "<image" in svg  # the scatter is rasterized, so the SVG stays small on real data


@pytest.mark.slow
def test_a_release_stopped_before_its_descriptor_is_completed_by_the_next_run(released, tmp_path):
    """The version folder was in place when the run stopped: the rerun finds it byte-identical
    and still writes the releases-folder descriptor the stopped run never wrote."""
    root = tmp_path / "copy"
    shutil.copytree(released, root)
    (root / "releases" / "datapackage.json").unlink()
    result = CliRunner().invoke(
        main, ["release", "--releases", str(root / "releases"), "--quiet", "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "byte-identical" in result.output
    descriptor = json.loads((root / "releases" / "datapackage.json").read_text())
    assert descriptor["resources"][0]["path"].startswith(f"{VERSION}/")
