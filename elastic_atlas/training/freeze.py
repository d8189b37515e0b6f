"""Freeze training runs into an own-format checkpoint, with its evaluation and model card.

Several runs (seeds) become one ensemble: the mean of the members is the prediction, and their
standard deviation, calibrated on the fold's validation entries, a per-structure standard
uncertainty (model/calibration.py).
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from elastic_atlas.contract.risk import risk_flags
from elastic_atlas.digest import file_digest
from elastic_atlas.model.calibration import coverage, fit_calibration
from elastic_atlas.model.checkpoint import Checkpoint, Target, load_checkpoint, save_own
from elastic_atlas.model.features import feature_layout, own_feature_table
from elastic_atlas.training.heldout import unseen_entries
from elastic_atlas.training.matbench import (
    TARGET_TO_TASK,
    load_fold_predictions,
    load_joint_dataset,
    row_key,
)
from elastic_atlas.training.train import cached_graphs, load_run_model

SPLITS = ("train", "validation", "test")


def metrics(predicted: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """MAE and R² in the target's units (log10 GPa), and the number of entries."""
    from sklearn.metrics import mean_absolute_error, r2_score

    return {
        "mae": float(mean_absolute_error(observed, predicted)),
        "r2": float(r2_score(observed, predicted)),
        "n": len(observed),
    }


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
    loaded = [load_run_model(run) for run in run_dirs]
    configs = [config for _, config, _, _ in loaded]
    first = configs[0]
    if any(c.targets != first.targets or c.fold != first.fold for c in configs):
        raise ValueError("all runs of one checkpoint must share targets and fold")
    normalizers = {json.dumps(best["normalizer"]) for _, _, best, _ in loaded}
    if len(normalizers) != 1:
        raise ValueError("runs were normalised differently (different training entries)")
    split = json.loads((run_dirs[0] / "split.json").read_text())
    targets = [Target(n["name"], n["mean"], n["std"]) for n in loaded[0][2]["normalizer"]]
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
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    checkpoint = load_checkpoint(out)  # now with its calibration
    card["metrics"] = evaluate(checkpoint, entries, oof, duplicate_materials(split, provenance))
    if heldout is not None and provenance is not None:
        card["metrics"]["heldout"] = evaluate_heldout(checkpoint, heldout, provenance)
    if folds is not None:
        report = json.loads(folds.read_text())
        card["metrics"]["five_fold"] = {"runs": report["runs"], "mean": report["mean"]}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    write_model_readme(out, card)
    return card["metrics"]


