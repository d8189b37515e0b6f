"""A full release on the shared real data (MPED: 36,737 MP inputs; NED: 35,996 GNoME inputs).

Usage: .venv/bin/python benchmarks/bench_release.py [--sample N] [--stages-only] [--former DIR...]
                                                  [--json FILE]
1. Stage costs per table: N random structures that pass the summary screen, each stage timed in one
   process with one torch thread (the cost per core), and the rate two cores could reach if
   they did nothing else; also the CGCNN stage with the plain exponential distance basis
   (subnormal tail kept, as before 2026-11-26) on the same graphs, and the ratio.
2. Builds build/release.toml as version 0.0.0-bench into benchmarks/out/releases (never
   committed), and reports end-to-end time, inputs/s and the peak memory of the process tree.
Goal: >= 400 inputs/s overall, <= 2 GB.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from common import BIN, OUT, ROOT, header, measure, write_report

import elastic_atlas.model.cgcnn as cgcnn
from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.model.graph import atomic_numbers_of, build_graph
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.pipeline.candidates import (
    add_symmetry,
    candidates,
    load_models,
    recipe_summary,
)
from elastic_atlas.pipeline.predict import structure_info
from elastic_atlas.pipeline.records import Accounting
from elastic_atlas.release.assemble import load_config

STAGES = ["parse", "facts", "graph", "symmetry", "CGCNN"]


def model_seconds(checkpoints: list, graphs: list) -> float:
    """Seconds for every checkpoint to predict (and calibrate) the graphs in batches of 32."""
    start = time.perf_counter()
    for checkpoint in checkpoints:
        inference = checkpoint.inference()
        for i in range(0, len(graphs), 32):
            mean, spread = inference.predict_graphs(graphs[i : i + 32])
            inference.expanded_uncertainty(spread, mean)
    return time.perf_counter() - start


def plain_basis_seconds(checkpoints: list, graphs: list) -> float:
    """model_seconds with exp(−(d − μ)²/w²) computed plainly, subnormals and all."""
    fast = cgcnn.gaussian_basis
    cgcnn.gaussian_basis = lambda d, centers, width2: torch.exp(
        -((d.unsqueeze(-1) - centers) ** 2) / width2
    )
    try:
        return model_seconds(checkpoints, graphs)
    finally:
        cgcnn.gaussian_basis = fast


def stage_costs(sample: int, former: list[Path]) -> dict[str, dict[str, Any]]:
    """Mean ms per structure of each stage, single core, for each table of the release; with
    `former` checkpoints, their CGCNN cost on the same graphs in the same run (a ratio that
    holds on any machine)."""
    torch.set_num_threads(1)
    _, recipes = load_config(ROOT / "build" / "release.toml")
    out = {}
    for table, recipe in recipes.items():
        checkpoints = load_models(recipe)  # one network for K and G, or one per modulus
        everything = list(candidates(recipe, Accounting(), recipe_summary(recipe)))
        raws = random.Random(0).sample(everything, min(sample, len(everything)))
        seconds = {stage: 0.0 for stage in STAGES}
        graphs, atoms = [], 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for raw in raws:
                t0 = time.perf_counter()
                structure = parse_cif(raw.text or "")
                t1 = time.perf_counter()
                atomic_numbers_of(structure)
                info = {**raw.metadata, **structure_info(structure)}
                t2 = time.perf_counter()
                graphs.append(build_graph(structure))
                t3 = time.perf_counter()
                add_symmetry(structure, info)
                t4 = time.perf_counter()
                spans = [(t0, t1), (t1, t2), (t2, t3), (t3, t4)]
                for stage, (a, b) in zip(STAGES[:4], spans, strict=True):
                    seconds[stage] += b - a
                atoms += len(structure)
        seconds["CGCNN"] = model_seconds(checkpoints, graphs)
        per = {stage: 1e3 * value / len(raws) for stage, value in seconds.items()}
        row: dict[str, Any] = {"structures": len(raws), "atoms": atoms / len(raws), "ms": per}
        row["total_ms"] = sum(per.values())
        row["plain_basis_ms"] = 1e3 * plain_basis_seconds(checkpoints, graphs) / len(raws)
        if former:
            old = [load_checkpoint(p) for p in former]
            row["former_ms"] = 1e3 * model_seconds(old, graphs) / len(raws)
        out[table] = row
        print(f"{table}: {row['total_ms']:.2f} ms per accepted structure", flush=True)
    return out


def end_to_end() -> dict[str, Any]:
    """`elastic-atlas release` of build/release.toml: seconds, inputs/s, peak memory."""
    releases = OUT / "releases"
    shutil.rmtree(releases, ignore_errors=True)
    command = [
        str(BIN / "elastic-atlas"),
        "release",
        "--config",
        str(ROOT / "build" / "release.toml"),
        "--version",
        "0.0.0-bench",
        "--releases",
        str(releases),
    ]
    result = measure(command, OUT / "bench_release.log")
    inputs = 36_737 + 35_996
    return {**result, "inputs": inputs, "inputs_per_second": inputs / result["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--stages-only", action="store_true")
    parser.add_argument(
        "--former", type=Path, nargs="*", default=[],
        help="checkpoints whose CGCNN cost to set beside the current one (e.g. the per-target "
        "pair of an earlier version, from `git archive`)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    report = {**header(), "sample": args.sample, "stages": stage_costs(args.sample, args.former)}
    if not args.stages_only:
        report["end_to_end"] = end_to_end()
        print(f"end to end: {report['end_to_end']}")
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
