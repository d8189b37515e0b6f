"""Checkpoints copied into a release: two inputs never share a name, links are refused."""

from __future__ import annotations

import pytest
from checkpoint_factory import make_own

from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.inputs.sources import SourceError
from elastic_atlas.release.checkpoint_files import copy_models, model_resources

RECIPE = """table = "mped"
[[structures]]
path = "cifs"
source = "s"
licence = "CC-BY-4.0"
[models]
{models}
"""


def recipe(tmp_path, models: str):
    (tmp_path / "recipe.toml").write_text(RECIPE.format(models=models))
    return {"mped": load_recipe(tmp_path / "recipe.toml")}


def test_two_checkpoints_of_one_name_both_survive(tmp_path):
    for role in ("bulk", "shear"):  # the reference trainer's default file name, twice
        (tmp_path / role).mkdir()
        (tmp_path / role / "model_best.pth.tar").write_bytes(role.encode() * 10)
    (tmp_path / "atom_init.json").write_text("{}")
    recipes = recipe(
        tmp_path,
        'bulk = "bulk/model_best.pth.tar"\nshear = "shear/model_best.pth.tar"\n'
        'atom_init = "atom_init.json"',
    )
    out = tmp_path / "release"
    files, folders = copy_models(recipes, out)
    assert len(files) == 3 and len(set(folders.values())) == 3
    contents = sorted(p.read_bytes() for p in files if p.name == "model_best.pth.tar")
    assert contents == [b"bulk" * 10, b"shear" * 10]
    names = [r["name"] for r in model_resources(files, out)]
    assert len(names) == len(set(names)) == 3


def test_a_symbolic_link_in_a_checkpoint_folder_is_refused(tmp_path):
    make_own(tmp_path / "model", members=1)
    outside = tmp_path / "secret.md"
    outside.write_text("not part of any checkpoint")
    (tmp_path / "model" / "NOTES.md").symlink_to(outside)
    recipes = recipe(tmp_path, 'checkpoint = "model"')
    with pytest.raises(SourceError, match="symbolic link"):
        copy_models(recipes, tmp_path / "release")
    assert not list((tmp_path / "release").rglob("NOTES.md"))


def test_two_paths_to_the_same_files_make_one_copy(tmp_path):
    for role in ("bulk", "shear"):
        (tmp_path / role).mkdir()
        (tmp_path / role / "model_best.pth.tar").write_bytes(b"same weights")
    (tmp_path / "atom_init.json").write_text("{}")
    recipes = recipe(
        tmp_path,
        'bulk = "bulk/model_best.pth.tar"\nshear = "shear/model_best.pth.tar"\n'
        'atom_init = "atom_init.json"',
    )
    files, folders = copy_models(recipes, tmp_path / "release")
    assert len(set(folders.values())) == 2  # one folder for the weights, one for atom_init
    assert sorted(p.name for p in files) == ["atom_init.json", "model_best.pth.tar"]
