"""Can an uncertainty calibrated on leave-chemical-system-out errors hold for new materials?

Usage: .venv/bin/python benchmarks/bench_ood_calibration.py [--json OUT] [--release DIR]
[--model CHECKPOINT]
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
  (report-only), next to the base σ = √(a² + (b·s)²) (the form adopted before) and the adopted,
  grouped σ of the checkpoint (`elastic-atlas calibrate`, model/calibration.py): within σ, within
  the 95 % interval, per tercile of σ, on the rows each risk flag marks and on the rows of new
  and of known chemical systems, Spearman(σ, |error|);
- with --release DIR: per table, the share of rows beyond the test set's 95th percentile of u and
  of rows of chemical systems absent from training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from bench_uncertainty_limit import fit_three_terms, latent
from common import ROOT, checkpoint_fold, header, write_report
from scipy.stats import spearmanr

from elastic_atlas.contract.risk import risk_flags
from elastic_atlas.inputs.recipe import default_checkpoint
from elastic_atlas.model.calibration import TWO_SIGMA
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


def held_systems(ids: list[str]) -> list[str]:
    """Chemical systems of MP-2023 entries, from their structures."""
    import warnings
    import zipfile

    from pymatgen.core import Structure

    out = []
    path = shared_data() / "mp_elastic" / "mp2023_elastic" / "structures.zip"
    with zipfile.ZipFile(path) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for material_id in ids:
            text = archive.read(f"{material_id}.cif").decode()
            out.append(Structure.from_str(text, "cif").composition.chemical_system)
    return out


def table_evidence(release: Path, trained: set[str], sets: dict, calibrations: list) -> dict:
    """Per table of a release: the share of rows whose u lies beyond the test set's 95th
    percentile (the calibration's own measure of distance from the training data: the
    members' disagreement) and of rows of chemical systems absent from training; and how
    the MP-2023 entries beyond that percentile are covered (report-only, few)."""
    mu, s = sets["fold0_test"][0], sets["fold0_test"][1]
    u_test = np.stack([c.sigma(s[:, i], 10.0 ** mu[:, 0]) for i, c in enumerate(calibrations)], 1)
    limits = np.quantile(u_test, 0.95, axis=0)
    mu_h, s_h, observed_h = sets["mp2023_outside"][:3]
    u_held = np.stack([c.sigma(s_h[:, i], 10.0 ** mu_h[:, 0]) for i, c in enumerate(calibrations)],
                      1)  # fmt: skip
    beyond = (u_held > limits).any(axis=1)
    within = np.abs(mu_h - observed_h) <= u_held
    out: dict = {"test_u_95th_percentile": limits.tolist(),
                 "mp2023_beyond": {"n": int(beyond.sum()),
                                   "within_u": within[beyond].mean(axis=0).tolist()
                                   if beyond.any() else None}}  # fmt: skip
    for path in sorted(release.glob("*.parquet")):
        if path.stem.endswith(("-structures", "-rejects", "-changes")):
            continue
        frame = pd.read_parquet(path, columns=["chemsys", "k_vrh_uncertainty",
                                               "g_vrh_uncertainty"])  # fmt: skip
        u = frame[["k_vrh_uncertainty", "g_vrh_uncertainty"]].to_numpy(dtype=float)
        out[path.stem] = {
            "rows": len(frame),
            "beyond_test_95th_percentile": float((u > limits).any(axis=1).mean()),
            "new_chemical_system": float((~frame.chemsys.isin(trained)).mean()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks/results/ood_calibration.json"
    )
    parser.add_argument("--release", type=Path, help="a release folder to give evidence for")
    parser.add_argument("--model", type=Path, default=default_checkpoint(),
                        help="the checkpoint to score (default: the packaged one)")  # fmt: skip
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.model)
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
    report = {**header(), "model": checkpoint.path.name,
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
    # the rows each flag marks, as the release publishes them (the adopted u), and the rows of
    # chemical systems the checkpoint's training entries do not have (new compositions)
    flags_of = {
        name: {str(f): np.asarray(v, dtype=float) == 1 for f, v in risk_flags(
            10.0 ** mu[:, 0], density,
            *(c.sigma(s[:, i], 10.0 ** mu[:, 0]) for i, c in enumerate(calibrations))
        ).items()}
        for name, (mu, s, _, _, density) in sets.items()
    }  # fmt: skip
    trained = {chemical_system(dataset[m][0]) for m in split["train"]}
    systems_of = {"fold0_test": [chemical_system(dataset[m][0]) for m in split["test"]],
                  "mp2023_outside": held_systems(held.ids)}  # fmt: skip
    for name, found in systems_of.items():
        new = np.array([system not in trained for system in found])
        flags_of[name] |= {"new chemical system": new, "known chemical system": ~new}
    report["new_chemical_system_share"] = {
        name: float(flags_of[name]["new chemical system"].mean()) for name in sets
    }
    if args.release is not None:
        report["tables"] = table_evidence(args.release, trained, sets, calibrations)
    for j, target in enumerate(config.targets):
        loco_pred = np.array([loco.loc[m, f"{target}_predicted"] for m in pool])
        error = np.concatenate([loco_pred[:-n_val], mu_pool[-n_val:, j]]) - observed_pool[:, j]
        model = fit(error, s_pool[:, j], d_pool)
        adopted = calibrations[j]
        # the base form's own 95 % factor, as `freeze` fitted it on the validation entries
        ratio_val = np.abs(error[-n_val:]) / adopted.base(s_pool[-n_val:, j])
        k95_base = float(np.quantile(ratio_val, TWO_SIGMA))
        result = {"fit": model, "adopted": adopted.as_dict(), "k95_base": k95_base}
        for name, (mu, s, observed, d, _) in sets.items():
            err = mu[:, j] - observed[:, j]
            new = np.sqrt(model["a"] ** 2 + (model["b"] * s[:, j]) ** 2 + (model["c"] * d) ** 2)
            bulk = 10.0 ** mu[:, 0]
            result[name] = {
                "base": scores(err, adopted.base(s[:, j]), k95_base, flags_of[name]),
                "loco_calibrated": scores(err, new, model["k95"], flags_of[name]),
                "adopted": scores(err, adopted.sigma(s[:, j], bulk),
                                  adopted.factor(s[:, j], bulk), flags_of[name]),
                "median_d": float(np.median(d)),
            }  # fmt: skip
        report["targets"][target] = result
        print(target, json.dumps(result, indent=1))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
