"""How far the rows can be trusted: the numbers of BENCHMARKS.md's issue-13 tables.

Usage: .venv/bin/python benchmarks/bench_trust.py [--model models/<name>] [--json OUT]

For the adopted checkpoint (default: the packaged one) and ../shared/data:
1. Matbench fold-0 test MAE per target, with and without the materials that sit in both
   splits, and the uncertainty coverage (from the model card, measured at freeze time).
2. Materials Project 2023 DFT entries outside the 7,921-entry training subset (never seen,
   never calibrated on) whose tensor is mechanically sane: MAE, signed error, coverage within
   u, 2u and k95·u.
3. Risk flags on the fold-0 validation (where the thresholds were chosen), fold-0 test and
   MP-2023-unseen entries: rows each flag marks and the share of the worst 5 % of errors
   (per target) it catches; and the MAE of flagged vs unflagged rows.
4. The label noise floor: MP 2018 vs MP 2023 DFT for the same ids.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from common import ROOT, checkpoint_fold, header, write_report
from pymatgen.core import Structure

from elastic_atlas.contract.risk import (
    FLAG_COLUMNS,
    HIGH_UNCERTAINTY,
    LOW_DENSITY,
    SOFT_BULK_MODULUS,
    risk_flags,
)
from elastic_atlas.inputs.recipe import default_checkpoint
from elastic_atlas.model.calibration import coverage
from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.paths import shared_data
from elastic_atlas.training.evaluate import evaluation_entries, flag_catch
from elastic_atlas.training.heldout import sane_dft, unseen_entries
from elastic_atlas.training.matbench import load_joint_dataset

TARGETS = ("log10_k_vrh", "log10_g_vrh")
WORST = 0.05


def predict(checkpoint: Checkpoint, graphs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, calibrated u, 95 % factor k) of graphs, in chunks."""
    inference = checkpoint.inference()
    means, sigmas, factors = [], [], []
    for i in range(0, len(graphs), 256):
        mean, spread = inference.predict_graphs(graphs[i : i + 256])
        means.append(mean)
        sigmas.append(inference.uncertainty(spread, mean))
        factors.append(inference.coverage_factors(spread, mean))
    return np.concatenate(means), np.concatenate(sigmas), np.concatenate(factors)


def shares(error: np.ndarray, sigma: np.ndarray, k95: np.ndarray) -> dict[str, float]:
    """The library's coverage, under the names of this report (u = the row's uncertainty)."""
    c = coverage(error, sigma, k95)
    return {"within_u": c["within_1_sigma"], "within_2u": c["within_2_sigma"],
            "within_k95u": c["within_k95_sigma"]}  # fmt: skip


def mp2023_unseen(checkpoint: Checkpoint) -> dict[str, np.ndarray]:
    """Predictions for sane MP-2023 DFT entries outside the training subset."""
    held = unseen_entries(
        shared_data() / "mp_elastic" / "mp2023_elastic",
        shared_data() / "matbench" / "matbench_elastic_subset_provenance.csv",
        checkpoint.graph,
    )
    mean, sigma, k = predict(checkpoint, held.graphs)
    return {"ids": np.array(held.ids), "mean": mean, "sigma": sigma, "k": k,
            "observed": held.observed, "density": held.density}  # fmt: skip


def matbench_split(checkpoint: Checkpoint, name: str) -> dict[str, np.ndarray]:
    """Predictions for a fold-0 split of the checkpoint's own training configuration."""
    config, split = checkpoint_fold(checkpoint)
    entries = evaluation_entries(config, split)
    graphs = [entries.graphs[m] for m in split[name]]
    mean, sigma, k = predict(checkpoint, graphs)
    dataset = load_joint_dataset(config.datasets)
    density = np.array([Structure.from_dict(dataset[m][0]).density for m in split[name]])
    return {"ids": np.array(split[name]), "mean": mean, "sigma": sigma, "k": k,
            "observed": entries.observed[name], "density": density}  # fmt: skip


