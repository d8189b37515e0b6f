"""Outputs never destroy anything: links, FIFOs, inputs and published release files are refused
as output paths, before any work; `-o -` writes to standard output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import default_checkpoint
from elastic_atlas.paths import repo_root

CIF = repo_root() / "build" / "sample" / "structures" / "mp-149.cif"


def predict(*args: object) -> object:
    return CliRunner().invoke(main, ["predict", *map(str, args), "--workers", "0", "--quiet"])


def test_a_fifo_is_not_written_into(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    result = predict(CIF, "-o", fifo)
    assert result.exit_code == 2 and "not a regular file" in result.output
    assert fifo.is_fifo()


def test_a_symbolic_link_is_not_replaced_or_followed(tmp_path):
    target = tmp_path / "precious.csv"
    target.write_text("keep me\n")
    link = tmp_path / "out.csv"
    link.symlink_to(target)
    result = predict(CIF, "-o", link)
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert link.is_symlink() and target.read_text() == "keep me\n"


@pytest.mark.parametrize(
    "name", ["model.json", "member-0.safetensors", "atom_features.safetensors"]
)
def test_an_input_of_the_run_is_never_an_output(tmp_path, name):
    model = tmp_path / "model"
    shutil.copytree(default_checkpoint(), model)
    before = {p.name: file_digest(p) for p in model.iterdir()}
    result = predict("--checkpoint", model, CIF, "-o", model / name)
    assert result.exit_code == 2 and "is an input of this run" in result.output
    assert {p.name: file_digest(p) for p in model.iterdir()} == before
    source = tmp_path / "cifs"
    source.mkdir()
    shutil.copy(CIF, source / "mp-149.cif")
    result = predict(source, "-o", source / "mp-149.cif")
    assert result.exit_code == 2 and (source / "mp-149.cif").read_bytes() == CIF.read_bytes()


def test_no_file_of_a_published_release_is_written_over(released, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(released, root)
    version = root / "releases" / "0.1.0+sample"
    before = file_digest(version / "mped.csv")
    result = predict(CIF, "-o", version / "mped.csv")
    assert result.exit_code == 2 and "inside the release" in result.output
    assert file_digest(version / "mped.csv") == before
    # --releases inside an existing version would rewrite its datapackage.json
    descriptor = file_digest(version / "datapackage.json")
    result = CliRunner().invoke(
        main, ["release", "--releases", str(version), "--quiet", "--workers", "0"]
    )
    assert result.exit_code == 2 and "inside the release" in result.output
    assert file_digest(version / "datapackage.json") == descriptor
    assert not (version / "0.1.0+sample").exists()


def test_build_refuses_links_in_its_output_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (out / "summary.json").symlink_to(target)
    result = CliRunner().invoke(main, ["build", "-o", str(out), "--workers", "0", "--quiet"])
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert target.read_text() == "keep me\n" and not (out / "mped.csv").exists()


@pytest.mark.slow
def test_dash_writes_the_predictions_to_standard_output(tmp_path):
    command = [sys.executable, "-m", "elastic_atlas.cli", "predict", str(CIF), "-o", "-"]
    done = subprocess.run(
        [*command, "--workers", "0", "--quiet"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("material_id,log10_k_vrh,log10_g_vrh") and len(lines) == 2
    assert lines[1].startswith("mp-149,")
    assert "material_id,source,stage,reason,detail" in done.stderr  # the (empty) rejects
    assert not list(tmp_path.iterdir())  # no file named "-"


def test_a_linked_releases_descriptor_is_not_written_through(tmp_path):
    """The releases folder's datapackage.json and CHANGES.md are the command's own outputs;
    a link there would publish into whatever it points at."""
    releases = tmp_path / "releases"
    releases.mkdir()
    precious = tmp_path / "precious.json"
    precious.write_text("{}")
    (releases / "datapackage.json").symlink_to(precious)
    result = CliRunner().invoke(
        main, ["release", "--releases", str(releases), "--quiet", "--workers", "0"]
    )
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert precious.read_text() == "{}" and sorted(p.name for p in releases.iterdir()) == [
        "datapackage.json"
    ]


def test_a_second_build_into_a_folder_in_use_is_refused(tmp_path):
    from elastic_atlas.pipeline.outputs import LOCK_NAME, folder_lock

    out = tmp_path / "out"
    build = ["build", "-o", str(out), "--workers", "0", "--quiet"]
    with folder_lock(out):  # another run holds the folder (the kernel's lock, as a process)
        result = CliRunner().invoke(main, build)
        assert result.exit_code == 2 and "being written by another run" in result.output
        assert f"pid {os.getpid()}" in result.output and not (out / "mped.csv").exists()
    assert not (out / LOCK_NAME).exists()  # the holder leaves no file behind
    (out / LOCK_NAME).write_text("424242\n")  # left by a killed run: no lock is held on it
    result = CliRunner().invoke(main, build)
    assert result.exit_code == 0, result.output
    assert (out / "mped.csv").exists() and not (out / LOCK_NAME).exists()


def test_a_lock_that_is_a_link_is_not_followed(tmp_path):
    from elastic_atlas.pipeline.outputs import LOCK_NAME

    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (out / LOCK_NAME).symlink_to(target)
    result = CliRunner().invoke(main, ["build", "-o", str(out), "--workers", "0", "--quiet"])
    assert result.exit_code == 2 and "cannot hold the output folder" in result.output
    assert target.read_text() == "keep me\n"
