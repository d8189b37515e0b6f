"""Per-entry held-out predictions of training runs, committed so figures can be recomputed
without retraining (issue 20, item 5).

Usage: .venv/bin/python benchmarks/export_heldout.py RUN... -o benchmarks/results/FILE.csv
For every run, each entry of the run's own held-out split ("test" in its split.json: the fold's
test entries for an official-fold run, the held-out chemical systems for a leave-cluster-out run
`--inner-split chemsys`) with its Matbench id, run, fold, inner part and split kind, and the
run's predictions (log10 GPa). Only what this project's code produced is written: the DFT
targets stay in Matbench's files (join on mbid), and run folders are named by name only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from elastic_atlas.paths import shared_data
from elastic_atlas.training.freeze import runs_checkpoint
from elastic_atlas.training.graphs import cached_graphs
from elastic_atlas.training.matbench import load_joint_dataset
from elastic_atlas.training.train import TrainConfig


def heldout_rows(run: Path) -> pd.DataFrame:
    config = TrainConfig.model_validate_json((run / "config.json").read_text())
    held = json.loads((run / "split.json").read_text())["test"]
    dataset = load_joint_dataset([shared_data() / "matbench" / p.name for p in config.datasets])
    graphs = cached_graphs(dataset, config.graph, config.cache)
    predicted = runs_checkpoint([run]).predict_graphs([graphs[m] for m in held])[0]
    frame = pd.DataFrame({
        "mbid": held,
        "run": run.name,
        "fold": config.fold,
        "inner_part": config.inner_fold if config.inner_fold is not None else -1,
        "split": ("chemsys_out" if config.inner_split == "chemsys" else "random_out")
        if config.inner_fold is not None else "fold_test",
    })  # fmt: skip
    errors = {}
    for j, target in enumerate(config.targets):
        frame[f"{target}_predicted"] = predicted[:, j]
        errors[target] = float(abs(predicted[:, j] - [dataset[m][1][j] for m in held]).mean())
    print(run.name, len(held), "MAE", {t: round(v, 4) for t, v in errors.items()})
    return frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    frame = pd.concat([heldout_rows(run) for run in args.runs], ignore_index=True)
    frame = frame.sort_values(["run", "mbid"]).reset_index(drop=True)
    frame.to_csv(args.output, index=False, lineterminator="\n", float_format="%.6f")


if __name__ == "__main__":
    main()