def flag_table(data: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """flag_catch of the model card, for every flag and any flag, plus the MAE of the marked
    and the other rows."""
    flags = risk_flags(10 ** data["mean"][:, 0], data["density"], data["sigma"][:, 0],
                       data["sigma"][:, 1])  # fmt: skip
    marks = {str(name): flags[name] == 1 for name in FLAG_COLUMNS}
    marks["any flag"] = np.any(list(marks.values()), axis=0)
    errors = np.abs(data["mean"] - data["observed"])
    out = flag_catch(marks, errors, list(TARGETS))
    for name, marked in marks.items():
        for j, target in enumerate(TARGETS):
            out[name][f"{target} MAE flagged"] = (
                float(errors[marked, j].mean()) if marked.any() else 0
            )
            out[name][f"{target} MAE unflagged"] = float(errors[~marked, j].mean())
    return out


def summarise(data: dict[str, np.ndarray]) -> dict[str, dict]:
    out = {}
    for j, target in enumerate(TARGETS):
        error = data["mean"][:, j] - data["observed"][:, j]
        out[target] = {"n": len(error), "mae": float(np.mean(np.abs(error))),
                       "mean_signed": float(np.mean(error)),
                       **shares(error, data["sigma"][:, j], data["k"][:, j])}  # fmt: skip
    return out


def uncertainty_thresholds(data: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """How the uncertainty flag's threshold trades rows marked for worst errors caught."""
    rows = []
    for share in (0.10, 0.15, 0.20, 0.25, 0.30):  # a threshold per modulus marking this share
        limits = np.quantile(data["sigma"], 1 - share / 2, axis=0)  # each marks about half
        marked = (data["sigma"] > limits).any(axis=1)
        row = {"u_K above": float(limits[0]), "u_G above": float(limits[1]),
               "rows_marked": float(marked.mean())}  # fmt: skip
        for j, target in enumerate(TARGETS):
            error = np.abs(data["mean"][:, j] - data["observed"][:, j])
            worst = error >= np.quantile(error, 1 - WORST)
            row[f"{target} worst 5% caught"] = float(marked[worst].mean())
        rows.append(row)
    return rows


def noise_floor() -> dict[str, float]:
    """MP 2018 vs MP 2023 DFT moduli of the same ids (sane 2023 tensors): mean and median."""
    old = pd.read_csv(shared_data() / "mp_elastic" / "mp2018_elastic" / "elastic.csv")
    new = sane_dft(pd.read_csv(shared_data() / "mp_elastic" / "mp2023_elastic" / "elastic.csv"))
    both = old.merge(new, on="material_id", suffixes=("_2018", "_2023"))
    out = {"n": len(both)}
    for column in ("k_vrh", "g_vrh"):
        ok = (both[f"{column}_2018"] > 0) & (both[f"{column}_2023"] > 0)
        difference = np.abs(
            np.log10(both[f"{column}_2018"][ok]) - np.log10(both[f"{column}_2023"][ok])
        )
        out[f"log10_{column} MAE"] = float(difference.mean())
        out[f"log10_{column} median"] = float(difference.median())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_checkpoint())
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "trust.json")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.model)
    card = checkpoint.card
    validation = matbench_split(checkpoint, "validation")
    test = matbench_split(checkpoint, "test")
    unseen = mp2023_unseen(checkpoint)
    report = {
        **header(),
        "model": args.model.name,
        "thresholds": {
            "soft_bulk_modulus": SOFT_BULK_MODULUS,
            "low_density": LOW_DENSITY,
            "high_uncertainty": HIGH_UNCERTAINTY,
        },
        "calibration": {
            t.name: t.calibration.as_dict() for t in checkpoint.targets if t.calibration
        },
        "fold0_test_card": {
            target: {
                "mae": m["test"]["mae"],
                "mae_without_duplicates": m["test_without_duplicate_materials"]["mae"],
                "duplicates": m["test_without_duplicate_materials"]["left_out"],
                "coverage": m.get("uncertainty_coverage", {}).get("test"),
            }
            for target, m in card["metrics"]["targets"].items()
        },
        "fold0_test": summarise(test),
        "mp2023_unseen": summarise(unseen),
        "mp2023_unseen_ids": list(map(str, unseen["ids"])),
        "flags": {
            "validation": flag_table(validation),
            "test": flag_table(test),
            "mp2023_unseen": flag_table(unseen),
        },
        "uncertainty_threshold_on_validation": uncertainty_thresholds(validation),
        "label_noise_mp2018_vs_mp2023": noise_floor(),
    }
    write_report(args.json, report)
    print(f"# {report['date']}, {report['machine']}, model {report['model']}")
    for name in ("fold0_test", "mp2023_unseen"):
        for target, m in report[name].items():
            print(
                f"{name:14} {target}: n={m['n']} MAE {m['mae']:.4f} "
                f"signed {m['mean_signed']:+.4f} within u {m['within_u']:.1%}, "
                f"2u {m['within_2u']:.1%}, k95·u {m['within_k95u']:.1%}"
            )
    for split, table in report["flags"].items():
        print(f"\nflags on {split}:")
        print(pd.DataFrame(table).T.to_string(float_format=lambda v: f"{v:.3f}"))
    print("\nuncertainty threshold on validation:")
    print(pd.DataFrame(report["uncertainty_threshold_on_validation"]).to_string(index=False))
    print("\nlabel noise:", report["label_noise_mp2018_vs_mp2023"])
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