def training_provenance(
    run_dirs: list[Path], loaded: list[tuple], split: dict[str, list[str]]
) -> dict[str, Any]:
    first = loaded[0][1]
    return {
        "datasets": [path.name for path in first.datasets],
        "dataset_description": "Matbench v0.1 entries matched to Materials Project 2018 "
        "structures (see ../shared/README.md of the project)",
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


def material_ids(provenance: Path | None) -> dict[str, str]:
    """Matbench row number -> Materials Project id ({} without a provenance file)."""
    if provenance is None:
        return {}
    with provenance.open(newline="") as handle:
        return {row_key(row["mbid_kvrh"]): row["material_id"] for row in csv.DictReader(handle)}


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
        calibration = checkpoint.targets[j].calibration
        if calibration is not None:
            per_target["uncertainty_coverage"] = {
                name: coverage(error, calibration.sigma(spread), calibration.k95)
                for name in ("validation", "test")
                for error, spread in [entries.errors(name, j, checkpoint)]
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
    if all(t.calibration is not None for t in checkpoint.targets) and set(entries.targets) >= {
        "log10_k_vrh",
        "log10_g_vrh",
    }:
        result["risk_flags_test"] = flag_rates(checkpoint, entries)
    plot_parity(checkpoint.path / "parity.png", points)
    return result


def flag_rates(checkpoint: Checkpoint, entries: Entries) -> dict[str, dict[str, float]]:
    """Per risk flag on the test entries: rows it marks and, per target, the share of the worst
    5 % of |errors| it catches (contract/risk.py; BENCHMARKS.md has the other sets)."""
    mean, spread = entries.predict("test", checkpoint)
    sigma = checkpoint.inference().uncertainty(spread)
    k, g = entries.targets.index("log10_k_vrh"), entries.targets.index("log10_g_vrh")
    flags = risk_flags(10 ** mean[:, k], entries.test_density, sigma[:, k], sigma[:, g])
    errors = np.abs(mean - entries.observed["test"])
    worst = errors >= np.quantile(errors, 0.95, axis=0)
    out = {}
    for name, values in flags.items():
        marked = values == 1
        out[str(name)] = {
            "rows_marked": float(marked.mean()),
            **{
                f"{t} worst 5% caught": float(marked[worst[:, j]].mean())
                for j, t in enumerate(entries.targets)
            },
        }
    return out


def evaluate_heldout(checkpoint: Checkpoint, folder: Path, provenance: Path) -> dict[str, Any]:
    """MAE, signed error and uncertainty coverage on a DFT table's unseen materials."""
    held = unseen_entries(folder, provenance, checkpoint.graph)
    inference = checkpoint.inference()
    mean, spread = inference.predict_graphs(held.graphs)
    sigma = inference.uncertainty(spread)
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
                {"coverage": coverage(error, sigma[:, j], calibration.k95)}
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


def plot_parity(path: Path, points: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> None:
    """Predicted vs DFT: one row per target, one column per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(target for target, _ in points))
    fig, axes = plt.subplots(
        len(targets), len(SPLITS), figsize=(12, 4 * len(targets)), squeeze=False
    )
    for (target, name), (observed, predicted) in points.items():
        ax = axes[targets.index(target), SPLITS.index(name)]
        ax.scatter(observed, predicted, s=4, alpha=0.4, rasterized=True)
        low = float(min(observed.min(), predicted.min()))
        high = float(max(observed.max(), predicted.max()))
        ax.plot([low, high], [low, high], color="black", lw=0.8)
        m = metrics(predicted, observed)
        ax.set_title(f"{name}: MAE {m['mae']:.4f}, R² {m['r2']:.3f} (n={m['n']})", fontsize=10)
        ax.set_xlabel(f"DFT {target} (log10 GPa)")
        ax.set_ylabel(f"CGCNN {target} (log10 GPa)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def write_model_readme(folder: Path, card: dict[str, Any]) -> None:
    t, m = card["training"], card["metrics"]
    names = [target["name"] for target in card["targets"]]
    lines = [
        f"# {folder.name}",
        "",
        f"CGCNN ensemble of {len(card['members'])} member(s); one network predicts "
        + " and ".join(f"`{name}`" for name in names)
        + f" ({card['targets'][0]['unit']}). Trained by elastic-atlas {card['code_version']} "
        f"on {card['created']}.",
        "",
        "## Training data",
        f"- {', '.join(f'`{d}`' for d in t['datasets'])}: {t['dataset_description']}; "
        f"tasks {', '.join(f'`{x}`' for x in t['tasks'])} (the same entries, joined by row).",
        f"- Official Matbench fold {t['fold']} (`{t['folds']}`): trained only on the fold's "
        f"training entries; validation = {t['validation']}.",
        f"- Split sizes: train {t['split_sizes']['train']}, validation "
        f"{t['split_sizes']['validation']}, test {t['split_sizes']['test']}; every entry with "
        f"its Materials Project id and split in `{t['ids']['file']}`.",
        f"- {t['optimizer']}; loss {t['loss']} with target weights {t['target_weights']}; "
        f"batch {t['batch_size']}.",
        "- Members: "
        + "; ".join(
            f"seed {x['seed']} best epoch {x['best_epoch']} of {x['epochs_run']} "
            f"(val MAE {x['best_validation_mae']:.4f})"
            for x in t["members"]
        ),
        "",
        "## Metrics (log10 GPa)",
        "",
        "| target | split | MAE | R² | n |",
        "|---|---|---:|---:|---:|",
    ]
    for name in names:
        mt = m["targets"][name]
        lines += [f"| {name} | {s} | {mt[s]['mae']:.4f} | {mt[s]['r2']:.3f} | {mt[s]['n']} |"
                  for s in SPLITS]  # fmt: skip
        clean = mt["test_without_duplicate_materials"]
        lines.append(
            f"| {name} | test without the {len(clean['left_out'])} materials also in training | "
            f"{clean['mae']:.4f} | {clean['r2']:.3f} | {clean['n']} |"
        )
        if "members_test_mae" in mt:
            lines.append(
                f"| {name} | test, each member alone | "
                + ", ".join(f"{v:.4f}" for v in mt["members_test_mae"])
                + " | | |"
            )
        if "cgcnn_v2019_same_test_entries" in mt:
            ref = mt["cgcnn_v2019_same_test_entries"]
            lines.append(
                f"| {name} | Matbench CGCNN v2019, same test entries | {ref['mae']:.4f} | "
                f"{ref['r2']:.3f} | {ref['n']} |"
            )
    if "five_fold" in m:
        lines += ["", "## Five folds (one seed per official Matbench fold, same architecture)", ""]
        lines += [
            f"- {target}: mean test MAE {v['test_mae']:.4f}"
            + (f" (Matbench CGCNN v2019 on the same entries {v['cgcnn_v2019_mae']:.4f})"
               if "cgcnn_v2019_mae" in v else "")
            for target, v in m["five_fold"]["mean"].items()
        ]  # fmt: skip
    if "heldout" in m:
        h = m["heldout"]
        lines += ["", f"## Never seen: {h['source']}", ""]
        lines += ["| target | n | MAE | mean signed error | within σ | within 2σ | within k95·σ |",
                  "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for name in names:
            v, c = h[name], h[name].get("coverage", {})
            lines.append(
                f"| {name} | {v['n']} | {v['mae']:.4f} | {v['mean_signed']:+.4f} | "
                + " | ".join(f"{c[k]:.1%}" if k in c else "" for k in
                             ("within_1_sigma", "within_2_sigma", "within_k95_sigma"))
                + " |"
            )  # fmt: skip
    lines += [
        "",
        "## Uncertainty",
        "",
        "The standard uncertainty of a prediction is σ = √(a² + (b·s)²) in log10 GPa, with s the "
        "members' standard deviation; a and b were fitted on the validation entries (which no "
        "member trained on) so that 68.27 % of their |errors| are ≤ σ, with b bringing the "
        "share within 2σ as close to 95.45 % as it goes. The errors have heavier tails than a "
        "normal distribution, so 2σ covers less than 95 %: ±k95·σ is the 95 % interval. The "
        "test entries measure it:",
        "",
        "| target | a | b | k95 | split | within σ | within 2σ | within k95·σ | n |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for target in card["targets"]:
        c = target["calibration"]
        for split, cov in m["targets"][target["name"]]["uncertainty_coverage"].items():
            lines.append(
                f"| {target['name']} | {c['a']:.4f} | {c['b']:.2f} | {c['k95']:.2f} | {split} | "
                f"{cov['within_1_sigma']:.1%} | {cov['within_2_sigma']:.1%} | "
                f"{cov['within_k95_sigma']:.1%} | {cov['n']} |"
            )
    if "risk_flags_test" in m:
        caught = " | ".join(f"worst 5 % of {n} caught" for n in names)
        lines += [
            "",
            "## Risk flags on the test entries (rules: `elastic_atlas/contract/risk.py`)",
            "",
            f"| flag | rows marked | {caught} |",
            "|---|---:|" + "---:|" * len(names),
        ]
        for flag, r in m["risk_flags_test"].items():
            lines.append(
                f"| `{flag}` | {r['rows_marked']:.1%} | "
                + " | ".join(f"{r[f'{n} worst 5% caught']:.0%}" for n in names) + " |"
            )  # fmt: skip
    lines += [
        "",
        "## Files",
        *[f"- `{e['file']}` sha256 `{e['sha256']}`" for e in card["members"]],
        f"- `{card['atom_features']['file']}` sha256 `{card['atom_features']['sha256']}` "
        f"({card['atom_features']['source']})",
        f"- `{t['ids']['file']}` sha256 `{t['ids']['sha256']}`: mbid, material_id, split.",
        "- `model.json`: the model card (architecture, graph parameters, normalisers, "
        "calibration, provenance, metrics).",
        "- `parity.png`: predicted vs DFT on train, validation and test, per target.",
        "- `training-log-seed<k>.csv`: per-epoch losses, validation MAE, learning rate.",
        "",
        f"Use: `elastic-atlas predict --checkpoint models/{folder.name} SOURCE -o OUT.csv`.",
        "Weights: CC-BY-4.0 (trained on Materials Project data via Matbench).",
    ]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
