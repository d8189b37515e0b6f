"""Re-calibrate a frozen checkpoint for new materials: same weights, grouped (Mondrian) σ.

Most rows of a release are crystals whose chemical system the network never saw (nearly all of
GNoME's, most of Materials Project's outside the training subset). Their errors are larger than
those of the validation entries the base calibration was fitted on. The leave-chemical-system-out
runs (`elastic-atlas train --inner-split chemsys`, `make loco`) give such errors for every
training entry: each was predicted by a network that never saw its chemical system. This module
mixes them (total weight `leave_out_weight`) with the validation entries' own errors and fits a
multiplier and a 95 % factor per group of rows (band of the base σ × predicted soft;
model/calibration.py), writes a new checkpoint folder with the same weights, the new calibration,
and every metric of the card evaluated again, and says where the calibration data came from.

A leave-out error is one network's; the checkpoint publishes the mean of its members, whose
errors are smaller. Each leave-out error is therefore scaled by the ensemble-to-member ratio of
the 68th-percentile |error| on the validation entries (`ensemble_error_ratio`: 0.92 / 0.94 for
K / G with five members), so that the mixture describes the ensemble's errors on new chemical
systems, not a single network's. The test entries play no part in it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas.clock import created_timestamp
from elastic_atlas.contract.risk import SOFT_BULK_MODULUS
from elastic_atlas.contract.targets import Target
from elastic_atlas.digest import file_digest
from elastic_atlas.model.calibration import ONE_SIGMA, Calibration, fit_groups
from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.training.evaluate import (
    Entries,
    checkpoint_fold,
    evaluate,
    evaluate_heldout,
    evaluation_entries,
)
from elastic_atlas.training.freeze import duplicate_materials
from elastic_atlas.training.model_card import write_model_readme

BANDS = (1 / 3, 2 / 3)  # base-σ bands: terciles of the validation entries' base σ


def leave_out_predictions(path: Path, ids: list[str], targets: list[str]) -> np.ndarray:
    """(entries, targets) predictions of `ids` from an export_heldout CSV; every id needed."""
    frame = pd.read_csv(path).drop_duplicates("mbid").set_index("mbid")
    missing = [m for m in ids if m not in frame.index]
    if missing:
        raise ValueError(
            f"{path.name} has no leave-out prediction for {len(missing)} of the {len(ids)} "
            f"training entries (e.g. {missing[0]}): run `make loco` and export them"
        )
    return frame.loc[ids, [f"{t}_predicted" for t in targets]].to_numpy(dtype=np.float64)


def ensemble_error_ratio(checkpoint: Checkpoint, entries: Entries) -> np.ndarray:
    """Per target: the 68.27th percentile of the ensemble mean's |error| on the validation
    entries over the mean of the same percentile of each member's |error| (1 for one member)."""
    from dataclasses import replace

    observed = entries.observed["validation"]
    graphs = [entries.graphs[m] for m in entries.split["validation"]]

    def q68(predicted: np.ndarray) -> np.ndarray:
        return np.quantile(np.abs(predicted - observed), ONE_SIGMA, axis=0)

    members = [q68(replace(checkpoint, members=[m]).predict_graphs(graphs)[0])
               for m in checkpoint.members]  # fmt: skip
    return q68(entries.predict("validation", checkpoint)[0]) / np.mean(members, axis=0)


