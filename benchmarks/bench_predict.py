"""Prediction speed and memory on all 36,737 MP 2018 structures with the reference bulk checkpoint.

Usage: .venv/bin/python benchmarks/bench_predict.py [--sample N] [--stages-only] [--json FILE]
1. Stage costs (parse, graph, inference) on a random sample, one process and one torch thread
   (the cost per core), by atoms per cell.
2. End to end: `elastic-atlas predict` over the whole zip (2 worker processes), with the peak
   memory of the whole process tree. Targets: >= 300 structures/s, <= 2 GB.
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import BIN, OUT, header, measure, write_report

from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.inputs.recipe import default_checkpoint
from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.model.graph import build_graph
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.paths import shared_data

BUCKETS = [(1, 8), (9, 16), (17, 32), (33, 64), (65, 10_000)]


def stage_costs(names: list[str], archive: zipfile.ZipFile, checkpoint) -> dict[str, Any]:
    """Parse, graph and inference ms per structure by atoms per cell, and the batch sweep."""
    texts = [archive.read(n).decode() for n in names]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for text in texts:
            t0 = time.perf_counter()
            structure = parse_cif(text)
            t1 = time.perf_counter()
            graph = build_graph(structure)
            t2 = time.perf_counter()
            rows.append((len(structure), t1 - t0, t2 - t1, graph))
    graphs = [r[3] for r in rows]
    infer = np.zeros(len(graphs))
    for i in range(0, len(graphs), 32):
        start = time.perf_counter()
        checkpoint.predict_graphs(graphs[i : i + 32])
        per_atom = (time.perf_counter() - start) / sum(g.n_atoms for g in graphs[i : i + 32])
        for j in range(i, min(i + 32, len(graphs))):
            infer[j] = per_atom * graphs[j].n_atoms  # batch cost shared by atoms
    own = load_checkpoint(default_checkpoint())
    members = len(own.members)
    sweep = batch_sweep(
        graphs,
        {
            "reference bulk (4 conv, 1 member)": checkpoint,
            f"own K+G (3 conv, {members} members)": own,
        },
    )
    atoms = np.array([r[0] for r in rows])
    parse = np.array([r[1] for r in rows])
    graph = np.array([r[2] for r in rows])

    def costs(mask: np.ndarray) -> dict[str, float]:
        return {
            "structures": int(mask.sum()),
            "parse_ms": float(parse[mask].mean() * 1e3),
            "graph_ms": float(graph[mask].mean() * 1e3),
            "inference_ms": float(infer[mask].mean() * 1e3),
        }

    buckets = {}
    for low, high in BUCKETS:
        mask = (atoms >= low) & (atoms <= high)
        if mask.any():
            buckets[f"{low}-{high if high < 10_000 else 'max'}"] = costs(mask)
    everything = {**costs(atoms > 0), "mean_atoms": float(atoms.mean())}
    return {"by_atoms": buckets, "all": everything, "batch_sweep": sweep}


def batch_sweep(graphs: list, checkpoints: dict[str, Checkpoint]) -> dict[str, dict[str, float]]:
    """Inference structures/s by batch size: the folded model vs the ordinary module forward
    (every member of each checkpoint, as a release evaluates them)."""
    from elastic_atlas.model.cgcnn import collate

    sizes = [16, 32, 64, 128, 256, 1024]
    out = {}
    for label, checkpoint in checkpoints.items():
        inference = checkpoint.inference()
        modules = [m.eval() for m in checkpoint.members]

        def forward(batch_graphs: list, modules=modules, checkpoint=checkpoint) -> None:
            with torch.no_grad():
                batch = collate(batch_graphs, checkpoint.features.values)
                for module in modules:
                    module(batch)

        for kind, predict in (("folded", inference.predict_graphs), ("module", forward)):
            rates = {}
            for size in sizes:
                start = time.perf_counter()
                for i in range(0, len(graphs), size):
                    predict(graphs[i : i + size])
                rates[str(size)] = len(graphs) / (time.perf_counter() - start)
            out[f"{label}, {kind}"] = rates
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--stages-only", action="store_true", help="skip the end-to-end run")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in each worker process of `elastic-atlas predict`
    data = shared_data()
    reference = data / "models" / "cgcnn_reference"
    zip_path = data / "mp2018" / "structures.zip"
    checkpoint = load_checkpoint(reference / "bulk-moduli.pth.tar", reference / "atom_init.json")
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(archive.namelist())
        random.Random(0).shuffle(names)
        report = {
            **header(),
            "sample": args.sample,
            **stage_costs(names[: args.sample], archive, checkpoint),
        }
    print(f"stages: {report['all']}")
    if not args.stages_only:
        report["end_to_end"] = end_to_end(zip_path, reference, len(names))
        print(f"end to end: {report['end_to_end']}")
    if args.json:
        write_report(args.json, report)


def end_to_end(zip_path: Path, reference: Path, structures: int) -> dict[str, Any]:
    """`elastic-atlas predict` over the whole zip: seconds, structures/s, peak memory."""
    OUT.mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "elastic-atlas"),
        "predict",
        "--checkpoint",
        str(reference / "bulk-moduli.pth.tar"),
        "--atom-init",
        str(reference / "atom_init.json"),
        str(zip_path),
        "-o",
        str(OUT / "bulk.csv"),
    ]
    (OUT / "bulk.csv").unlink(missing_ok=True)  # predict refuses to overwrite
    result = measure(command, OUT / "bench_predict.log")
    return {**result, "structures": structures, "per_second": structures / result["seconds"]}


if __name__ == "__main__":
    main()
