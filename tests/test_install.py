"""The package as a reviewer gets it: a wheel installed into a fresh virtual environment outside
the repository, run from a temporary folder.

The venv reuses the project's installed dependencies (a .pth line naming the project venv's
site-packages) and gets only the wheel itself (`pip install --no-deps`), so the test is quick
and needs no network. Nothing of the clone is reachable from the temporary folder.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from elastic_atlas.inputs.recipe import DEFAULT_MODEL
from elastic_atlas.paths import repo_root
from elastic_atlas.validation.report import PAPER_COLUMNS

pytestmark = pytest.mark.slow  # every test of this module takes seconds

REPO = repo_root()
PACKAGED = {  # path inside the wheel's elastic_atlas/_data -> the repository's source of truth
    "schema": "schema",
    "validate": "validate",
    "models": "models",
    "build/sample": "build/sample",
    "CITATION.cff": "CITATION.cff",
    **{f"build/{n}": f"build/{n}" for n in ("sample.toml", "release-sample.toml", "mped.toml")},
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(REPO)],
        check=True, capture_output=True,
    )  # fmt: skip
    (path,) = out.glob("elastic_atlas-*.whl")
    return path


def test_the_wheel_carries_exact_copies_of_the_repository_folders(wheel):
    with zipfile.ZipFile(wheel) as archive:
        packaged = {
            name.removeprefix("elastic_atlas/_data/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith("elastic_atlas/_data/")
        }
    expected = {}
    for inside, source in PACKAGED.items():
        folder = REPO / source
        files = sorted(folder.rglob("*")) if folder.is_dir() else [folder]
        for file in files:
            if file.is_file():
                expected[inside + file.as_posix().removeprefix(folder.as_posix())] = file
    for name, file in expected.items():
        assert packaged.get(name) == file.read_bytes(), f"packaged {name} differs from {file}"
    assert f"models/{DEFAULT_MODEL}/model.json" in packaged
    assert f"models/{DEFAULT_MODEL}/training-ids.csv" in packaged  # in_training needs it


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the wheel, with the project's dependencies reachable."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    purelib = next((venv / "lib").glob("python3*/site-packages"))
    (purelib / "project-dependencies.pth").write_text(
        "\n".join(p for p in site.getsitepackages() if "site-packages" in p) + "\n"
    )
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    return venv / "bin"


def atlas(bin_dir: Path, cwd: Path, *args: object) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC_ATLAS", "PYTHON"))}
    env["ELASTIC_ATLAS_CACHE"] = str(cwd / "cache")
    return subprocess.run(
        [str(bin_dir / "elastic-atlas"), *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_installed_package_runs_every_command_from_any_folder(installed, tmp_path):
    run = lambda *args: atlas(installed, tmp_path, *args)  # noqa: E731
    where = ok(atlas(installed, tmp_path, "--version"))
    assert "elastic-atlas" in where
    found = subprocess.run(
        [str(installed / "python"), "-c", "import elastic_atlas; print(elastic_atlas.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert not Path(found.strip()).is_relative_to(REPO), "imported the clone, not the wheel"
    assert "in step" in ok(run("schema"))
    assert run("schema", "--write").returncode == 2  # never rewrites the installed copies
    ok(run("sample", "-o", "sample"))
    assert len(list((tmp_path / "sample" / "structures").glob("*.cif"))) == 40
    # predict: the packaged default checkpoints, then one given by path
    ok(run("predict", "sample/structures", "-o", "k-and-g.csv", "--workers", "0", "--quiet"))
    table = pd.read_csv(tmp_path / "k-and-g.csv")
    assert {"log10_k_vrh", "log10_g_vrh"} <= set(table.columns) and len(table) == 40
    model = REPO / "models" / DEFAULT_MODEL
    ok(run("predict", "--checkpoint", model, "sample/structures", "-o", "k.csv", "--workers", 0))
    # build RECIPE: paths relative to the recipe file, models from the package by default
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "recipe.toml").write_text(
        'table = "mped"\n[[structures]]\npath = "../sample/structures"\nsource = "sample"\n'
        'licence = "CC-BY-4.0"\n[summary]\npath = "../sample/summary.csv"\n'
    )
    ok(run("build", "work/recipe.toml", "-o", "built", "--workers", "0", "--quiet"))
    ok(run("validate", "built/mped.parquet", "--schema", "mped", "--strict"))
    paper = pd.read_csv(tmp_path / "built" / "mped.csv")
    paper = paper.rename(columns={v: k for k, v in PAPER_COLUMNS.items() if k.isascii()})
    paper.to_csv(tmp_path / "paper.csv", index=False)
    ok(run("validate", "paper.csv", "--columns", "paper"))
    # release --config FILE: recipes relative to the config, releases/ in the current folder
    (tmp_path / "work" / "release.toml").write_text(
        'name = "elastic-atlas-check"\ntitle = "Installed check"\ndescription = "d"\n'
        'keywords = ["test"]\n[[creators]]\nname = "test"\n[tables]\nmped = "recipe.toml"\n'
    )
    released = ok(run("release", "--config", "work/release.toml", "--version", "0.0.1-rc1",
                      "--quiet", "--workers", 0))  # fmt: skip
    assert "mped: " in released and " rows of " in released  # the per-table summary
    package = tmp_path / "releases" / "0.0.1-rc1" / "datapackage.json"
    assert "VALID" in ok(run("validate", package))
    assert not (tmp_path / "datapackage.json").exists()  # a clone's root descriptor only
    assert not list(tmp_path.glob("build"))  # no cache or scratch in the current folder
