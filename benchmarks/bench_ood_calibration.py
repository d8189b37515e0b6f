"""Can an uncertainty calibrated on leave-chemical-system-out errors hold for new materials?

Usage: .venv/bin/python benchmarks/bench_ood_calibration.py [--json OUT]
(needs ../shared/data and benchmarks/results/loco_heldout.csv from `make loco` +
benchmarks/export_heldout.py). For the packaged checkpoint (3 members, fold 0):

- calibration data (never the evaluation data): the fold's training entries, each with the
  error of the leave-chemical-system-out run that never saw its chemical system, and the
  validation entries with the checkpoint's own errors (no member trained on them);
- per-row features: the members' spread s, and d, the mean standardised latent distance (first
  member's crystal vector) to the 10 nearest training entries — for a training entry, excluding
  every entry of its own chemical system, as its leave-out run saw it;
- σ² = a² + (b·s)² + (c·d)², a in closed form for 68.27 % within σ, (b, c) on a grid for the
  2σ share closest to 95.45 %, k95 for 95 % within k95·σ — all on the calibration data;
- scored on the fold-0 test and on the Materials Project 2023 entries outside the subset
  (report-only), next to the adopted σ = √(a² + (b·s)²): within σ, within k95·σ, per tercile
  of σ, on the rows each risk flag marks, Spearman(σ, |error|).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from bench_uncertainty_limit import fit_three_terms, latent
from common import ROOT, checkpoint_fold, machine, today
from scipy.stats import spearmanr

from elastic_atlas.contract.risk import SOFT_BULK_MODULUS, risk_flags
from elastic_atlas.inputs.recipe import default_checkpoint
from elastic_atlas.model.calibration import ONE_SIGMA
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.paths import shared_data
from elastic_atlas.training.evaluate import evaluation_entries
from elastic_atlas.training.heldout import unseen_entries
from elastic_atlas.training.matbench import load_joint_dataset
from elastic_atlas.training.train import chemical_system

K = 10


def distances(query: np.ndarray, pool: np.ndarray, blocked: list[np.ndarray] | None) -> np.ndarray:
    """Mean distance to the K nearest pool rows (rows of `blocked[i]` excluded for query i)."""
    out = np.empty(len(query))
    pool_sq = (pool**2).sum(1)
    for start in range(0, len(query), 1024):
        q = query[start : start + 1024]
        d2 = (q**2).sum(1)[:, None] + pool_sq[None, :] - 2 * q @ pool.T
        if blocked is not None:
            for i, rows in enumerate(blocked[start : start + 1024]):
                d2[i, rows] = np.inf
        nearest = np.sqrt(np.maximum(np.partition(d2, K, axis=1)[:, :K], 0))
        out[start : start + len(q)] = nearest.mean(axis=1)
    return out


def fit(error: np.ndarray, spread: np.ndarray, d: np.ndarray) -> dict[str, float]:
    # distances are in latent units (~0.01-1), hence a finer c grid than the benchmark's own
    a, b, c = fit_three_terms(error, spread, d, np.linspace(0, 6, 31), np.linspace(0, 0.2, 81))
    sigma = np.sqrt(a * a + (b * spread) ** 2 + (c * d) ** 2)
    k95 = float(np.quantile(np.abs(error) / sigma, 0.95))
    return {"a": a, "b": b, "c": c, "k95": k95}


LOCO_WEIGHT = 0.35  # share of the leave-out errors in the Mondrian calibration


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    at = min(int(np.searchsorted(cumulative / cumulative[-1], q)), len(values) - 1)
    return float(values[order][at])


class Mondrian:
    """σ = m_g · σ_adopted with one multiplier per group g (tercile of σ_adopted × predicted
    B below the soft threshold), each the weighted 68.27 % quantile of |error| / σ_adopted of
    the group's calibration entries (leave-out errors weighted LOCO_WEIGHT, validation errors
    the rest); the group's 95 % quantile gives its k95."""

    def __init__(self, error, base, soft, weights) -> None:
        self.edges = np.quantile(base, [1 / 3, 2 / 3])
        groups = self.group(base, soft)
        ratio = np.abs(error) / base
        self.m68, self.k95 = {}, {}
        for g in np.unique(groups):
            chosen = groups == g
            m68 = weighted_quantile(ratio[chosen], weights[chosen], ONE_SIGMA)
            self.m68[int(g)] = m68
            self.k95[int(g)] = weighted_quantile(ratio[chosen], weights[chosen], 0.95) / m68

    def group(self, base: np.ndarray, soft: np.ndarray) -> np.ndarray:
        return np.digitize(base, self.edges) * 2 + soft.astype(int)

    def sigma(self, base: np.ndarray, soft: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        groups = self.group(base, soft)
        return (base * np.array([self.m68[int(g)] for g in groups]),
                np.array([self.k95[int(g)] for g in groups]))  # fmt: skip


def scores(error: np.ndarray, sigma: np.ndarray, k95, flags: dict) -> dict:
    within = np.abs(error) <= sigma
    terciles = np.quantile(sigma, [1 / 3, 2 / 3])
    band = np.digitize(sigma, terciles)
    return {
        "n": len(error),
        "within_sigma": float(within.mean()),
        "within_k95_sigma": float((np.abs(error) <= np.asarray(k95) * sigma).mean()),
        "within_sigma_per_tercile": [float(within[band == k].mean()) for k in range(3)],
        "within_sigma_per_flag": {
            name: float(within[mask].mean()) for name, mask in flags.items() if mask.sum() >= 10
        },
        "spearman": float(spearmanr(sigma, np.abs(error)).statistic),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks/results/ood_calibration.json"
    )
    args = parser.parse_args()
    checkpoint = load_checkpoint(default_checkpoint())
    config, split = checkpoint_fold(checkpoint)
    matbench = shared_data() / "matbench"
    entries = evaluation_entries(config, split)
    dataset = load_joint_dataset(config.datasets)
    pool = split["train"] + split["validation"]
    systems = np.array([chemical_system(dataset[m][0]) for m in pool])
    same = {s: np.flatnonzero(systems == s) for s in set(systems)}
    z_pool = latent(checkpoint, [entries.graphs[m] for m in pool])
    centre, scale = z_pool.mean(0), z_pool.std(0) + 1e-6
    z_pool = (z_pool - centre) / scale
    loco = pd.read_csv(ROOT / "benchmarks/results/loco_heldout.csv").set_index("mbid")
    observed_pool = np.concatenate([entries.observed["train"], entries.observed["validation"]])
    d_pool = distances(z_pool, z_pool, [same[s] for s in systems])
    mu_pool, s_pool = (np.concatenate(x) for x in zip(entries.predict("train", checkpoint),
                                                      entries.predict("validation", checkpoint),
                                                      strict=True))  # fmt: skip
    n_val = len(split["validation"])
    z_test = (latent(checkpoint, [entries.graphs[m] for m in split["test"]]) - centre) / scale
    d_test = distances(z_test, z_pool, None)
    mu_test, s_test = entries.predict("test", checkpoint)
    provenance = matbench / "matbench_elastic_subset_provenance.csv"
    held = unseen_entries(shared_data() / "mp_elastic" / "mp2023_elastic", provenance,
                          checkpoint.graph)  # fmt: skip
    z_held = (latent(checkpoint, held.graphs) - centre) / scale
    d_held = distances(z_held, z_pool, None)
    mu_held, s_held = checkpoint.predict_graphs(held.graphs)
    report = {"date": today(), "machine": machine(), "model": checkpoint.path.name,
              "calibration_entries": len(pool),
              # d of the training entries, each without its own chemical system
              "median_d_training_left_out": float(np.median(d_pool[:-n_val])),
              "targets": {}}  # fmt: skip
    sets = {  # name: (predictions, spreads, observed, d, density)
        "fold0_test": (mu_test, s_test, entries.observed["test"], d_test, entries.test_density),
        "mp2023_outside": (mu_held, s_held, held.observed, d_held, held.density),
    }
    calibrations = [t.calibration for t in checkpoint.targets]
    # every per-entry feature, for trying other σ forms without recomputing (never committed)
    loco_all = np.array([[loco.loc[m, f"{t}_predicted"] for t in config.targets] for m in pool])
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
    np.savez(
        ROOT / "benchmarks" / "out" / "ood_features.npz", d_pool=d_pool, s_pool=s_pool,
        mu_pool=mu_pool, observed_pool=observed_pool, n_val=n_val, d_test=d_test, s_test=s_test,
        mu_test=mu_test, observed_test=entries.observed["test"], density_test=entries.test_density,
        d_held=d_held, s_held=s_held, mu_held=mu_held, observed_held=held.observed,
        density_held=held.density, loco=loco_all,
    )  # fmt: skip
    flags_of = {
        name: {str(f): np.asarray(v, dtype=float) == 1 for f, v in risk_flags(
            10.0 ** mu[:, 0], density, *(c.sigma(s[:, i]) for i, c in enumerate(calibrations))
        ).items()}
        for name, (mu, s, _, _, density) in sets.items()
    }  # fmt: skip
    loco_pred_k = np.array([loco.loc[m, "log10_k_vrh_predicted"] for m in pool])
    for j, target in enumerate(config.targets):
        loco_pred = np.array([loco.loc[m, f"{target}_predicted"] for m in pool])
        error = np.concatenate([loco_pred[:-n_val], mu_pool[-n_val:, j]]) - observed_pool[:, j]
        model = fit(error, s_pool[:, j], d_pool)
        adopted = calibrations[j]
        k_pool = 10.0 ** np.concatenate([loco_pred_k[:-n_val], mu_pool[-n_val:, 0]])
        n_out = len(pool) - n_val
        weights = np.concatenate([np.full(n_out, LOCO_WEIGHT / n_out),
                                  np.full(n_val, (1 - LOCO_WEIGHT) / n_val)])  # fmt: skip
        mondrian = Mondrian(error, adopted.sigma(s_pool[:, j]), k_pool < SOFT_BULK_MODULUS,
                            weights)  # fmt: skip
        result = {"fit": model, "mondrian": {"m68": mondrian.m68, "k95": mondrian.k95}}
        for name, (mu, s, observed, d, _) in sets.items():
            err = mu[:, j] - observed[:, j]
            new = np.sqrt(model["a"] ** 2 + (model["b"] * s[:, j]) ** 2 + (model["c"] * d) ** 2)
            soft = 10.0 ** mu[:, 0] < SOFT_BULK_MODULUS
            grouped, grouped_k95 = mondrian.sigma(adopted.sigma(s[:, j]), soft)
            result[name] = {
                "adopted": scores(err, adopted.sigma(s[:, j]), adopted.k95, flags_of[name]),
                "loco_calibrated": scores(err, new, model["k95"], flags_of[name]),
                "mondrian": scores(err, grouped, grouped_k95, flags_of[name]),
                "median_d": float(np.median(d)),
            }
        report["targets"][target] = result
        print(target, json.dumps(result, indent=1))
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
