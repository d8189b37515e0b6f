"""A real release checked as a downloader would: the numbers of BENCHMARKS.md's issue-12 table.

Usage: .venv/bin/python benchmarks/bench_standalone.py [--release DIR] [--json FILE]
Without --release, builds build/release.toml (../shared data) as 0.9.0-rc1 into
benchmarks/out/standalone (never committed), capturing the build's stderr; then checks the
release folder with frictionless (package, and the checklist per table resource), mlcroissant
and the DataCite schema, and reports what the files say per table (DFT statuses, rows without a
band gap, predicted vs DFT on rows not in training), the largest SVG and the spglib lines on
stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from common import BIN, OUT, ROOT, header, write_report

VERSION = "0.9.0-rc1"


def build(folder: Path) -> tuple[Path, str]:
    shutil.rmtree(folder, ignore_errors=True)
    config = str(ROOT / "build" / "release.toml")
    command = [sys.executable, "-m", "elastic_atlas", "release", "--config", config,
               "--version", VERSION, "--releases", str(folder), "--quiet"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return folder / VERSION, result.stdout + result.stderr


def frictionless(folder: Path, *args: str) -> tuple[bool, float]:
    start = time.perf_counter()
    command = [str(BIN / "frictionless"), "validate", "--json", *args, "datapackage.json"]
    report = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    return json.loads(report.stdout)["valid"], time.perf_counter() - start


def croissant_records(folder: Path, table: str) -> int:
    import mlcroissant as mlc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = mlc.Dataset(jsonld=str(folder / "croissant.json"))
        return sum(1 for _ in dataset.records(record_set=table))


def datacite_licences(folder: Path) -> list[str]:
    from datacite import schema43

    licences = []
    for path in sorted((folder / "sciencedb").glob("*/datacite.json")):
        record = json.loads(path.read_text())
        schema43.validator.validate(record)
        licences.append(record["rightsList"][0]["rightsIdentifier"])
    return licences


def own_validation(folder: Path) -> dict[str, Any]:
    """`elastic-atlas validate` on the package: the table rules and the release checked
    against itself (CSV vs Parquet, checksums, checkpoints, Croissant, Parquet metadata)."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "elastic_atlas", "validate", "datapackage.json"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    counts = next((line for line in done.stdout.splitlines() if "error(s)" in line), "")
    return {"exit": done.returncode, "verdict": verdict.strip(), "counts": counts.strip(),
            "seconds": time.perf_counter() - start}  # fmt: skip


def table_facts(folder: Path, table: str) -> dict[str, Any]:
    """What the release states of a table, read back from its files: DFT statuses, rows
    without a band gap, and predicted vs DFT on the rows not in training (with the coverage
    of u and of the rows' own 95 % intervals there)."""
    import pandas as pd

    from elastic_atlas.release.trust import dft_comparison, flag_counts

    frame = pd.read_parquet(folder / f"{table}.parquet")
    statuses = frame["dft_status"].value_counts().sort_index().to_dict()
    return {
        "rows": len(frame),
        "dft_status": {str(k): int(v) for k, v in statuses.items()},
        "rows_without_band_gap": int(frame.band_gap.isna().sum()),
        "in_training": int(frame.in_training.fillna(False).astype(bool).sum()),
        "vs_dft": dft_comparison(frame),
        "flags": flag_counts(frame),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--release", type=Path, default=None, help="check this folder instead")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    log = ""
    folder = args.release
    if folder is None:
        folder, log = build(OUT / "standalone")
    report: dict[str, Any] = {**header(), "built_here": args.release is None}
    report["build"] = [line.strip() for line in log.splitlines()
                       if line.strip().startswith(("mped:", "ned:"))]  # fmt: skip
    valid, seconds = frictionless(folder)
    report["frictionless"] = {"package": {"valid": valid, "seconds": seconds}}
    descriptor = json.loads((folder / "datapackage.json").read_text())
    # the physics checklist is for the MPED/NED tables (not rejects, structures or changes)
    resources = [r["name"] for r in descriptor["resources"] if "elastic_atlas:table" in r]
    for name in resources:
        ok, seconds = frictionless(folder, "--checklist", "checklist.json", "--resource-name", name)
        report["frictionless"][name] = {"valid": ok, "seconds": seconds}
        print(f"frictionless {name}: {ok}", flush=True)
    tables = sorted({t.split("-")[0] for t in resources})
    report["croissant_records"] = {t: croissant_records(folder, t) for t in tables}
    report["datacite_licences"] = datacite_licences(folder)
    report["validate"] = own_validation(folder)
    report["tables"] = {t: table_facts(folder, t) for t in tables}
    largest = max((p.stat().st_size, p.name) for p in folder.glob("figures/*/*.svg"))
    report["largest_svg"] = {"name": largest[1], "bytes": largest[0]}
    if log:
        report["spglib_lines"] = log.count("spglib:")
    print(json.dumps({k: report[k] for k in ("frictionless", "croissant_records", "validate")}))
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
