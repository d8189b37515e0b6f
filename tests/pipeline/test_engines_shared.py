"""Both engines on 2,000 real Materials Project inputs (../shared/data): the same bytes with one
shard per worker and with eight; a client killed with SIGKILL half-way resumes to the same
bytes, recomputing only the shards it had not finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.pipeline.run import RunOptions, build_table

distributed = pytest.importorskip(
    "distributed", reason="the dask engine needs elastic-atlas[scale]"
)
pytestmark = pytest.mark.slow

INPUTS = 2_000
OUTPUTS = ("mped.csv", "mped.parquet", "mped-structures.parquet", "rejects.csv")
MODEL = Path(__file__).parents[2] / "models" / "cgcnn3x64-matbench-2026-12-02-kg-loco"


@pytest.fixture(scope="module")
def mp_recipe(shared, tmp_path_factory) -> Path:
    """The first 2,000 members of the MP 2018 archive, their summary rows and the MP DFT table."""
    root = tmp_path_factory.mktemp("mp2000")
    data = shared / "mp2018"
    with (
        zipfile.ZipFile(data / "structures.zip") as source,
        zipfile.ZipFile(root / "structures.zip", "w", zipfile.ZIP_DEFLATED) as subset,
    ):
        names = sorted(source.namelist())[:INPUTS]
        for name in names:
            subset.writestr(name, source.read(name))
    summary = pd.read_csv(data / "summary.csv", dtype=str, keep_default_na=False)
    ids = {Path(n).stem for n in names}
    summary[summary.material_id.isin(ids)].to_csv(root / "summary.csv", index=False)
    dft = shared / "mp_elastic" / "mp2023_elastic" / "elastic.csv"
    (root / "recipe.toml").write_text(
        f'table = "mped"\n[[structures]]\npath = "structures.zip"\nsource = "MP"\n'
        f'licence = "CC-BY-4.0"\n[summary]\npath = "summary.csv"\nlayout = "mp"\n'
        f'[models]\ncheckpoint = "{MODEL}"\n[dft]\npath = "{dft}"\nsource = "MP DFT"\n'
    )
    return root / "recipe.toml"


def files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def local_build(mp_recipe, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    options = RunOptions(workers=2, batch_size=32, quiet=True, shard_inputs=128)
    build_table(load_recipe(mp_recipe), out, options)
    return out


@pytest.mark.parametrize("shard", [128, 1024])  # 8 shards per worker, and 1
def test_both_engines_write_the_same_bytes_on_real_inputs(mp_recipe, local_build, tmp_path, shard):
    options = RunOptions(workers=2, batch_size=32, quiet=True, engine="dask", shard_inputs=shard)
    result = build_table(load_recipe(mp_recipe), tmp_path / "dask", options)
    assert files(tmp_path / "dask") == files(local_build)
    assert result.book.inputs == INPUTS and result.book.accepted > 300
    assert result.statistics.shards["shards"] == -(-INPUTS // shard)


def test_a_client_killed_half_way_resumes_to_the_same_bytes(mp_recipe, local_build, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "elastic_atlas", "build", str(mp_recipe), "-o", str(out),
               "--quiet", "--engine", "dask", "--shard-size", "256"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list(out.glob("parts/s*/manifest.json"))) < 4 and time.monotonic() < deadline:
        assert process.poll() is None, "the build ended before it could be killed"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the client, its cluster and its workers
    process.wait()
    finished = len(list(out.glob("parts/s*/manifest.json")))
    assert 4 <= finished < 8
    subprocess.run(command, check=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shards"]["reused"] == finished and summary["shards"]["shards"] == 8
    # another shard size (256, not 128) cuts other shards, never other batches: same bytes
    assert files(out) == files(local_build)
