"""What each architecture or loss change gave: fold-0 test MAE of training runs, alone and as
ensembles, next to the adopted checkpoint's members, and what each costs at inference.

Usage: .venv/bin/python benchmarks/bench_trials.py NAME=RUN[,RUN...] ... [--json OUT]

Each NAME=RUN,... is one configuration: every run alone and the mean of its runs (an
ensemble) are scored on Matbench fold 0's test entries (all runs must share that split).
Inference cost: CPU milliseconds per structure of the configuration's ensemble on 512 test
structures, one thread, best of 3, and its ratio to the first configuration measured in the
same process. The runs are made with `elastic-atlas train` (BENCHMARKS.md gives each
command; `--device cuda` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from common import ROOT, machine, today, write_report

from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.training.freeze import runs_checkpoint
from elastic_atlas.training.graphs import cached_graphs
from elastic_atlas.training.matbench import load_joint_dataset
from elastic_atlas.training.train import load_run_model


def inference_ms(checkpoint: Checkpoint, graphs: list) -> float:
    """CPU ms per structure of an ensemble in the release's inference form, best of 3."""
    inference = checkpoint.inference()
    sample = graphs[:512]
    best_seconds = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(sample), 128):
            inference.predict_graphs(sample[i : i + 128])
        best_seconds = min(best_seconds, time.perf_counter() - start)
    return 1000 * best_seconds / len(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", help="NAME=RUN[,RUN...]")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/trials.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    groups = {}
    for item in args.groups:
        name, _, runs = item.partition("=")
        groups[name] = [Path(run) for run in runs.split(",")]

    first = next(iter(groups.values()))[0]
    _, config, _, _ = load_run_model(first)
    split = json.loads((first / "split.json").read_text())
    dataset = load_joint_dataset(config.datasets)
    graphs_by_id = cached_graphs(dataset, config.graph, config.cache)
    test = split["test"]
    graphs = [graphs_by_id[m] for m in test]
    observed = np.array([dataset[m][1] for m in test])

    report = {
        "date": today(),
        "machine": machine(),
        "split": "Matbench fold 0 test",
        "n": len(test),
        "unit": "log10(GPa)",
        "targets": list(config.targets),
        "configurations": {},
    }
    baseline_ms = None
    for name, runs in groups.items():
        for run in runs:
            if json.loads((run / "split.json").read_text())["test"] != test:
                raise SystemExit(f"{run} was not scored on the same test entries")
        checkpoint = runs_checkpoint(runs)
        predictions = [replace(checkpoint, members=[member]).predict_graphs(graphs)[0]
                       for member in checkpoint.members]  # fmt: skip
        ensemble = checkpoint.predict_graphs(graphs)[0]
        ms = inference_ms(checkpoint, graphs)
        baseline_ms = baseline_ms or ms
        report["configurations"][name] = {
            "runs": [str(run) for run in runs],
            "each_run_mae": [
                np.abs(p - observed).mean(axis=0).round(5).tolist() for p in predictions
            ],
            "ensemble_mae": np.abs(ensemble - observed).mean(axis=0).round(5).tolist(),
            "inference_ms_per_structure": round(ms, 3),
            "inference_vs_first": round(ms / baseline_ms, 2),
            "inference_ms_per_member": round(ms / len(runs), 3),
        }
        entry = report["configurations"][name]
        print(
            f"{name:>14}: ensemble of {len(runs)} MAE K {entry['ensemble_mae'][0]:.4f} "
            f"G {entry['ensemble_mae'][1]:.4f}; runs {entry['each_run_mae']}; "
            f"{ms:.2f} ms/structure ({entry['inference_vs_first']}x; "
            f"{entry['inference_ms_per_member']:.2f} per member)"
        )
    write_report(args.json, report)


if __name__ == "__main__":
    main()
