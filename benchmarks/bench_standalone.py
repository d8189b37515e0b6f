"""A real release checked as a downloader would: the numbers of BENCHMARKS.md's issue-12 table.

Usage: .venv/bin/python benchmarks/bench_standalone.py [--release DIR]
Without --release, builds build/release.toml (../shared data) as 0.9.0-rc1 into
benchmarks/out/standalone (never committed), capturing the build's stderr; then checks the
release folder with frictionless (package, and the checklist per table resource), mlcroissant
and the DataCite schema, and reports the largest SVG and the spglib lines on stderr.
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

from common import BIN, OUT, ROOT, machine, today

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


def own_validation(folder: Path) -> list[str]:
    """`elastic-atlas validate` on the package: the table rules and the release checked
    against itself (CSV vs Parquet, checksums, checkpoints, Croissant, Parquet metadata)."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "elastic_atlas", "validate", "datapackage.json"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    counts = next((line for line in done.stdout.splitlines() if "error(s)" in line), "")
    return [f"| `elastic-atlas validate datapackage.json` | {verdict} ({counts.strip()}), "
            f"{time.perf_counter() - start:.0f} s |"]  # fmt: skip


def table_facts(folder: Path, tables: list[str]) -> list[str]:
    """What the release states per table, read back from its files: DFT statuses and rows
    without a band gap (the counts its descriptions give)."""
    import pandas as pd

    rows = []
    for table in tables:
        frame = pd.read_parquet(folder / f"{table}.parquet", columns=["band_gap", "dft_status"])
        statuses = frame["dft_status"].value_counts().sort_index().to_dict()
        rows.append(f"| `{table}` dft_status | {statuses or 'null (no DFT table)'} |")
        rows.append(f"| `{table}` rows without band gap | {int(frame.band_gap.isna().sum()):,} "
                    f"of {len(frame):,} |")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--release", type=Path, default=None, help="check this folder instead")
    args = parser.parse_args()
    log = ""
    folder = args.release
    if folder is None:
        folder, log = build(OUT / "standalone")
    rows = []
    for line in log.splitlines():
        if line.strip().startswith(("mped:", "ned:")):
            rows.append(f"| build | {line.strip()} |")
    valid, seconds = frictionless(folder)
    rows.append(f"| `frictionless validate datapackage.json` | {'VALID' if valid else 'INVALID'}, "
                f"{seconds:.0f} s |")  # fmt: skip
    descriptor = json.loads((folder / "datapackage.json").read_text())
    # the physics checklist is for the MPED/NED tables (not rejects, structures or changes)
    tables = [r["name"] for r in descriptor["resources"] if "elastic_atlas:table" in r]
    for name in tables:
        ok, seconds = frictionless(folder, "--checklist", "checklist.json", "--resource-name", name)
        rows.append(f"| frictionless with the checklist, `{name}` | {'VALID' if ok else 'INVALID'},"
                    f" {seconds:.0f} s |")  # fmt: skip
    for table in sorted({t.split("-")[0] for t in tables}):
        rows.append(f"| mlcroissant records of `{table}` | {croissant_records(folder, table):,} |")
    rows.append(
        f"| DataCite 4.3 schema, upload records | valid ({', '.join(datacite_licences(folder))}) |"
    )
    rows += own_validation(folder) + table_facts(folder, sorted({t.split("-")[0] for t in tables}))
    largest = max((p.stat().st_size, p.name) for p in folder.glob("figures/*/*.svg"))
    rows.append(f"| largest SVG | {largest[1]}, {largest[0] / 1000:.0f} kB |")
    if log:
        rows.append(f"| spglib lines on the build's stderr | {log.count('spglib:')} |")
    print(f"{today()}, {machine()}, release {folder}")
    print("| check | result |\n|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
