"""Nothing lost, nothing wrong, nothing let in: the hostile inputs of issue 10, one test each.

Each test feeds a broken or malicious input to build, predict, validate or release and asserts
the outcome a careful user needs: exit 2 with one line naming the problem (no traceback, no
file written), a reject with its reason, or a finding — never a VALID release or a silent drop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from checkpoint_factory import make_own
from click.testing import CliRunner
from fake_mp import KEY, FakeMP, page
from hostile import (
    bad_crc_zip,
    encrypted_zip,
    malicious_checkpoint,
    stored_zip,
    tampered_package,
    unsupported_compression_zip,
    zip_bomb,
)
from structures import cif_text, diamond, hydrogen_grid, p1_cif, rock_salt

from elastic_atlas.cli import main
from elastic_atlas.contract.licences import LicenceError, table_licence
from elastic_atlas.contract.reasons import StructureRejected
from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.inputs.sources import MAX_CIF_BYTES, iter_cif_source
from elastic_atlas.model import graph
from elastic_atlas.model.checkpoint import CheckpointError
from elastic_atlas.model.graph import build_graph
from elastic_atlas.model.loading import load_checkpoint

VERSION = "0.1.0+sample"


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def assert_usage_error(result, *words: str) -> None:
    """Exit 2, one line on stderr naming the problem, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error")]
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0], lines[0]


