"""The shared-data release on each engine, in the same run (issue 23: the Dask engine on a
2-worker cluster that the command starts reaches >= 90 % of the local engine's inputs/s).

Usage: .venv/bin/python benchmarks/bench_engines_release.py [--config build/release.toml]
       [--workers 2] [--pairs 3] [--json FILE]
Each pair builds the release from scratch once per engine, as a whole command (`elastic-atlas
release --engine local|dask --workers N`: the Dask engine's cluster start is in the time); the
order alternates between pairs (local first in odd pairs, Dask first in even ones), so neither
engine always runs on a warmer page cache. The ratio is taken within each pair, as the
machine's load moves between pairs. Inputs = rows + rejects of every table (every input ends in
one of them). Each table's CSV, Parquet, structures and rejects files are compared byte for byte
with the first local release. Memory: the peak RSS of the command's own process and the peak
PSS of its process tree (workers included), sampled every 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pyarrow.csv as pv
import pyarrow.parquet as pq
from common import BIN, OUT, ROOT, header, measure, write_report

VERSION = "0.0.0-engines"


def table_files(release: Path, table: str) -> list[Path]:
    names = (".csv", ".parquet", "-structures.parquet", "-rejects.csv")
    return [release / f"{table}{suffix}" for suffix in names]


def release(config: Path, folder: Path, engine: str, workers: int) -> dict:
    """One release from scratch on `engine`: wall time, inputs, memory."""
    shutil.rmtree(folder, ignore_errors=True)
    command = [str(BIN / "elastic-atlas"), "release", "--config", str(config), "--version",
               VERSION, "--releases", str(folder), "--quiet", "--engine", engine,
               "--workers", str(workers)]  # fmt: skip
    folder.parent.mkdir(parents=True, exist_ok=True)
    log = folder.with_suffix(".log")  # beside the releases folder, not in it
    run = measure(command, log)
    if run["exit"] != 0:
        raise SystemExit(f"{engine} release failed: {log.read_text()[-500:]}")
    built = folder / VERSION
    tables = sorted(p.stem for p in built.glob("*.parquet") if "-" not in p.stem)
    inputs = {
        t: pq.read_metadata(built / f"{t}.parquet").num_rows
        + pv.read_csv(built / f"{t}-rejects.csv").num_rows
        for t in tables
    }
    total = sum(inputs.values())
    return {
        "engine": engine,
        "wall_s": round(run["seconds"], 1),
        "inputs": inputs,
        "inputs_per_s": round(total / run["seconds"], 1),
        "client_peak_rss_mib": round(run["own_peak_rss_mib"]),
        "tree_peak_pss_mib": round(run["peak_pss_mib"]),
        "tables": tables,
    }


def same_files(a: Path, b: Path, tables: list[str]) -> bool:
    return all(
        x.read_bytes() == y.read_bytes()
        for t in tables
        for x, y in zip(table_files(a, t), table_files(b, t), strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "build" / "release.toml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = OUT / "engines-release"
    reference = folder / "reference"
    runs = []
    for pair in range(args.pairs):
        order = ("local", "dask") if pair % 2 == 0 else ("dask", "local")
        results = {}
        for engine in order:
            target = reference if (pair == 0 and engine == "local") else folder / engine
            results[engine] = release(args.config, target, engine, args.workers)
            results[engine]["same_bytes"] = same_files(
                target / VERSION, reference / VERSION, results[engine]["tables"]
            )
        ratio = round(results["dask"]["inputs_per_s"] / results["local"]["inputs_per_s"], 3)
        runs.append({"order": list(order), **results, "dask_over_local": ratio})
        print(f"pair {pair + 1} ({' then '.join(order)}): local {results['local']['wall_s']} s, "
              f"dask {results['dask']['wall_s']} s, ratio {ratio}", flush=True)  # fmt: skip
    report = {**header(), "config": args.config.name, "workers": args.workers,
              "load_average": os.getloadavg(), "pairs": runs}  # fmt: skip
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
