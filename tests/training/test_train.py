"""Training on a tiny Matbench-layout dataset: checkpoints, resume, cache, freeze."""

from __future__ import annotations

import gzip
import json
import shutil

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.training.freeze import freeze_runs
from elastic_atlas.training.matbench import load_dataset, load_fold, load_joint_dataset
from elastic_atlas.training.train import TrainConfig, TrainingError, train_run

SMALL = {"atom_feature_length": 91, "atom_fea_len": 8, "n_conv": 1, "h_fea_len": 8}


ENTRIES = 150  # 120 in the fold's training part: 24 validation entries to calibrate on


@pytest.fixture
def matbench(tmp_path):
    """Matbench's two elastic tasks in miniature: the same rows (structures) in both files,
    joined by row number, with one official-style fold."""
    ids = {task: [f"mb-log-{task}-{i:05d}" for i in range(ENTRIES)] for task in ("kvrh", "gvrh")}
    datasets = []
    for task, column, offset in (("kvrh", "log10(K_VRH)", 0.0), ("gvrh", "log10(G_VRH)", -0.3)):
        rows = []
        for i in range(ENTRIES):
            a = 4.0 + 0.01 * i
            structure = Structure(Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
            rows.append([structure.as_dict(), 2.0 - 0.1 * a + offset])
        path = tmp_path / f"{task}.json.gz"
        with gzip.open(path, "wt") as handle:
            json.dump({"index": ids[task], "columns": ["structure", column], "data": rows}, handle)
        datasets.append(path)
    folds = tmp_path / "folds.json.gz"
    splits = {
        f"matbench_log_{task}": {"fold_0": {"train": names[:120], "test": names[120:]}}
        for task, names in ids.items()
    }
    with gzip.open(folds, "wt") as handle:
        json.dump({"splits": splits}, handle)
    return datasets, folds


def config(tmp_path, datasets, folds, epochs, **changes):
    return TrainConfig(
        datasets=datasets,
        folds=folds,
        max_epochs=epochs,
        batch_size=16,
        architecture=SMALL,
        cache=tmp_path / "cache",
        validation_fraction=0.2,
        **changes,
    )


def test_loader_joins_the_two_tasks_by_row(matbench):
    datasets, folds = matbench
    data = load_dataset(datasets[0])
    assert len(data) == ENTRIES and isinstance(data["mb-log-kvrh-00000"][0], dict)
    joint = load_joint_dataset(datasets)
    structure, (k, g) = joint["mb-log-kvrh-00007"]
    assert k - g == pytest.approx(0.3) and structure == data["mb-log-kvrh-00007"][0]
    train, test = load_fold(folds, "matbench_log_kvrh", 0)
    assert len(train) == 120 and len(test) == 30


def test_tasks_that_disagree_on_a_structure_are_refused(tmp_path, matbench):
    datasets, _ = matbench
    with gzip.open(datasets[1], "rt") as handle:
        data = json.load(handle)
    data["data"][3][0] = data["data"][4][0]  # row 3 of G now holds another crystal
    other = tmp_path / "other.json.gz"
    with gzip.open(other, "wt") as handle:
        json.dump(data, handle)
    with pytest.raises(ValueError, match="row 00003"):
        load_joint_dataset([datasets[0], other])


def test_training_checkpoints_every_epoch_and_resumes(tmp_path, matbench):
    datasets, folds = matbench
    run = tmp_path / "run"
    train_run(config(tmp_path, datasets, folds, 2), run, quiet=True)
    log = pd.read_csv(run / "log.csv")
    assert log.epoch.tolist() == [1, 2]
    # one network, both targets: the mean validation MAE is the mean of the two
    both = (log.val_mae_log10_k_vrh + log.val_mae_log10_g_vrh) / 2
    assert log.val_mae.to_numpy() == pytest.approx(both.to_numpy(), abs=2e-6)
    assert {"last.pt", "best.safetensors", "best.json", "split.json"} <= {
        p.name for p in run.iterdir()
    }
    assert len(list((tmp_path / "cache").glob("graphs-*.npz"))) == 1
    train_run(config(tmp_path, datasets, folds, 4), run, quiet=True)  # "interrupted" at 2
    log = pd.read_csv(run / "log.csv")
    assert log.epoch.tolist() == [1, 2, 3, 4]
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) + len(split["validation"]) == 120 and len(split["test"]) == 30
    assert not set(split["test"]) & set(split["train"] + split["validation"])


