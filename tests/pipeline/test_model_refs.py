"""A shard carries its checkpoints by reference: small to send, loaded once per process on that
process's device, and refused when a file changed since the build started."""

from __future__ import annotations

import pickle
import shutil

import pyarrow as pa
import pytest

from elastic_atlas.inputs.recipe import default_checkpoint, load_recipe
from elastic_atlas.model.checkpoint import CheckpointError
from elastic_atlas.paths import repo_root
from elastic_atlas.pipeline.candidates import candidates, load_models, recipe_summary
from elastic_atlas.pipeline.model_refs import checkpoints_of, forget_loaded, model_ref
from elastic_atlas.pipeline.records import Accounting
from elastic_atlas.pipeline.shards import ShardSpec, process_shard


def test_a_shard_spec_is_small_and_a_fresh_process_gets_the_same_rows():
    recipe = load_recipe(repo_root() / "build" / "sample.toml")
    raws = list(candidates(recipe, Accounting(), recipe_summary(recipe)))[:16]
    models = load_models(recipe)
    spec = ShardSpec(recipe.table, model_ref(recipe.models, models), recipe.screen, 1)
    here = process_shard(raws, spec).rows
    sent = pickle.dumps(spec)
    assert len(sent) < 4_000  # the checkpoints' modules alone pickle to about 1 MB
    forget_loaded()  # as a worker process that has loaded nothing yet
    there = pickle.loads(sent)
    assert there.checkpoints is not models  # loaded again, from the files
    assert there.checkpoints is there.checkpoints  # once per process
    assert process_shard(raws, there).rows.equals(here)
    assert isinstance(here, pa.Table) and here.num_rows > 0


@pytest.mark.parametrize("changed", ["member-0.safetensors", "model.json"])
def test_a_checkpoint_changed_after_the_build_started_is_refused(tmp_path, changed):
    folder = tmp_path / "model"
    shutil.copytree(default_checkpoint(), folder)
    recipe = load_recipe(repo_root() / "build" / "sample.toml")
    models = recipe.models.model_copy(update={"checkpoint": folder})
    ref = model_ref(models)
    forget_loaded()
    with (folder / changed).open("ab") as handle:
        handle.write(b" ")
    with pytest.raises(CheckpointError, match=f"{changed} changed or vanished"):
        checkpoints_of(ref)
