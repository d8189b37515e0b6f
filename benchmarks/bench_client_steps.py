"""Where a sharded build's client peaks (issue 23): each step of the client in its own process.

Usage: .venv/bin/python benchmarks/bench_client_steps.py [--sizes 10000 1000000]
       [--engine dask] [--json FILE]
Needs the inputs and a finished build of `bench_scale.py` (benchmarks/out/scale/N/out-ENGINE):
its parts are merged again here into a scratch folder. Steps, each in a fresh process under the
build's memory regime (`lean_client`), peak RSS (ru_maxrss) after the step and the process's
RSS after the imports and model load every step starts with:
- plan: the summary read and checked, and the plan written (into a scratch folder);
- merge: the table's CSV and Parquet, the rejects and the structures from the build's parts.
The build's client peak is at least the largest of these; the difference between sizes says
which step grows with the input.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BIN, OUT, header, write_report


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step(name: str, size: int, engine: str) -> dict:
    """Run in a child process: one step of the client, its memory."""
    from elastic_atlas.inputs.recipe import load_recipe
    from elastic_atlas.pipeline.candidates import load_models, recipe_summary_table
    from elastic_atlas.pipeline.engines import merge_structure_parts
    from elastic_atlas.pipeline.memory import give_back_memory, lean_client
    from elastic_atlas.pipeline.merge import merge_reject_parts, merge_table_parts
    from elastic_atlas.pipeline.parts import REJECTS, ROWS, STRUCTURES
    from elastic_atlas.pipeline.workplan import write_plan

    folder = OUT / "scale" / str(size)
    recipe = load_recipe(folder / "recipe.toml")
    with lean_client(), tempfile.TemporaryDirectory(dir=folder, prefix=".steps-") as scratch:
        load_models(recipe)
        give_back_memory()
        ready, ready_peak, peaks = rss_mib(), peak_mib(), {}
        if name == "plan":
            write_plan(recipe, recipe_summary_table(recipe), Path(scratch))
        else:
            parts = sorted(p for p in (folder / f"out-{engine}" / "parts").glob("s*-*"))
            out = Path(scratch)
            merge_table_parts([p / ROWS for p in parts], "mped", out / "mped.csv",
                              out / "mped.parquet", {})  # fmt: skip
            give_back_memory()
            peaks["rows"] = round(peak_mib(), 1)  # the peak so far after each merge
            rejects = [p / REJECTS for p in parts]
            rejects.append(folder / f"out-{engine}" / "parts" / "plan-rejects.parquet")
            merge_reject_parts(rejects, "mped", out / "rejects.csv")
            give_back_memory()
            peaks["rejects"] = round(peak_mib(), 1)
            merge_structure_parts([p / STRUCTURES for p in parts], out / "structures.parquet", {})
            peaks["structures"] = round(peak_mib(), 1)
    return {"size": size, "step": name, "ready_rss_mib": round(ready, 1),
            "ready_peak_mib": round(ready_peak, 1), "peak_mib": round(peak_mib(), 1),
            "peak_after_mib": peaks}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--engine", default="dask")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(step(args.child[0], int(args.child[1]), args.engine)))
        return
    runs = []
    for size in args.sizes:
        for name in ("plan", "merge"):
            command = [str(BIN / "python"), __file__, "--engine", args.engine, "--child", name,
                       str(size)]  # fmt: skip
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(runs[-1], flush=True, file=sys.stderr)
    if args.json:
        write_report(args.json, {**header(), "engine": args.engine, "runs": runs})


if __name__ == "__main__":
    main()
