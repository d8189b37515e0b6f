"""Training on a tiny Matbench-layout dataset: checkpoints, resume, cache, freeze."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from elastic_atlas.model.checkpoint import load_checkpoint
from elastic_atlas.training.freeze import freeze_runs
from elastic_atlas.training.matbench import load_dataset, load_fold
from elastic_atlas.training.train import TrainConfig, TrainingError, train_run

SMALL = {"atom_feature_length": 91, "atom_fea_len": 8, "n_conv": 1, "h_fea_len": 8}


@pytest.fixture
def matbench(tmp_path):
    ids, rows = [], []
    for i in range(24):
        a = 4.0 + 0.05 * i
        structure = Structure(Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
        ids.append(f"mb-log-kvrh-{i:05d}")
        rows.append([structure.as_dict(), 2.0 - 0.1 * a])
    dataset = tmp_path / "data.json.gz"
    with gzip.open(dataset, "wt") as handle:
        json.dump({"index": ids, "columns": ["structure", "log10(K_VRH)"], "data": rows}, handle)
    folds = tmp_path / "folds.json.gz"
    with gzip.open(folds, "wt") as handle:
        json.dump(
            {"splits": {"matbench_log_kvrh": {"fold_0": {"train": ids[:18], "test": ids[18:]}}}},
            handle,
        )
    return dataset, folds


def config(tmp_path, dataset, folds, epochs):
    return TrainConfig(
        target="log10_k_vrh",
        dataset=dataset,
        folds=folds,
        max_epochs=epochs,
        batch_size=8,
        architecture=SMALL,
        cache=tmp_path / "cache",
        validation_fraction=0.2,
    )


def test_loader_reads_matbench_layout(matbench):
    dataset, folds = matbench
    data = load_dataset(dataset)
    assert len(data) == 24 and isinstance(data["mb-log-kvrh-00000"][0], dict)
    train, test = load_fold(folds, "matbench_log_kvrh", 0)
    assert len(train) == 18 and len(test) == 6


def test_training_checkpoints_every_epoch_and_resumes(tmp_path, matbench):
    dataset, folds = matbench
    run = tmp_path / "run"
    train_run(config(tmp_path, dataset, folds, 2), run, quiet=True)
    log = pd.read_csv(run / "log.csv")
    assert log.epoch.tolist() == [1, 2]
    assert {"last.pt", "best.safetensors", "best.json", "split.json"} <= {
        p.name for p in run.iterdir()
    }
    assert len(list((tmp_path / "cache").glob("graphs-*.npz"))) == 1
    train_run(config(tmp_path, dataset, folds, 4), run, quiet=True)  # "interrupted" at 2
    log = pd.read_csv(run / "log.csv")
    assert log.epoch.tolist() == [1, 2, 3, 4]
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) + len(split["validation"]) == 18 and len(split["test"]) == 6
    assert not set(split["test"]) & set(split["train"] + split["validation"])


def test_a_run_with_another_configuration_is_refused(tmp_path, matbench):
    dataset, folds = matbench
    run = tmp_path / "run"
    train_run(config(tmp_path, dataset, folds, 1), run, quiet=True)
    other = config(tmp_path, dataset, folds, 1).model_copy(update={"seed": 5})
    with pytest.raises(TrainingError, match="another configuration"):
        train_run(other, run, quiet=True)


def test_freeze_makes_a_loadable_ensemble_with_metrics(tmp_path, matbench):
    dataset, folds = matbench
    runs = []
    for seed in (0, 1):
        run = tmp_path / f"run{seed}"
        cfg = config(tmp_path, dataset, folds, 2).model_copy(update={"seed": seed})
        train_run(cfg, run, quiet=True)
        runs.append(run)
    metrics = freeze_runs(runs, tmp_path / "model")
    assert set(metrics) >= {"train", "validation", "test"} and metrics["test"]["n"] == 6
    checkpoint = load_checkpoint(tmp_path / "model")
    assert len(checkpoint.members) == 2 and checkpoint.target_names == ["log10_k_vrh"]
    card = json.loads((tmp_path / "model" / "model.json").read_text())
    assert card["training"]["split_sizes"]["test"] == 6
    layout = card["atom_features"]["layout"]
    assert sum(block["length"] for block in layout) == checkpoint.features.length == 91
    assert (tmp_path / "model" / "README.md").exists()
    assert (tmp_path / "model" / "parity.png").exists()


def test_the_graph_cache_is_plain_arrays_that_read_back_exactly(tmp_path):
    import numpy as np
    from structures import diamond, rock_salt

    from elastic_atlas.model.graph import build_graph
    from elastic_atlas.training.train import read_graph_cache, write_graph_cache

    store = {"a": build_graph(rock_salt()), "b": build_graph(diamond())}
    path = tmp_path / "graphs.npz"
    write_graph_cache(path, store)
    with np.load(path, allow_pickle=False) as data:  # no object arrays: nothing to unpickle
        assert all(data[name].dtype != object for name in data.files)
    back = read_graph_cache(path)
    assert sorted(back) == ["a", "b"]
    for key, graph in store.items():
        np.testing.assert_array_equal(back[key].atomic_numbers, graph.atomic_numbers)
        np.testing.assert_array_equal(back[key].neighbor_index, graph.neighbor_index)
        np.testing.assert_array_equal(back[key].neighbor_distance, graph.neighbor_distance)
        assert back[key].padded_atoms == graph.padded_atoms
    path.write_bytes(b"not a zip")
    assert read_graph_cache(path) == {}  # a damaged cache is rebuilt, never trusted