def test_a_run_with_another_configuration_is_refused(tmp_path, matbench):
    datasets, folds = matbench
    run = tmp_path / "run"
    train_run(config(tmp_path, datasets, folds, 1), run, quiet=True)
    other = config(tmp_path, datasets, folds, 1, seed=5)
    with pytest.raises(TrainingError, match="another configuration"):
        train_run(other, run, quiet=True)


def test_inner_folds_hold_out_disjoint_parts_of_the_fold_training_entries(tmp_path, matbench):
    datasets, folds = matbench
    fold_train, fold_test = load_fold(folds, "matbench_log_kvrh", 0)
    held_out = []
    for inner in range(5):
        run = tmp_path / f"inner{inner}"
        train_run(config(tmp_path, datasets, folds, 1, inner_fold=inner), run, quiet=True)
        split = json.loads((run / "split.json").read_text())
        assert len(split["test"]) == 24  # a fifth of the fold's 120 training entries
        assert not set(split["test"]) & set(fold_test)  # the fold's test stays unseen
        assert not set(split["test"]) & set(split["train"] + split["validation"])
        assert len(split["train"]) + len(split["validation"]) == 96
        held_out += split["test"]
    assert sorted(held_out) == sorted(fold_train)  # each training entry held out exactly once


def test_an_inner_fold_outside_the_parts_is_refused(tmp_path, matbench):
    datasets, folds = matbench
    with pytest.raises(ValueError, match="inner_fold must be below inner_folds"):
        config(tmp_path, datasets, folds, 1, inner_fold=5)


def test_a_run_from_before_inner_folds_resumes(tmp_path, matbench):
    datasets, folds = matbench
    run = tmp_path / "run"
    train_run(config(tmp_path, datasets, folds, 1), run, quiet=True)
    saved = json.loads((run / "config.json").read_text())
    for key in ("inner_fold", "inner_folds", "device"):  # keys the older runs lack
        del saved[key]
    (run / "config.json").write_text(json.dumps(saved))
    train_run(config(tmp_path, datasets, folds, 2, device="cpu"), run, quiet=True)
    assert pd.read_csv(run / "log.csv").epoch.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--device", "gpu"], "'gpu' is not a torch device"),
        (["--target-weights", "1"], "target_weights needs 2 value(s)"),
        (["--target-weights", "1,x"], "is not numbers"),
    ],
)
def test_train_refuses_a_bad_option_in_one_line(tmp_path, matbench, options, message):
    from click.testing import CliRunner

    from elastic_atlas.cli import main

    datasets, folds = matbench
    folder = tmp_path / "matbench"  # the file names `train --matbench` expects
    folder.mkdir()
    for path, task in zip(datasets, ("kvrh", "gvrh"), strict=True):
        shutil.copyfile(path, folder / f"matbench_log_{task}_mp2018_subset.json.gz")
    shutil.copyfile(folds, folder / "matbench_v0.1_elastic_folds.json.gz")
    command = ["train", "--matbench", str(folder), "--run-dir", str(tmp_path / "run"), *options]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run" / "log.csv").exists()  # refused before any training


def test_the_training_device_is_the_gpu_only_when_there_is_one():
    import torch

    from elastic_atlas.training.train import training_device

    assert training_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert training_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="no CUDA GPU"):
            training_device("cuda")