RECIPE = """
table = "mped"
[[structures]]
path = "{structures}"
source = "test source"
licence = "{licence}"
{extra}
[screen]
gap_policy = "{policy}"
[models]
bulk = "model"
shear = "model"
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model") / "model"
    make_own(folder)
    return folder


def recipe(tmp_path: Path, model: Path, structures: str, **kw) -> Path:
    (tmp_path / "model").exists() or (tmp_path / "model").symlink_to(model)
    text = RECIPE.format(
        structures=structures,
        licence=kw.get("licence", "CC-BY-4.0"),
        extra=kw.get("extra", ""),
        policy=kw.get("policy", "include"),
    )
    path = tmp_path / "recipe.toml"
    path.write_text(text + kw.get("tail", ""))
    return path


def good_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cifs"
    folder.mkdir(exist_ok=True)
    (folder / "mp-1.cif").write_text(cif_text(rock_salt()))
    (folder / "mp-2.cif").write_text(cif_text(diamond()))
    return folder


def build(recipe_path: Path, out: Path, *extra: str, env: dict | None = None):
    return invoke("build", recipe_path, "-o", out, "--quiet", "--workers", "0", *extra, env=env)


# ------------------------------------------------------------ 1. unreadable sources stop a build
@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "no-such.zip", ["no-such.zip", "no such file"]),
        (lambda d: _cut(d / "cut.zip"), ["cut.zip", "truncated"]),
        (lambda d: bad_crc_zip(d / "crc.zip", cif_text(rock_salt())), ["crc.zip", "mp-1.cif"]),
        (
            lambda d: unsupported_compression_zip(d / "method.zip", cif_text(rock_salt())),
            ["method.zip", "compression"],
        ),
        (lambda d: encrypted_zip(d / "locked.zip", cif_text(rock_salt())), ["encrypted"]),
        (lambda d: stored_zip(d / "nocif.zip", {"readme.txt": "x"}), ["no .cif"]),
        (lambda d: _empty_folder(d / "empty"), ["no .cif"]),
    ],
    ids=["missing", "truncated", "bad-crc", "compression", "encrypted", "no-cif", "empty-dir"],
)
def test_a_source_that_cannot_be_read_completely_stops_the_build(tmp_path, model, make, words):
    source = make(tmp_path)
    result = build(recipe(tmp_path, model, source.name), tmp_path / "out")
    assert_usage_error(result, *words)
    assert not (tmp_path / "out" / "mped.csv").exists()


def _cut(path: Path) -> Path:
    stored_zip(path.with_suffix(".whole"), {"mp-1.cif": cif_text(rock_salt())})
    path.write_bytes(path.with_suffix(".whole").read_bytes()[:60])
    return path


def _empty_folder(path: Path) -> Path:
    path.mkdir()
    return path


def mp_api_recipe(tmp_path: Path, model: Path) -> Path:
    text = RECIPE.format(structures=".", licence="CC-BY-4.0", extra="", policy="include")
    text = text.replace('path = "."', 'kind = "mp_api"\ncriteria = {band_gap_min = 0.1}')
    (tmp_path / "model").exists() or (tmp_path / "model").symlink_to(model)
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_materials_project_failures_stop_the_build(tmp_path, model):
    path = mp_api_recipe(tmp_path, model)
    env = {"ELASTIC_ATLAS_CACHE": str(tmp_path / "cache"), "MP_API_KEY": ""}
    assert_usage_error(build(path, tmp_path / "a", env=env), "MP_API_KEY")
    with FakeMP([(401, f"bad key {KEY}".encode())]) as server:
        env = {**env, "MP_API_KEY": KEY, "MP_API_ENDPOINT": server.url}
        result = build(path, tmp_path / "b", env=env)
    assert_usage_error(result, "HTTP 401", "MP_API_KEY")
    assert KEY not in result.output
    first = page(0)
    first["data"] = first["data"][:2] * 250  # a full first page of 500 documents
    first["meta"]["total_doc"] = 1000
    for i, document in enumerate(first["data"]):
        first["data"][i] = {**document, "material_id": f"mp-{i}"}
    with FakeMP([(200, first)] + [(503, b"down")] * 6) as server:
        env["MP_API_ENDPOINT"] = server.url
        result = build(path, tmp_path / "c", env={**env, "ELASTIC_ATLAS_CACHE": str(tmp_path)})
    assert_usage_error(result, "HTTP 503")
    assert not (tmp_path / "c" / "mped.csv").exists()


def release_of_recipe(tmp_path: Path):
    """`release --version 1.0.0` of a one-table config around tmp_path/recipe.toml."""
    config = tmp_path / "release.toml"
    config.write_text(
        'name = "x"\ntitle = "t"\ndescription = "d"\nkeywords = []\n'
        '[[creators]]\nname = "test"\n[tables]\nmped = "recipe.toml"\n'
    )
    releases = tmp_path / "releases"
    options = ["--version", "1.0.0", "--releases", releases, "--quiet", "--workers", "0"]
    return invoke("release", "--config", config, *options), releases


def test_a_release_on_a_mistyped_path_creates_nothing(tmp_path, model):
    recipe(tmp_path, model, "misspelt.zip")
    result, releases = release_of_recipe(tmp_path)
    assert_usage_error(result, "misspelt.zip")
    assert list(releases.iterdir()) == []
    assert not (tmp_path / "datapackage.json").exists()


def test_a_release_with_an_empty_table_is_refused(tmp_path, model):
    folder = tmp_path / "cifs"
    folder.mkdir()
    (folder / "mp-9.cif").write_text(p1_cif(5.0, [("Po", 0, 0, 0, 1), ("O", 0.5, 0.5, 0.5, 1)]))
    recipe(tmp_path, model, "cifs")  # every input screened out (radioactive)
    result, releases = release_of_recipe(tmp_path)
    assert result.exit_code == 1 and "0 rows" in result.output
    assert list(releases.iterdir()) == []


# ------------------------------------------------------------ 2. chemistry is never changed
@pytest.mark.parametrize(
    ("symbols", "formula"),
    [(("CA", "O"), "CaO"), (("NA", "CL"), "NaCl"), (("na", "cl"), "NaCl"), (("Ca", "O"), "CaO")],
)
def test_element_symbols_in_any_letter_case_mean_what_pymatgen_reads(symbols, formula):
    a, b = symbols
    text = p1_cif(4.8, [(a, 0, 0, 0, 1), (b, 0.5, 0.5, 0.5, 1)])
    assert parse_cif(text).composition.reduced_formula == formula


def test_impossible_cells_and_absent_atoms_are_refused_with_a_reason():
    cases = {
        "overlapping_atoms": p1_cif(5.64, [("Na", 0, 0, 0, 1), ("Cl", 0, 0, 0, 1)]),
        "implausible_cell": p1_cif(0.5, [("Na", 0, 0, 0, 1)]),
    }
    for reason, text in cases.items():
        with pytest.raises(StructureRejected) as error:
            build_graph(parse_cif(text))
        assert error.value.reason == reason
    with pytest.raises(StructureRejected) as error:
        parse_cif(p1_cif(5.64, [("Na", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 0)]))
    assert error.value.reason == "zero_occupancy"


# ------------------------------------------------------------ 3. bounded resources
def test_a_neighbour_search_over_budget_is_refused_before_it_runs(monkeypatch):
    structure = parse_cif(hydrogen_grid())
    assert structure.density < 30 and structure.volume / len(structure) > 2  # plausible cell

    def never(*args, **kwargs):
        raise AssertionError("the neighbour search ran")

    monkeypatch.setattr(graph, "neighbor_list", never)
    with pytest.raises(StructureRejected) as error:
        build_graph(structure)
    assert error.value.reason == "neighbor_budget_exceeded"


def test_a_zip_bomb_entry_is_rejected_without_reading_it(tmp_path):
    bomb = zip_bomb(tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 1_000_000
    (raw,) = list(iter_cif_source(bomb))
    assert raw.text is None and raw.reason == "file_too_large"
    assert str(MAX_CIF_BYTES) in raw.detail


# ------------------------------------------------------------ 4. checkpoints never run code
def test_a_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path):
    sentinel = tmp_path / "pwned"
    path = malicious_checkpoint(tmp_path / "evil.pth.tar", sentinel)
    atom_init = tmp_path / "atom_init.json"
    atom_init.write_text(json.dumps({str(z): [0.0] * 4 for z in range(1, 5)}))
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path, atom_init)
    assert not sentinel.exists()
    result = invoke(
        "predict",
        "--checkpoint",
        path,
        "--atom-init",
        atom_init,
        tmp_path,
        "-o",
        tmp_path / "p.csv",
    )
    assert_usage_error(result, "refused")
    assert not sentinel.exists()
    # The file is what it claims: loading it the old way runs the command.
    control = tmp_path / "control"
    torch.load(malicious_checkpoint(tmp_path / "c.pth.tar", control), weights_only=False)
    assert control.exists()


# ------------------------------------------------------------ 5. validate stays inside
def _repoint(name: str, value):
    def change(descriptor, folder):
        for resource in descriptor["resources"]:
            if resource["name"] == name:
                resource["path"] = value(folder) if callable(value) else value

    return change


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../outside.csv",
        "http://example.org/mped.csv",
        "file:///etc/passwd",
        "link-out.csv",
        "device.csv",
    ],
)
def test_validate_never_reads_outside_the_package(released, tmp_path, path):
    outside = tmp_path / "outside.csv"
    outside.write_text("material_id\nmp-1\n")

    def change(descriptor, folder):
        (folder / "link-out.csv").symlink_to(outside)
        (folder / "device.csv").symlink_to("/dev/zero")
        descriptor["resources"][0]["path"] = path

    package = tampered_package(released / "releases" / VERSION, tmp_path / "pkg", change)
    report = tmp_path / "report.json"
    result = invoke("validate", package, "--json", report)
    assert result.exit_code == 1, result.output
    checks = {f["check"] for f in json.loads(report.read_text())["findings"]}
    assert "package.path" in checks, checks


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d, f: d["resources"][0].update(hash="sha3-999:abc"), ["hash algorithm"]),
        (lambda d, f: d["resources"][0].update(path=["a.csv", "b.csv"]), ["multipart"]),
        (lambda d, f: d["resources"][0].update(data=[{"a": 1}]), ["inline data"]),
        (lambda d, f: d.update(resources={"mped": {}}), ["list of objects"]),
        (lambda d, f: d.update(resources=["mped.csv"]), ["list of objects"]),
    ],
    ids=["hash", "multipart", "inline", "dict", "strings"],
)
def test_validate_refuses_descriptors_it_cannot_check(released, tmp_path, change, words):
    package = tampered_package(released / "releases" / VERSION, tmp_path / "pkg", change)
    assert_usage_error(invoke("validate", package), *words)


def test_validate_json_into_a_missing_folder_and_bad_tolerances(released, tmp_path):
    package = released / "releases" / VERSION / "datapackage.json"
    result = invoke("validate", package, "--json", tmp_path / "nope" / "r.json")
    assert result.exit_code == 2 and "does not exist" in result.output
    for bad in ("nan", "inf", "-1", "0"):
        result = invoke("validate", package, "--tolerance", bad)
        assert result.exit_code == 2 and "finite positive" in result.output, bad


# ------------------------------------------------------------ 6. the project's contract
def _weaken(descriptor, folder):
    for field in descriptor["resources"][0]["schema"]["fields"]:
        field.pop("constraints", None)


def _drop_column(descriptor, folder):
    frame = pd.read_csv(folder / "mped.csv").drop(columns=["debye_temperature"])
    frame.to_csv(folder / "mped.csv", index=False)
    resource = descriptor["resources"][0]
    resource.pop("hash"), resource.pop("bytes")
    resource["schema"]["fields"] = [
        f for f in resource["schema"]["fields"] if f["name"] != "debye_temperature"
    ]


def _retype(column: str, arrow_type: pa.DataType):
    def change(descriptor, folder):
        table = pq.read_table(folder / "mped.parquet")
        i = table.column_names.index(column)
        table = table.set_column(i, column, table.column(column).cast(arrow_type))
        pq.write_table(table, folder / "mped.parquet")
        for resource in descriptor["resources"]:
            if resource["name"] == "mped-parquet":
                resource.pop("hash")

    return change


def _format(value: str):
    def change(descriptor, folder):
        descriptor["resources"][0]["format"] = value

    return change


def _empty_table(descriptor, folder):
    frame = pd.read_csv(folder / "mped.csv").iloc[:0]
    frame.to_csv(folder / "mped.csv", index=False)
    resource = descriptor["resources"][0]
    resource.pop("hash"), resource.pop("bytes"), resource.pop("rows")


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (_weaken, "contract.schema"),
        (_drop_column, "schema.missing_column"),
        (_retype("k_vrh", pa.string()), "contract.stored_type"),
        (_retype("nsites", pa.float64()), "contract.stored_type"),
        (_format("CSV"), "contract.format"),
        (_format("xlsx"), "contract.format"),
        (lambda d, f: d.update(resources=[]), "package.no_resources"),
        (_empty_table, "contract.empty_table"),
    ],
    ids=["weakened", "dropped", "k-as-text", "nsites-float", "CSV", "xlsx", "no-res", "empty"],
)
def test_a_release_is_judged_against_the_project_contract(released, tmp_path, change, check):
    package = tampered_package(released / "releases" / VERSION, tmp_path / "pkg", change)
    report = tmp_path / "report.json"
    result = invoke("validate", package, "--json", report)
    assert result.exit_code == 1, result.output
    assert "INVALID" in result.output
    findings = json.loads(report.read_text())["findings"]
    assert check in {f["check"] for f in findings}


def test_a_bare_table_with_schema_is_held_to_the_contract(released, tmp_path):
    table = pq.read_table(released / "releases" / VERSION / "mped.parquet")
    table = table.set_column(
        table.column_names.index("k_vrh"), "k_vrh", table.column("k_vrh").cast(pa.string())
    )
    pq.write_table(table, tmp_path / "t.parquet")
    assert invoke("validate", tmp_path / "t.parquet").exit_code == 0  # core checks: numbers read
    result = invoke("validate", tmp_path / "t.parquet", "--schema", "mped")
    assert result.exit_code == 1 and "contract.stored_type" in result.output


# ------------------------------------------------------------ 7. summaries before predictions
@pytest.mark.parametrize(
    ("summary", "words"),
    [
        ("material_id,formula\nmp-1,NaCl\n", ["no band gap column"]),
        ('material_id,band_gap\nmp-1,"1,5"\n', ["line 2", "band_gap", "'1,5'"]),
        ("material_id,band_gap\nmp-1,large\n", ["line 2", "'large'"]),
        (
            "material_id,band_gap,crystal_system\nmp-1,1.0,\nmp-2,1.2,\n",
            ["crystal_system", "empty"],
        ),
        ("material_id,band_gap,spacegroup_number\nmp-1,1.0,Fm-3m\n", ["'Fm-3m'"]),
        ("material_id,band_gap,spacegroup_number\nmp-1,1.0,225.5\n", ["'225.5'"]),
        ("material_id,band_gap,crystal_system\nmp-1,1.0,cubicc\n", ["'cubicc'"]),
    ],
    ids=["no-gap", "comma", "text", "empty-system", "symbol", "fraction", "unknown-system"],
)
def test_a_bad_summary_stops_the_build_before_any_model_runs(
    tmp_path, model, monkeypatch, summary, words
):
    import elastic_atlas.pipeline.run as build_module

    def never(*args, **kwargs):
        raise AssertionError("models were loaded before the summary was checked")

    monkeypatch.setattr(build_module, "load_models", never)
    good_folder(tmp_path)
    (tmp_path / "summary.csv").write_text(summary)
    extra = '[summary]\npath = "summary.csv"\nlayout = "mp"\n'
    path = recipe(tmp_path, model, "cifs", extra=extra, policy="exclude")
    assert_usage_error(build(path, tmp_path / "out"), *words)


def test_summary_symmetry_is_cross_checked_against_the_structure(tmp_path, model):
    good_folder(tmp_path)
    (tmp_path / "summary.csv").write_text(
        "material_id,band_gap,crystal_system,spacegroup_number\n"
        "mp-1,2.0,cubic,225\nmp-2,1.1,hexagonal,194\n"  # mp-2 is diamond (227), not 194
    )
    extra = '[summary]\npath = "summary.csv"\nlayout = "mp"\nsymmetry_check_every = 1\n'
    result = build(recipe(tmp_path, model, "cifs", extra=extra, policy="exclude"), tmp_path / "o")
    assert result.exit_code == 0, result.output
    check = json.loads((tmp_path / "o" / "summary.json").read_text())["symmetry_check"]
    assert check == {"checked": 2, "disagree": 1, "examples": ["mp-2"]}
    assert "symmetry" in result.output and "mp-2" in result.output


# ------------------------------------------------------------ 8. files are never clobbered
def test_predict_never_overwrites_its_input_and_writes_atomically(tmp_path, model, monkeypatch):
    source = tmp_path / "one.cif"
    source.write_text(cif_text(rock_salt()))
    before = source.read_bytes()
    assert_usage_error(invoke("predict", "--checkpoint", model, source, "-o", source), "input")
    assert source.read_bytes() == before

    import elastic_atlas.pipeline.driver as driver

    def interrupted(*args, **kwargs):
        yield from ()
        raise KeyboardInterrupt

    monkeypatch.setattr(driver, "predict_stream", interrupted)
    out = tmp_path / "out" / "p.csv"
    invoke("predict", "--checkpoint", model, source, "-o", out, "--workers", "0", "--quiet")
    assert list((tmp_path / "out").iterdir()) == []  # nothing complete-looking, no leftovers


def test_build_refuses_to_write_into_a_release(released, tmp_path, model):
    recipe_path = recipe(tmp_path, model, good_folder(tmp_path).name)
    inside = released / "releases" / VERSION / "figures"
    assert_usage_error(build(recipe_path, inside), "release")


@pytest.mark.slow
def test_a_custom_releases_folder_leaves_its_parent_alone(tmp_path, model):
    parent = tmp_path / "X"
    parent.mkdir()
    (parent / "datapackage.json").write_text('{"mine": true}')
    (parent / "r").mkdir()
    killed = parent / "r" / f".{VERSION}.building-999999999"
    killed.mkdir()
    (killed / "half.csv").write_text("a\n")
    result = invoke("release", "--releases", parent / "r", "--quiet", "--workers", "0")
    assert result.exit_code == 0, result.output
    assert (parent / "datapackage.json").read_text() == '{"mine": true}'
    assert sorted(p.name for p in parent.iterdir()) == ["datapackage.json", "r"]
    assert not killed.exists()  # the killed run's scratch folder was removed
    assert (parent / "r" / "datapackage.json").is_file()


def test_unwritable_outputs_and_a_bad_source_date_epoch_are_usage_errors(tmp_path, model):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    recipe_path = recipe(tmp_path, model, good_folder(tmp_path).name)
    assert_usage_error(build(recipe_path, blocker / "out"), str(blocker))
    result = invoke("release", "--releases", blocker / "r", "--quiet", "--workers", "0")
    assert_usage_error(result, str(blocker))
    for bad in ("yesterday", "-5", "1e99"):
        result = invoke(
            "release",
            "--releases",
            tmp_path / "r",
            "--quiet",
            "--workers",
            "0",
            env={"SOURCE_DATE_EPOCH": bad},
        )
        assert_usage_error(result, "SOURCE_DATE_EPOCH")
    if os.geteuid() != 0:  # root writes through permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        assert_usage_error(build(recipe_path, locked / "out"), "locked")


# ------------------------------------------------------------ 10. licences by rule
def test_licences_combine_by_explicit_order_not_by_name():
    assert table_licence(["CC0-1.0", "CC-BY-4.0"]) == "CC-BY-4.0"  # sorted() would say CC0
    assert table_licence(["CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-4.0"]) == "CC-BY-NC-4.0"
    for bad in (["CC-BY-SA-4.0", "CC-BY-NC-4.0"], ["GPL-3.0"], []):
        with pytest.raises(LicenceError):
            table_licence(bad)


def test_a_table_from_mixed_sources_carries_the_most_restrictive_licence(tmp_path, model):
    good_folder(tmp_path)
    stored_zip(tmp_path / "nc.zip", {"mp-3.cif": cif_text(diamond())})
    second = '[[structures]]\npath = "nc.zip"\nsource = "nc"\nlicence = "CC-BY-NC-4.0"\n'
    path = recipe(tmp_path, model, "cifs", extra=second)
    result = build(path, tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["licence"] == "CC-BY-NC-4.0"
    path.write_text(path.read_text().replace("CC-BY-NC-4.0", "GPL-3.0"))
    assert_usage_error(build(path, tmp_path / "p"), "GPL-3.0")


def test_rejects_are_one_resource_per_table_with_its_licence(released):
    descriptor = json.loads((released / "releases" / VERSION / "datapackage.json").read_text())
    rejects = [r for r in descriptor["resources"] if r["name"].endswith("-rejects")]
    assert [r["name"] for r in rejects] == ["mped-rejects"]
    table = next(r for r in descriptor["resources"] if r["name"] == "mped-csv")
    assert rejects[0]["licenses"] == table["licenses"]


# ------------------------------------------------------------ configs name the bad key
@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda t: t.replace('gap_policy = "include"', "band_gap_mx = 1.0"), ["band_gap_mx"]),
        (lambda t: t.replace("[models]", "[model]"), ["model"]),
        (lambda t: t.replace('gap_policy = "include"', "gap_policy = 3"), ["gap_policy"]),
        (lambda t: t + "\n[[[", ["TOML"]),
    ],
    ids=["typo", "section", "type", "syntax"],
)
def test_a_recipe_with_an_unknown_key_or_wrong_type_is_refused(tmp_path, model, edit, words):
    path = recipe(tmp_path, model, good_folder(tmp_path).name)
    path.write_text(edit(path.read_text()))
    assert_usage_error(build(path, tmp_path / "o"), "recipe.toml", *words)
