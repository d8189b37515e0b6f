"""Freeze training runs into an own-format checkpoint, with its evaluation and model card.

Several runs (seeds) become one ensemble: the mean of the members is the prediction, and their
standard deviation, calibrated on the fold's validation entries, a per-structure standard
uncertainty (model/calibration.py).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from elastic_atlas.digest import file_digest
from elastic_atlas.model.calibration import fit_calibration
from elastic_atlas.model.checkpoint import Checkpoint, Target, save_own
from elastic_atlas.model.features import feature_layout, own_feature_table
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.training.evaluate import (
    SPLITS,
    evaluate,
    evaluate_heldout,
    evaluation_entries,
)
from elastic_atlas.training.matbench import TARGET_TO_TASK, material_ids, row_key
from elastic_atlas.training.model_card import write_model_readme
from elastic_atlas.training.train import load_run_model


def freeze_runs(
    run_dirs: list[Path],
    out: Path,
    oof: Path | None = None,
    provenance: Path | None = None,
    heldout: Path | None = None,
    folds: Path | None = None,
) -> dict[str, Any]:
    """Write `out/` (weights, model.json, README.md, parity.png, training-ids.csv) from runs
    (seeds) of one configuration; returns the metrics.

    `provenance` (Matbench id -> Materials Project id) lets the card list the training
    materials and the test figure be given without the materials that sit in both splits;
    `heldout` (a DFT elastic folder: elastic.csv + structures.zip) adds the errors and coverage
    on its materials outside the training subset; `folds` (`elastic-atlas folds` output) adds
    the 5-fold figure of the same architecture.
    """
    loaded, targets = load_runs(run_dirs)
    configs = [config for _, config, _, _ in loaded]
    first = configs[0]
    split = json.loads((run_dirs[0] / "split.json").read_text())
    save_own(
        out,
        [m for m, _, _, _ in loaded],
        own_feature_table(),
        first.graph,
        targets,
        {"training": training_provenance(run_dirs, loaded, split)},
    )
    for run, config in zip(run_dirs, configs, strict=True):  # the training curves travel along
        shutil.copyfile(run / "log.csv", out / f"training-log-seed{config.seed}.csv")
    ids = write_training_ids(out / "training-ids.csv", split, provenance)
    checkpoint = load_checkpoint(out)
    entries = evaluation_entries(first, split)
    calibrations = {
        name: fit_calibration(*entries.errors("validation", j, checkpoint))
        for j, name in enumerate(first.targets)
    }
    card_path = out / "model.json"
    card = json.loads(card_path.read_text())
    card["atom_features"]["layout"] = feature_layout()  # what each one-hot block encodes
    for entry in card["targets"]:
        entry["calibration"] = calibrations[entry["name"]].as_dict()
    card["training"]["ids"] = {"file": ids.name, "sha256": file_digest(ids)}
    for target in checkpoint.targets:  # the loaded weights and their predictions stay valid
        target.calibration = calibrations[target.name]
    card["metrics"] = evaluate(checkpoint, entries, oof, duplicate_materials(split, provenance))
    if heldout is not None and provenance is not None:
        card["metrics"]["heldout"] = evaluate_heldout(checkpoint, heldout, provenance)
    if folds is not None:
        report = json.loads(folds.read_text())
        card["metrics"]["five_fold"] = {"runs": report["runs"], "mean": report["mean"]}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    write_model_readme(out, card)
    return card["metrics"]


def load_runs(run_dirs: list[Path]) -> tuple[list[tuple], list[Target]]:
    """Each run's (model, config, best state, features) and the targets with the normaliser
    they share; refused unless the runs can be members of one checkpoint."""
    loaded = [load_run_model(run) for run in run_dirs]
    first = loaded[0][1]
    if any(c.targets != first.targets or c.fold != first.fold for _, c, _, _ in loaded):
        raise ValueError("all runs of one checkpoint must share targets and fold")
    normalizers = {json.dumps(best["normalizer"]) for _, _, best, _ in loaded}
    if len(normalizers) != 1:
        raise ValueError("runs were normalised differently (different training entries)")
    targets = [Target(n["name"], n["mean"], n["std"]) for n in loaded[0][2]["normalizer"]]
    return loaded, targets


def runs_checkpoint(run_dirs: list[Path]) -> Checkpoint:
    """Runs as an ensemble in memory, uncalibrated: to score or time runs without freezing."""
    loaded, targets = load_runs(run_dirs)
    first = loaded[0][1]
    members = [model for model, _, _, _ in loaded]
    return Checkpoint(members, own_feature_table(), first.graph, targets, "own", run_dirs[0])


# What the training files hold, said in the card itself (a downloader has no other document).
MATBENCH_SUBSET = (
    "Matbench v0.1 entries (tasks matbench_log_kvrh, matbench_log_gvrh) whose structure matched a "
    "Materials Project 2018 structure by full-cell composition and space group (symprec 0.1), "
    "unique matches only"
)


def training_provenance(
    run_dirs: list[Path], loaded: list[tuple], split: dict[str, list[str]]
) -> dict[str, Any]:
    first = loaded[0][1]
    return {
        "datasets": [path.name for path in first.datasets],
        "dataset_description": MATBENCH_SUBSET,
        "tasks": [TARGET_TO_TASK[target] for target in first.targets],
        "target_weights": first.weights().tolist(),
        "folds": first.folds.name,
        "fold": first.fold,
        "split_sizes": {name: len(split[name]) for name in SPLITS},
        "validation": f"{first.validation_fraction:.0%} of the fold's training entries, "
        f"seed {1000 + first.fold}; used for early stopping and to calibrate the uncertainty",
        "members": [
            {
                "run": run.name,
                "seed": c.seed,
                "best_epoch": best["best_epoch"],
                "epochs_run": epochs_run(run),
                "best_validation_mae": best["best_mae"],
            }
            for run, (_, c, best, _) in zip(run_dirs, loaded, strict=True)
        ],
        "optimizer": f"Adam, initial learning rate {first.learning_rate}, ReduceLROnPlateau "
        f"(factor 0.5, patience 15), early stopping patience {first.patience} on the mean "
        "validation MAE of the targets",
        "loss": first.loss,
        "batch_size": first.batch_size,
    }


def write_training_ids(path: Path, split: dict[str, list[str]], provenance: Path | None) -> Path:
    """Every entry the checkpoint saw or was judged on: mbid, material_id, split."""
    ids = material_ids(provenance)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["mbid", "material_id", "split"])
        for name in SPLITS:
            for mbid in split[name]:
                writer.writerow([mbid, ids.get(row_key(mbid), ""), name])
    return path


def duplicate_materials(split: dict[str, list[str]], provenance: Path | None) -> set[str]:
    """Test entries whose material also sits in the training or validation part."""
    ids = material_ids(provenance)
    seen = {ids.get(row_key(m)) for m in split["train"] + split["validation"]} - {None}
    return {m for m in split["test"] if ids.get(row_key(m)) in seen}


def epochs_run(run: Path) -> int:
    """Epochs the run trained (the log has one line per epoch)."""
    return max(0, len((run / "log.csv").read_text().strip().splitlines()) - 1)