def test_freeze_makes_a_calibrated_two_target_ensemble_with_metrics(tmp_path, matbench):
    datasets, folds = matbench
    runs = []
    for seed in (0, 1):
        run = tmp_path / f"run{seed}"
        train_run(config(tmp_path, datasets, folds, 2, seed=seed), run, quiet=True)
        runs.append(run)
    metrics = freeze_runs(runs, tmp_path / "model")
    checkpoint = load_checkpoint(tmp_path / "model")
    assert len(checkpoint.members) == 2
    assert checkpoint.target_names == ["log10_k_vrh", "log10_g_vrh"]
    for target in checkpoint.targets:
        m = metrics["targets"][target.name]
        assert m["test"]["n"] == 30 and len(m["members_test_mae"]) == 2
        # calibrated on the 24 validation entries: 68.27 % of them within σ, to one entry
        assert target.calibration is not None and target.calibration.a > 0
        assert abs(m["uncertainty_coverage"]["validation"]["within_1_sigma"] - 0.6827) < 1 / 24
    flags = metrics["risk_flags_test"]
    assert set(flags) == {"risk_high_uncertainty", "risk_soft", "risk_low_density"}
    assert flags["risk_low_density"]["rows_marked"] == 1.0  # toy NaCl cells: 0.6-1.5 g/cm³
    card = json.loads((tmp_path / "model" / "model.json").read_text())
    assert card["training"]["split_sizes"] == {"train": 96, "validation": 24, "test": 30}
    layout = card["atom_features"]["layout"]
    assert sum(block["length"] for block in layout) == checkpoint.features.length == 91
    ids = pd.read_csv(tmp_path / "model" / card["training"]["ids"]["file"])
    assert ids.split.value_counts().to_dict() == {"train": 96, "test": 30, "validation": 24}
    for name in ("README.md", "parity.png", "training-log-seed0.csv", "training-log-seed1.csv"):
        assert (tmp_path / "model" / name).exists()


def test_the_graph_cache_is_plain_arrays_that_read_back_exactly(tmp_path):
    import numpy as np
    from structures import diamond, rock_salt

    from elastic_atlas.model.graph import build_graph
    from elastic_atlas.training.graphs import read_graph_cache, write_graph_cache

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


def test_the_fold_report_gives_each_fold_and_their_mean(tmp_path, matbench):
    from elastic_atlas.training.folds import fold_report

    datasets, folds = matbench
    run = tmp_path / "run"
    train_run(config(tmp_path, datasets, folds, 2), run, quiet=True)
    report = fold_report([run])
    assert report["n_folds"] == 1 and list(report["folds"]) == ["0"]
    for target in ("log10_k_vrh", "log10_g_vrh"):
        fold = report["folds"]["0"][target]
        assert fold["test_n"] == 30 and report["mean"][target]["test_mae"] == fold["test_mae"]
    with pytest.raises(ValueError, match="two runs of fold 0"):
        fold_report([run, run])


def test_the_training_loop_imports_no_pymatgen():
    """pymatgen is imported only where it is needed (a graph on a cache miss, the element
    table): `elastic-atlas --help` and training from cached graphs start quickly."""
    import subprocess
    import sys

    code = "import sys, elastic_atlas.training.train; print('pymatgen' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_chemical_system_parts_hold_whole_systems_and_balance():
    from elastic_atlas.training.train import cluster_parts

    ids = [f"mb-{i}" for i in range(200)]
    groups = {m: f"sys-{i % 37}" for i, m in enumerate(ids)}  # 37 systems of 5-6 entries
    parts = cluster_parts(ids, groups, 5, seed=3000)
    assert set().union(*parts) == set(ids) and sum(len(p) for p in parts) == len(ids)
    for system in set(groups.values()):
        holding = [k for k, part in enumerate(parts) if any(groups[m] == system for m in part)]
        assert len(holding) == 1  # a system is never split between a run's train and test
    assert max(map(len, parts)) - min(map(len, parts)) <= 6
    assert parts == cluster_parts(list(reversed(ids)), groups, 5, seed=3000)  # deterministic
