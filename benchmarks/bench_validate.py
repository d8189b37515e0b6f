"""`elastic-atlas validate` vs `frictionless validate` on a synthetic consistent 100k-row table.

Usage: .venv/bin/python benchmarks/bench_validate.py [--rows N] [--json FILE]
Wall time of each whole CLI process (best of --runs for elastic-atlas, one run of frictionless).
Target: <= 5 s per file on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import BIN, OUT, header, timed, write_report

from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.inputs.synthetic import synthetic_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    frame = synthetic_table(args.rows, seed=0)
    csv_path, parquet_path = OUT / "validate.csv", OUT / "validate.parquet"
    frame.to_csv(csv_path, index=False)
    frame.to_parquet(parquet_path, index=False, compression="zstd")
    # frictionless needs a v2 package to accept exclusiveMinimum/exclusiveMaximum.
    package = OUT / "validate.datapackage.json"
    package.write_text(
        json.dumps(
            {
                "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
                "name": "bench",
                "resources": [
                    {"name": "csv", "path": csv_path.name, "schema": load_table_schema("mped")},
                    {
                        "name": "parquet",
                        "path": parquet_path.name,
                        "schema": load_table_schema("mped"),
                    },
                ],
            }
        )
    )
    atlas = str(BIN / "elastic-atlas")
    rows = []
    for path in (csv_path, parquet_path):
        command = [atlas, "validate", "--strict", "--schema", "mped", str(path)]
        seconds, code, _ = timed(command, args.runs)
        rows.append((f"elastic-atlas validate --strict --schema mped {path.name}", seconds, code))
    for name in ("csv", "parquet"):
        command = [str(BIN / "frictionless"), "validate", str(package), "--resource-name", name]
        seconds, code, _ = timed(command, 1)
        rows.append((f"frictionless validate (v2 package, resource {name})", seconds, code))
    commands = [{"command": c, "seconds": t, "exit": code} for c, t, code in rows]
    report = {**header(), "rows": args.rows, "columns": int(frame.shape[1]), "runs": args.runs}
    report["commands"] = commands
    for command, seconds, code in rows:
        print(f"{command}: {seconds:.2f} s, exit {code}")
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
