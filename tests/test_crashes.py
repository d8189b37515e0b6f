"""A crash is never a verdict: every input that once raised a traceback is exit 2 with one line,
exit 1 stays for findings, and an unexpected failure has its own exit code and says it is a bug."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.paths import repo_root

VERSION = "0.1.0+sample"


def invoke(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_usage_error(result) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def release_copy(released: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "rel"
    shutil.copytree(released / "releases" / VERSION, folder)
    return folder


def test_a_nul_in_a_resource_path_is_a_finding(released, tmp_path):
    folder = release_copy(released, tmp_path)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    descriptor["resources"][0]["path"] = "mped\u0000.csv"
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    result = invoke("validate", folder / "datapackage.json")
    assert result.exit_code == 1 and "contains a NUL character" in result.output


def test_a_nested_parquet_column_is_a_finding(tmp_path):
    table = pa.table({"material_id": ["mp-1"], "k_vrh": pa.array([[1.0, 2.0]])})
    pq.write_table(table, tmp_path / "t.parquet")
    for extra in ([], ["--schema", "mped"]):
        result = invoke("validate", tmp_path / "t.parquet", *extra)
        assert result.exit_code == 1 and "INVALID" in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"resources": [{"name": "a", "path": "a.csv", "schema": {"fields": 5}}]}', "fields"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_an_unusable_descriptor_is_one_line(tmp_path, text, message):
    (tmp_path / "a.csv").write_text("material_id\nmp-1\n")
    (tmp_path / "datapackage.json").write_text(text)
    result = invoke("validate", tmp_path / "datapackage.json")
    one_line_usage_error(result)
    assert message in result.output


@pytest.mark.parametrize("schema", [[], ["--schema", "mped"]])
def test_a_repeated_csv_column_is_one_line(tmp_path, schema):
    (tmp_path / "t.csv").write_text("material_id,k_vrh,k_vrh\nmp-1,1,2\n")
    result = invoke("validate", tmp_path / "t.csv", *schema)
    one_line_usage_error(result)
    assert "k_vrh appear more than once" in result.output


@pytest.mark.parametrize("damage", ["broken", "no created"])
def test_an_existing_version_with_a_damaged_descriptor_is_left_alone(released, tmp_path, damage):
    root = tmp_path / "releases"
    shutil.copytree(released / "releases", root)
    descriptor = root / VERSION / "datapackage.json"
    if damage == "broken":
        descriptor.write_text("{not json")
    else:
        data = json.loads(descriptor.read_text())
        del data["created"]
        descriptor.write_text(json.dumps(data))
    before = descriptor.read_bytes()
    result = invoke("release", "--releases", root, "--quiet", "--workers", "0")
    one_line_usage_error(result)
    assert "has no 'created'" in result.output and descriptor.read_bytes() == before


def test_a_config_with_no_tables_is_refused(tmp_path):
    (tmp_path / "r.toml").write_text(
        'name = "x"\ntitle = "t"\ndescription = "d"\nkeywords = []\nsample = true\n[tables]\n'
    )
    result = invoke("release", "--config", tmp_path / "r.toml", "--releases", tmp_path / "out")
    one_line_usage_error(result)
    assert "tables" in result.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "content", [b"id,k_vrh,g_vrh,source\nmp-149,97.8,66.5,x\n", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"]
)
def test_a_bad_literature_table_stops_the_build_before_any_table(tmp_path, content):
    sample = repo_root() / "build" / "sample"
    (tmp_path / "literature.csv").write_bytes(content)
    (tmp_path / "recipe.toml").write_text(
        f'table = "mped"\nliterature = "literature.csv"\n[[structures]]\n'
        f'path = "{sample / "structures"}"\nsource = "s"\nlicence = "CC-BY-4.0"\n'
        f'[summary]\npath = "{sample / "summary.csv"}"\n'
    )
    out = tmp_path / "out"
    result = invoke("build", tmp_path / "recipe.toml", "-o", out, "--workers", "0", "--quiet")
    one_line_usage_error(result)
    assert "literature" in result.output and not (out / "mped.csv").exists()


def test_an_unexpected_failure_is_exit_3_and_says_it_is_a_bug(monkeypatch, tmp_path):
    import elastic_atlas.validation.package as package

    def broken(*args, **kwargs):
        raise RuntimeError("something the code did not expect")

    monkeypatch.setattr(package, "validate_table_file", broken)
    (tmp_path / "t.csv").write_text("material_id\nmp-1\n")
    result = invoke("validate", tmp_path / "t.csv")
    assert result.exit_code == 3
    assert "internal error (a bug of elastic-atlas" in result.output
    assert "RuntimeError: something the code did not expect" in result.output
