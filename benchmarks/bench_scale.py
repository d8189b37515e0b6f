"""A build's client memory as the input grows (issue 23): MP 2018 replicated to N inputs.

Usage: .venv/bin/python benchmarks/bench_scale.py [--sizes 10000 1000000] [--engines dask local]
       [--workers 2] [--json FILE]
For each size N (inputs made once under benchmarks/out/scale/N): the MP 2018 CIFs of
../shared/data in name order, copied under new ids (`r<copy>-<id>`) until there are N, in one
zip written in name order, and the summary rows copied the same way; a recipe as build/mped.toml
without the DFT table (the copies' ids are in none). Each engine builds it in a fresh folder
with real inference; reported: wall time, inputs/s, the client's peak RSS (summary.json: the
command's own process), the workers' peak RSS (part manifests) and the whole process tree's
peak PSS (sampled every 0.5 s). The criterion: client peak at the largest N at most 100 MiB
above the one at the smallest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import zipfile
from pathlib import Path

from common import BIN, OUT, ROOT, header, measure, write_report

MP = ROOT.parent / "shared" / "data" / "mp2018"
MODEL = ROOT / "models" / "cgcnn3x64-matbench-2026-12-02-kg-loco"


def make_inputs(size: int) -> Path:
    """benchmarks/out/scale/<size>/recipe.toml and its replicated zip and summary."""
    folder = OUT / "scale" / str(size)
    recipe = folder / "recipe.toml"
    if not (folder / "summary.csv").is_file():
        copy_inputs(folder, size)
    recipe.write_text(  # always: the checkpoint named here is the packaged one of today
        'table = "mped"\n[[structures]]\npath = "structures.zip"\nsource = "MP 2018 copies"\n'
        'licence = "CC-BY-4.0"\n[summary]\npath = "summary.csv"\nlayout = "mp"\n'
        f'[models]\ncheckpoint = "{MODEL}"\n'
    )
    return recipe


def copy_inputs(folder: Path, size: int) -> None:
    """The replicated zip and summary (written once)."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(MP / "structures.zip") as source:
        names = sorted(n for n in source.namelist() if n.endswith(".cif"))
        texts = {n: source.read(n) for n in names}
    copies = -(-size // len(names))
    summary = (MP / "summary.csv").read_text().splitlines()
    line_of = {line.split(",", 1)[0]: line for line in summary[1:]}
    written = 0
    with (
        zipfile.ZipFile(folder / "structures.zip", "w", zipfile.ZIP_DEFLATED) as out,
        (folder / "summary.csv").open("w") as table,
    ):
        table.write(summary[0] + "\n")
        for copy in range(copies):
            for name in names:
                if written == size:
                    break
                out.writestr(f"r{copy:03d}-{name}", texts[name])
                written += 1
                if Path(name).stem in line_of:  # the summary rows of the copies made
                    table.write(f"r{copy:03d}-{line_of[Path(name).stem]}\n")


def build(recipe: Path, engine: str, workers: int) -> dict:
    out = recipe.parent / f"out-{engine}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    command = [str(BIN / "elastic-atlas"), "build", str(recipe), "-o", str(out), "--quiet",
               "--engine", engine, "--workers", str(workers)]  # fmt: skip
    run = measure(command, log=recipe.parent / f"{engine}.log")
    if run["exit"] != 0:
        raise SystemExit(f"{engine} build of {recipe.parent.name} failed: see {engine}.log")
    summary = json.loads((out / "summary.json").read_text())
    manifests = [json.loads(p.read_text()) for p in out.glob("parts/s*/manifest.json")]
    disk = sum(p.stat().st_size for p in (out / "parts").rglob("*") if p.is_file())
    return {
        "engine": engine,
        "date": summary_date(),
        "code_sha256": summary["code_sha256"][:12],
        "inputs": summary["inputs"],
        "accepted": summary["accepted"],
        "wall_s": round(run["seconds"], 1),
        "inputs_per_s": round(summary["inputs"] / run["seconds"], 1),
        "client_peak_rss_mib": summary["peak_rss_mib"],
        "worker_peak_rss_mib": max(m["peak_rss_mib"] for m in manifests),
        "tree_peak_pss_mib": round(run["peak_pss_mib"], 1),
        "parts_mib": round(disk / 2**20, 1),
        "shards": summary["shards"]["shards"],
        "sha256": digests(out),
    }


FILES = ("mped.csv", "mped.parquet", "mped-structures.parquet", "rejects.csv")


def digests(out: Path) -> dict[str, str]:
    """sha256 of the table's files (the engines are compared by them)."""
    import hashlib

    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest()[:16] for name in FILES}


def summary_date() -> str:
    from common import today

    return today()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["dask", "local"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true",
                        help="keep the --json file's runs of other sizes or engines (each run "
                        "keeps its own date and code digest)")  # fmt: skip
    args = parser.parse_args()
    runs = []
    if args.keep and args.json and args.json.is_file():
        measured = {(size, engine) for size in args.sizes for engine in args.engines}
        runs = [r for r in json.loads(args.json.read_text())["runs"]
                if (r["size"], r["engine"]) not in measured]  # fmt: skip
        for run in runs:  # files of a kept run still on disk: their digests
            out = OUT / "scale" / str(run["size"]) / f"out-{run['engine']}"
            if "sha256" not in run and out.is_dir():
                run["sha256"] = digests(out)
    for size in args.sizes:
        recipe = make_inputs(size)
        for engine in args.engines:
            runs.append({"size": size, **build(recipe, engine, args.workers)})
            runs.sort(key=lambda r: (r["size"], r["engine"]))
            print(runs[-1], flush=True)
            if args.json:  # after every run: a long measurement keeps what it has
                write_report(args.json, {**header(), "workers": args.workers, "runs": runs})


if __name__ == "__main__":
    main()
