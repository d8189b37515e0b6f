"""`elastic-atlas validate`'s memory as the table grows (issue 23: validate streams its files).

Usage: .venv/bin/python benchmarks/bench_validate_memory.py [--rows 100000 1000000] [--json FILE]
For each size, a synthetic consistent MPED table (benchmarks/out/validate-memory-N.csv and
.parquet, written once, in row groups of 65,536 as a sharded build's merge writes them) is
validated by a fresh `elastic-atlas validate FILE --schema mped` process: wall time, exit
code and the process's peak RSS (sampled every 0.5 s). The criterion: the peak at the
largest size at most 100 MiB above the one at the
smallest, for each format.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import BIN, OUT, header, measure, write_report


def make_table(rows: int) -> dict[str, Path]:
    """The table's CSV and Parquet files (made once)."""
    import pyarrow.parquet as pq

    from elastic_atlas.inputs.synthetic import synthetic_table
    from elastic_atlas.pipeline.merge import ROW_GROUP
    from elastic_atlas.pipeline.tables import PARQUET_OPTIONS, arrow_table, write_csv

    paths = {kind: OUT / f"validate-memory-{rows}.{kind}" for kind in ("csv", "parquet")}
    if all(p.is_file() for p in paths.values()):
        return paths
    OUT.mkdir(parents=True, exist_ok=True)
    frame = synthetic_table(rows, seed=0)
    write_csv(frame, paths["csv"], "mped")
    pq.write_table(
        arrow_table(frame, "mped"), paths["parquet"], row_group_size=ROW_GROUP, **PARQUET_OPTIONS
    )  # row groups as a sharded build's merge writes them
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    report: dict = {**header(), "runs": []}
    for rows in args.rows:
        for kind, path in make_table(rows).items():
            run = measure([str(BIN / "elastic-atlas"), "validate", str(path), "--schema", "mped"])
            result = {"rows": rows, "format": kind, "bytes": path.stat().st_size,
                      "seconds": round(run["seconds"], 1), "exit": run["exit"],
                      "peak_rss_mib": round(run["peak_rss_mib"], 1)}  # fmt: skip
            report["runs"].append(result)
            print(result, flush=True)
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
