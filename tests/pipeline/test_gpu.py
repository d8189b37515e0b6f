"""A table made on a GPU agrees with the one made on CPUs to float32 rounding, not to the byte
(issue 23: PyTorch's deterministic algorithms on the GPU; docs/SCALE.md, a GPU worker). Runs
only where CUDA is present; on a machine without a GPU it is skipped, saying so."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.paths import repo_root
from elastic_atlas.pipeline import candidates
from elastic_atlas.pipeline.model_refs import forget_loaded
from elastic_atlas.pipeline.run import RunOptions, build_table

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA GPU: the GPU table is compared with the CPU one (1e-5 relative)",
)
PREDICTED = [
    "k_vrh",
    "g_vrh",
    "v_longitudinal",
    "v_transverse",
    "v_mean",
    "poisson_ratio",
    "debye_temperature",
]


def build(device: str, out, monkeypatch) -> pd.DataFrame:
    monkeypatch.setattr(candidates, "default_device", lambda: torch.device(device))
    forget_loaded()  # this process's checkpoints were loaded on the other device
    options = RunOptions(workers=0, quiet=True, engine="local")
    build_table(load_recipe(repo_root() / "build" / "sample.toml"), out, options)
    return pd.read_parquet(out / "mped.parquet").set_index("material_id")


def test_the_sample_built_on_a_gpu_agrees_with_the_cpu_table(tmp_path, monkeypatch):
    cpu = build("cpu", tmp_path / "cpu", monkeypatch)
    gpu = build("cuda", tmp_path / "gpu", monkeypatch)
    assert list(gpu.index) == list(cpu.index)  # the same rows: screening has no numerics
    for column in PREDICTED:
        relative = ((gpu[column] - cpu[column]).abs() / cpu[column].abs()).max()
        assert relative <= 1e-5, (column, relative)
