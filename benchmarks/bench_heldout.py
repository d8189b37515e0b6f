"""Held-out MAE per run from the committed out-of-fold files, against Matbench's targets.

Usage: .venv/bin/python benchmarks/bench_heldout.py [--json benchmarks/results/heldout.json]
Scores benchmarks/results/loco_heldout.csv (leave-chemical-system-out runs, `make loco`) and
folds_oof.csv (one run per official fold, `make folds`), both written by export_heldout.py,
against the DFT targets in ../shared/data/matbench (joined on mbid): MAE per run and over all
entries, log10 GPa. No model is loaded: anyone with the two CSVs and Matbench's files gets the
same figures without retraining.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from common import ROOT, header, write_report

from elastic_atlas.paths import shared_data
from elastic_atlas.training.matbench import load_joint_dataset

TARGETS = ("log10_k_vrh", "log10_g_vrh")
FILES = {"leave_chemsys_out": "loco_heldout.csv", "official_folds": "folds_oof.csv"}


def scored(frame: pd.DataFrame, observed: dict[str, tuple[float, ...]]) -> dict:
    """MAE per target of one group of rows."""
    truth = np.array([observed[m] for m in frame.mbid])
    return {
        "n": len(frame),
        **{t: float(np.mean(np.abs(frame[f"{t}_predicted"] - truth[:, i])))
           for i, t in enumerate(TARGETS)},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    matbench = shared_data() / "matbench"
    dataset = load_joint_dataset(
        [matbench / f"matbench_log_{t}_mp2018_subset.json.gz" for t in ("kvrh", "gvrh")]
    )
    observed = {mbid: values for mbid, (_, values) in dataset.items()}
    report = {**header(), "files": {}}
    for name, file in FILES.items():
        frame = pd.read_csv(ROOT / "benchmarks" / "results" / file)
        runs = {run: scored(rows, observed) for run, rows in frame.groupby("run", sort=True)}
        report["files"][name] = {"file": file, "runs": runs, "all": scored(frame, observed)}
        print(name, report["files"][name]["all"])
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
