"""An input that kills its Dask worker (issue 23): found by halving its shard, rejected as a
structure error, and the run goes on. Its own module, so that no other test's cluster shares the
cores while workers die and restart."""

from __future__ import annotations

import json

import pytest
from checkpoint_factory import make_own
from structures import cif_text, diamond, rock_salt

from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.pipeline.run import RunOptions, build_table

distributed = pytest.importorskip(
    "distributed", reason="the dask engine needs elastic-atlas[scale]"
)


def options(scheduler):
    return RunOptions(workers=0, batch_size=1, quiet=True, engine="dask", scheduler=scheduler,
                      shard_inputs=4)  # fmt: skip


def test_an_input_that_kills_its_worker_is_isolated_and_rejected_and_the_run_goes_on(tmp_path):
    """The worker dies on one input (SIGKILL, a test preload): the shard is halved until that
    input is found, rejected as a structure error, and the shard runs again without it."""
    import dask

    make_own(tmp_path / "model", members=1)
    folder = tmp_path / "cifs"
    folder.mkdir()
    for i in range(6):
        (folder / f"mp-{i}.cif").write_text(cif_text(rock_salt(5.0 + i / 10)))
    (folder / "poison-1.cif").write_text(cif_text(diamond()))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('table = "mped"\n[[structures]]\npath = "cifs"\nsource = "f"\n'
                      'licence = "CC-BY-4.0"\n[screen]\ngap_policy = "include"\n'
                      '[models]\ncheckpoint = "model"\n')  # fmt: skip
    config = {"distributed.worker.preload": ["poison"], "distributed.scheduler.allowed-failures": 0}
    with (
        dask.config.set(config),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
    ):
        result = build_table(load_recipe(recipe), tmp_path / "out",
                             options(cluster.scheduler_address))  # fmt: skip
    assert list(result.frame.material_id) == [f"mp-{i}" for i in range(6)]
    rejects = (tmp_path / "out" / "rejects.csv").read_text().splitlines()
    assert len(rejects) == 2 and rejects[1].startswith("mped,poison-1,f,structure,structure_error")
    assert "the worker died on this input" in rejects[1]
    manifests = [
        json.loads(p.read_text()) for p in (tmp_path / "out").glob("parts/*/manifest.json")
    ]
    assert sorted(m["killers"] for m in manifests) == [[], [6]]  # its ordinal: after mp-0..5
