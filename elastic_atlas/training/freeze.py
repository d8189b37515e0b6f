"""Freeze training runs into an own-format checkpoint, with its evaluation and model card.

Several runs (seeds) of one target become one ensemble: the mean of the members is the
prediction and their standard deviation a per-structure uncertainty.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from elastic_atlas.model.checkpoint import Checkpoint, Target, load_checkpoint, save_own
from elastic_atlas.model.features import feature_layout, own_feature_table
from elastic_atlas.training.matbench import TARGET_TO_TASK, load_dataset, load_fold_predictions
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


def freeze_runs(run_dirs: list[Path], out: Path, oof: Path | None = None) -> dict[str, Any]:
    """Write `out/` (weights, model.json, README.md, parity.png); returns the metrics."""
    loaded = [load_run_model(run) for run in run_dirs]
    configs = [config for _, config, _, _ in loaded]
    first = configs[0]
    if any(c.target != first.target or c.fold != first.fold for c in configs):
        raise ValueError("all runs of one checkpoint must share target and fold")
    normalizers = {json.dumps(best["normalizer"]) for _, _, best, _ in loaded}
    if len(normalizers) != 1:
        raise ValueError("runs were normalised differently (different training entries)")
    normalizer = loaded[0][2]["normalizer"]
    split = json.loads((run_dirs[0] / "split.json").read_text())
    target = Target(first.target, normalizer["mean"], normalizer["std"])
    training = {
        "dataset": first.dataset.name,
        "dataset_description": "Matbench v0.1 entries matched to Materials Project 2018 "
        "structures (see ../shared/README.md of the project)",
        "task": TARGET_TO_TASK[first.target],
        "folds": first.folds.name,
        "fold": first.fold,
        "split_sizes": {name: len(split[name]) for name in SPLITS},
        "validation": f"{first.validation_fraction:.0%} of the fold's training entries, "
        f"seed {1000 + first.fold}",
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
        f"(factor 0.5, patience 15), early stopping patience {first.patience}",
        "loss": first.loss,
        "batch_size": first.batch_size,
    }
    save_own(
        out,
        [m for m, _, _, _ in loaded],
        own_feature_table(),
        first.graph,
        [target],
        {"training": training},
    )
    for run, config in zip(run_dirs, configs, strict=True):  # the training curves travel along
        shutil.copyfile(run / "log.csv", out / f"training-log-seed{config.seed}.csv")
    card_path = out / "model.json"
    card = json.loads(card_path.read_text())
    card["atom_features"]["layout"] = feature_layout()  # what each one-hot block encodes
    checkpoint = load_checkpoint(out)
    evaluation = evaluate(checkpoint, first, split, oof)
    card["metrics"] = evaluation
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    write_model_readme(out, card)
    return evaluation


def predict_ids(checkpoint: Checkpoint, graphs: dict, ids: list[str]) -> np.ndarray:
    """First-target predictions for `ids`, in chunks of 512 structures."""
    chunks = [checkpoint.predict_graphs([graphs[m] for m in ids[i : i + 512]])[0][:, 0]
              for i in range(0, len(ids), 512)]  # fmt: skip
    return np.concatenate(chunks)


def epochs_run(run: Path) -> int:
    """Epochs the run trained (the log has one line per epoch)."""
    return max(0, len((run / "log.csv").read_text().strip().splitlines()) - 1)


def evaluate(
    checkpoint: Checkpoint, config: Any, split: dict[str, list[str]], oof: Path | None
) -> dict[str, Any]:
    dataset = load_dataset(config.dataset)
    graphs = cached_graphs(dataset, config.graph, config.cache)
    result: dict[str, Any] = {"unit": "log10(GPa)"}
    points = {}
    for name in SPLITS:
        ids = split[name]
        predicted = predict_ids(checkpoint, graphs, ids)
        observed = np.array([dataset[m][1] for m in ids])
        result[name] = metrics(predicted, observed)
        points[name] = (observed, predicted)
    if len(checkpoint.members) > 1:  # what the ensemble adds over its members
        ids = split["test"]
        observed = np.array([dataset[m][1] for m in ids])
        members = checkpoint.members
        result["members_test_mae"] = []
        for member in members:
            checkpoint.members = [member]
            predicted = predict_ids(checkpoint, graphs, ids)
            result["members_test_mae"].append(metrics(predicted, observed)["mae"])
        checkpoint.members = members
    if oof is not None:
        reference = load_fold_predictions(oof, TARGET_TO_TASK[config.target], config.fold)
        ids = [m for m in split["test"] if m in reference]
        observed = np.array([dataset[m][1] for m in ids])
        result["cgcnn_v2019_same_test_entries"] = metrics(
            np.array([reference[m] for m in ids]), observed
        )
    plot_parity(checkpoint.path / "parity.png", points, config.target)
    return result


def plot_parity(path: Path, points: dict[str, tuple[np.ndarray, np.ndarray]], target: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharex=True, sharey=True)
    for ax, (name, (observed, predicted)) in zip(axes, points.items(), strict=True):
        ax.scatter(observed, predicted, s=4, alpha=0.4)
        low, high = (
            float(min(observed.min(), predicted.min())),
            float(max(observed.max(), predicted.max())),
        )
        ax.plot([low, high], [low, high], color="black", lw=0.8)
        m = metrics(predicted, observed)
        ax.set_title(f"{name}: MAE {m['mae']:.4f}, R² {m['r2']:.3f} (n={m['n']})")
        ax.set_xlabel(f"DFT {target} (log10 GPa)")
    axes[0].set_ylabel(f"CGCNN {target} (log10 GPa)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def write_model_readme(folder: Path, card: dict[str, Any]) -> None:
    t, m = card["training"], card["metrics"]
    target = card["targets"][0]
    lines = [
        f"# {folder.name}",
        "",
        f"CGCNN ensemble of {len(card['members'])} member(s) predicting `{target['name']}` "
        f"({target['unit']}), trained by elastic-atlas {card['code_version']} on "
        f"{card['created']}.",
        "",
        "## Training data",
        f"- `{t['dataset']}`: {t['dataset_description']}; task `{t['task']}`.",
        f"- Official Matbench fold {t['fold']} (`{t['folds']}`): trained only on the fold's "
        f"training entries; validation = {t['validation']}.",
        f"- Split sizes: train {t['split_sizes']['train']}, validation "
        f"{t['split_sizes']['validation']}, test {t['split_sizes']['test']}.",
        f"- {t['optimizer']}; loss {t['loss']}; batch {t['batch_size']}.",
        "- Members: "
        + "; ".join(
            f"seed {x['seed']} best epoch {x['best_epoch']} of {x['epochs_run']} "
            f"(val MAE {x['best_validation_mae']:.4f})"
            for x in t["members"]
        ),
        "",
        "## Metrics (log10 GPa)",
        "| split | MAE | R² | n |",
        "|---|---:|---:|---:|",
        *[f"| {s} | {m[s]['mae']:.4f} | {m[s]['r2']:.3f} | {m[s]['n']} |" for s in SPLITS],
    ]
    if "members_test_mae" in m:
        lines.append(
            "| test, each member alone | "
            + ", ".join(f"{v:.4f}" for v in m["members_test_mae"])
            + " | | |"
        )
    if "cgcnn_v2019_same_test_entries" in m:
        ref = m["cgcnn_v2019_same_test_entries"]
        lines.append(
            f"| Matbench CGCNN v2019, same test entries | {ref['mae']:.4f} | "
            f"{ref['r2']:.3f} | {ref['n']} |"
        )
    lines += [
        "",
        "## Files",
        *[f"- `{e['file']}` sha256 `{e['sha256']}`" for e in card["members"]],
        f"- `{card['atom_features']['file']}` sha256 `{card['atom_features']['sha256']}` "
        f"({card['atom_features']['source']})",
        "- `model.json`: the model card (architecture, graph parameters, normaliser, provenance).",
        "- `parity.png`: predicted vs DFT on train, validation and test.",
        "- `training-log-seed<k>.csv`: per-epoch losses, validation MAE, learning rate.",
        "",
        f"Use: `elastic-atlas predict --checkpoint models/{folder.name} SOURCE -o OUT.csv`.",
        "Weights: CC-BY-4.0 (trained on Materials Project data via Matbench).",
    ]
    (folder / "README.md").write_text("\n".join(lines) + "\n")