def grouped_calibrations(
    checkpoint: Checkpoint, entries: Entries, leave_out: np.ndarray, weight: float
) -> tuple[dict[str, Calibration], np.ndarray]:
    """Per target: the checkpoint's base calibration with groups fitted on the mixture; and
    the ensemble-to-member ratio the leave-out errors were scaled by."""
    ratio = ensemble_error_ratio(checkpoint, entries)
    k = entries.targets.index(Target.LOG10_K_VRH.value)
    mean_v, spread_v = entries.predict("validation", checkpoint)
    _, spread_t = entries.predict("train", checkpoint)
    n_v, n_t = len(mean_v), len(leave_out)
    weights = np.concatenate([np.full(n_v, (1 - weight) / n_v), np.full(n_t, weight / n_t)])
    bulk = 10.0 ** np.concatenate([mean_v[:, k], leave_out[:, k]])
    out = {}
    for j, target in enumerate(entries.targets):
        base = checkpoint.targets[j].calibration
        if base is None:
            raise ValueError(f"{checkpoint.path.name} has no calibration of {target} to refine")
        base_v, base_t = base.base(spread_v[:, j]), base.base(spread_t[:, j])
        leave_out_error = (leave_out[:, j] - entries.observed["train"][:, j]) * ratio[j]
        errors = np.concatenate([mean_v[:, j] - entries.observed["validation"][:, j],
                                 leave_out_error])  # fmt: skip
        sigma = np.concatenate([base_v, base_t])
        edges = tuple(float(e) for e in np.quantile(base_v, BANDS))
        out[target] = fit_groups(base, np.abs(errors) / sigma, sigma,
                                 bulk < SOFT_BULK_MODULUS, weights, edges, SOFT_BULK_MODULUS,
                                 weight)  # fmt: skip
    return out, ratio


def recalibrate(
    source: Path,
    out: Path,
    leave_out: Path,
    weight: float,
    matbench: Path,
    heldout: Path | None = None,
) -> dict[str, Any]:
    """Write `out/`: `source`'s files with the grouped calibration and re-evaluated metrics."""
    if not 0 < weight < 1:
        raise ValueError(f"the leave-out weight must lie strictly between 0 and 1, not {weight}")
    checkpoint = load_checkpoint(source)
    config, split = checkpoint_fold(checkpoint, matbench)
    entries = evaluation_entries(config, split)
    predicted = leave_out_predictions(leave_out, split["train"], entries.targets)
    calibrations, ratio = grouped_calibrations(checkpoint, entries, predicted, weight)
    shutil.copytree(source, out)  # weights, features, training ids and logs unchanged
    card = json.loads((out / "model.json").read_text())
    for entry in card["targets"]:
        entry["calibration"] = calibrations[entry["name"]].as_dict()
    for target in checkpoint.targets:
        target.calibration = calibrations[target.name]
    card["training"]["calibration"] = calibration_provenance(leave_out, weight, split)
    card["training"]["calibration"]["leave_out_error_scale"] = {
        target: round(float(r), 6) for target, r in zip(entries.targets, ratio, strict=True)
    }
    provenance = matbench / "matbench_elastic_subset_provenance.csv"
    oof = matbench / "cgcnn_v2019_oof_predictions.json.gz"
    checkpoint.path = out
    known = provenance if provenance.exists() else None
    duplicates = duplicate_materials(split, known)
    metrics = evaluate(checkpoint, entries, oof if oof.exists() else None, duplicates)
    if heldout is not None and provenance.exists():
        metrics["heldout"] = evaluate_heldout(checkpoint, heldout, provenance)
    if "five_fold" in card.get("metrics", {}):  # the architecture's 5-fold figure is unchanged
        metrics["five_fold"] = card["metrics"]["five_fold"]
    card["metrics"] = metrics
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    write_model_readme(out, card)
    return metrics


def calibration_provenance(leave_out: Path, weight: float, split: dict) -> dict[str, Any]:
    """What the grouped calibration was fitted on, said in the card."""
    runs = sorted(set(pd.read_csv(leave_out)["run"]))
    return {
        "method": "Mondrian: base sigma sqrt(a^2 + (b s)^2) times a multiplier per group "
        "(tercile band of the base sigma on the validation entries x predicted B below "
        f"{SOFT_BULK_MODULUS:g} GPa); per group the weighted 68.27 % and 95.45 % quantiles of "
        "|error| / base sigma; each leave-out error (one network's) scaled by the "
        "ensemble-to-member ratio of the 68.27th-percentile |error| on the validation entries",
        "validation_entries": len(split["validation"]),
        "leave_out_entries": len(split["train"]),
        "leave_out_weight": weight,
        "leave_out_file": {"file": leave_out.name, "sha256": file_digest(leave_out)},
        "leave_out_runs": runs,
        "leave_out_split": "chemical systems of the fold's training entries in five parts; each "
        "run trained without one part and predicted it (elastic-atlas train --inner-split "
        "chemsys)",
        "fitted": created_timestamp()[:10],
    }
