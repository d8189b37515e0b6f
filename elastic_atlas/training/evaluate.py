"""How well a frozen checkpoint does: per split and target, each member alone, against
Matbench's CGCNN v2019 on the same entries, the uncertainty's coverage, the risk flags, and
materials it never saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from elastic_atlas.contract.risk import risk_flags
from elastic_atlas.contract.targets import TARGET_NAMES, Target
from elastic_atlas.model.calibration import coverage
from elastic_atlas.model.checkpoint import Checkpoint, EnsembleInference
from elastic_atlas.training.graphs import cached_graphs
from elastic_atlas.training.heldout import unseen_entries
from elastic_atlas.training.matbench import (
    TARGET_TO_TASK,
    load_fold_predictions,
    load_joint_dataset,
    row_key,
)
from elastic_atlas.training.metrics import SPLITS, metrics


@dataclass
class Entries:
    """The fold's entries with their graphs and DFT targets, predicted once per checkpoint."""

    split: dict[str, list[str]]
    graphs: dict[str, Any]
    observed: dict[str, np.ndarray]  # split -> (entries, targets)
    targets: list[str]
    task: str
    fold: int
    test_density: np.ndarray  # g/cm^3 of the test entries, for the risk flags
    _cache: dict = field(default_factory=dict)

    def predict(self, name: str, checkpoint: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
        """(mean, spread) of the split's entries, each (entries, targets)."""
        key = (name, *(id(member) for member in checkpoint.members))
        if key not in self._cache:
            ids = self.split[name]
            chunks = [checkpoint.predict_graphs([self.graphs[m] for m in ids[i : i + 512]])
                      for i in range(0, len(ids), 512)]  # fmt: skip
            self._cache[key] = (
                np.concatenate([c[0] for c in chunks]),
                np.concatenate([c[1] for c in chunks]),
            )
        return self._cache[key]

    def errors(self, name: str, j: int, checkpoint: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
        """(prediction − DFT, spread) of target j on a split."""
        mean, spread = self.predict(name, checkpoint)
        return mean[:, j] - self.observed[name][:, j], spread[:, j]


def checkpoint_fold(checkpoint: Checkpoint, matbench: Path) -> tuple[Any, dict[str, list[str]]]:
    """The training configuration of a frozen checkpoint's fold (its Matbench files in
    `matbench`) and its train/validation/test ids, from its model card."""
    import pandas as pd

    from elastic_atlas.training.train import TrainConfig

    card = checkpoint.card["training"]
    config = TrainConfig(
        datasets=[matbench / d for d in card["datasets"]],
        folds=matbench / card["folds"],
        fold=card["fold"],
    )
    ids = pd.read_csv(checkpoint.path / card["ids"]["file"])
    return config, {s: list(ids.mbid[ids.split == s]) for s in SPLITS}


def evaluation_entries(config: Any, split: dict[str, list[str]]) -> Entries:
    dataset = load_joint_dataset(config.datasets)
    graphs = cached_graphs(dataset, config.graph, config.cache)
    observed = {name: np.array([dataset[m][1] for m in split[name]]) for name in SPLITS}
    task = TARGET_TO_TASK[config.targets[0]]
    from pymatgen.core import Structure

    density = np.array([Structure.from_dict(dataset[m][0]).density for m in split["test"]])
    return Entries(split, graphs, observed, list(config.targets), task, config.fold, density)


def evaluate(
    checkpoint: Checkpoint, entries: Entries, oof: Path | None, duplicates: set[str]
) -> dict[str, Any]:
    """Per target: MAE and R² per split, the test figure without duplicate materials, each
    member alone, Matbench's CGCNN v2019 on the same entries and the uncertainty's coverage."""
    result: dict[str, Any] = {"unit": "log10(GPa)", "targets": {}}
    points = {}
    test_ids = entries.split["test"]
    clean = np.array([m not in duplicates for m in test_ids])
    inference = checkpoint.inference()
    for j, target in enumerate(entries.targets):
        per_target: dict[str, Any] = {}
        for name in SPLITS:
            mean, _ = entries.predict(name, checkpoint)
            per_target[name] = metrics(mean[:, j], entries.observed[name][:, j])
            points[(target, name)] = (entries.observed[name][:, j], mean[:, j])
        mean, _ = entries.predict("test", checkpoint)
        per_target["test_without_duplicate_materials"] = {
            **metrics(mean[clean, j], entries.observed["test"][clean, j]),
            "left_out": sorted(duplicates),
        }
        if checkpoint.targets[j].calibration is not None:
            per_target["uncertainty_coverage"] = {
                name: split_coverage(checkpoint, inference, entries, name, j)
                for name in ("validation", "test")
            }
        if len(checkpoint.members) > 1:  # what the ensemble adds over its members
            per_target["members_test_mae"] = member_test_maes(checkpoint, entries, j)
        if oof is not None:
            task = TARGET_TO_TASK[target]
            reference = load_fold_predictions(oof, task, entries.fold)
            keys = {row_key(m): m for m in reference}
            pairs = [(i, keys[row_key(m)]) for i, m in enumerate(test_ids) if row_key(m) in keys]
            per_target["cgcnn_v2019_same_test_entries"] = metrics(
                np.array([reference[m] for _, m in pairs]),
                entries.observed["test"][[i for i, _ in pairs], j],
            )
        result["targets"][target] = per_target
    if all(t.calibration is not None for t in checkpoint.targets) and set(entries.targets) >= set(
        TARGET_NAMES
    ):
        result["risk_flags_test"] = flag_rates(checkpoint, entries)
    from elastic_atlas.training.model_card import plot_parity

    plot_parity(checkpoint.path / "parity.png", points)
    return result


def split_coverage(
    checkpoint: Checkpoint, inference: EnsembleInference, entries: Entries, name: str, j: int
) -> dict[str, float]:
    """Coverage of target j's calibrated σ and 95 % interval on one split (`inference`: the
    checkpoint's, made once by the caller)."""
    mean, spread = entries.predict(name, checkpoint)
    sigma = inference.uncertainty(spread, mean)[:, j]
    factors = inference.coverage_factors(spread, mean)[:, j]
    errors = mean[:, j] - entries.observed[name][:, j]
    return {**coverage(errors, sigma, factors), **conditional_coverage(errors, sigma)}


def conditional_coverage(errors: np.ndarray, sigma: np.ndarray) -> dict[str, Any]:
    """Whether σ holds where it is small and where it is large: the share within σ in each
    tercile of σ (low to high), and Spearman's rank correlation of σ with |error|."""
    from scipy.stats import spearmanr

    band = np.digitize(sigma, np.quantile(sigma, [1 / 3, 2 / 3]))
    within = np.abs(errors) <= sigma
    ranked = np.ptp(sigma) > 0 and np.ptp(np.abs(errors)) > 0  # else ρ is not defined
    shares = [float(within[band == k].mean()) if (band == k).any() else None for k in range(3)]
    rho = float(spearmanr(sigma, np.abs(errors)).statistic) if ranked else None
    # None where a figure is not defined (an empty tercile, a constant σ): never NaN in JSON
    return {"within_1_sigma_per_tercile": shares, "spearman_sigma_abs_error": rho}


def flag_rates(checkpoint: Checkpoint, entries: Entries) -> dict[str, dict[str, float]]:
    """Per risk flag on the test entries: rows it marks and, per target, the share of the worst
    5 % of |errors| it catches (contract/risk.py; BENCHMARKS.md has the other sets)."""
    mean, spread = entries.predict("test", checkpoint)
    sigma = checkpoint.inference().uncertainty(spread, mean)
    k, g = (entries.targets.index(t) for t in (Target.LOG10_K_VRH, Target.LOG10_G_VRH))
    flags = risk_flags(10 ** mean[:, k], entries.test_density, sigma[:, k], sigma[:, g])
    marks = {str(name): values == 1 for name, values in flags.items()}
    return flag_catch(marks, np.abs(mean - entries.observed["test"]), entries.targets)


def flag_catch(
    marks: dict[str, np.ndarray], errors: np.ndarray, targets: list[str]
) -> dict[str, dict[str, float]]:
    """Per set of marked rows: the share of rows marked and, per target (a column of the
    |errors|), the share of the worst 5 % it catches."""
    worst = errors >= np.quantile(errors, 0.95, axis=0)
    return {
        name: {
            "rows_marked": float(marked.mean()),
            **{
                f"{t} worst 5% caught": float(marked[worst[:, j]].mean())
                for j, t in enumerate(targets)
            },
        }
        for name, marked in marks.items()
    }


def evaluate_heldout(checkpoint: Checkpoint, folder: Path, provenance: Path) -> dict[str, Any]:
    """MAE, signed error and uncertainty coverage on a DFT table's unseen materials."""
    held = unseen_entries(folder, provenance, checkpoint.graph)
    inference = checkpoint.inference()
    mean, spread = inference.predict_graphs(held.graphs)
    sigma = inference.uncertainty(spread, mean)
    factors = inference.coverage_factors(spread, mean)
    result: dict[str, Any] = {
        "source": f"{folder.name}: sane DFT entries outside the training subset",
        "ids": held.ids,
    }
    for j, target in enumerate(checkpoint.target_names):
        error = mean[:, j] - held.observed[:, j]
        calibration = checkpoint.targets[j].calibration
        result[target] = {
            "mae": float(np.mean(np.abs(error))),
            "mean_signed": float(np.mean(error)),
            "n": len(error),
            **(
                {"coverage": coverage(error, sigma[:, j], factors[:, j])}
                if calibration is not None
                else {}
            ),
        }
    return result


def member_test_maes(checkpoint: Checkpoint, entries: Entries, j: int) -> list[float]:
    members = checkpoint.members
    maes = []
    try:
        for member in members:
            checkpoint.members = [member]
            mean, _ = entries.predict("test", checkpoint)
            maes.append(metrics(mean[:, j], entries.observed["test"][:, j])["mae"])
    finally:
        checkpoint.members = members
    return maes
