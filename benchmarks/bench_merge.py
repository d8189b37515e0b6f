"""The streaming merge of sorted parts vs writing the whole table at once (issue 23, item 6).

Usage: .venv/bin/python benchmarks/bench_merge.py [--sizes ROWS:REJECTS ...] [--json FILE]
For each size, synthetic parts as shards leave them (benchmarks/out/merge-*, written once): ROWS
physically consistent rows in parts of 4,096, each sorted by id with its input ordinal, and
REJECTS rejects in parts of 8,192. Two fresh processes make the table's CSV + Parquet and the
rejects CSV: one with `pipeline/merge.py` (k-way, bounded fan-in), one the way a build does
today (every part read,
concatenated, sorted, written whole). Each reports wall time and how far its peak RSS rose above
its RSS once the imports were done (Linux: the peak is reset through /proc/self/clear_refs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import OUT, header, write_report

CHILD = """
import json, sys, time
from pathlib import Path
import pandas as pd, pyarrow as pa, pyarrow.parquet as pq
from elastic_atlas.contract.reasons import REJECT_COLUMNS
from elastic_atlas.pipeline.merge import ORDINAL, merge_reject_parts, merge_table_parts
from elastic_atlas.pipeline.tables import write_csv, write_parquet

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024

folder, how = Path(sys.argv[1]), sys.argv[2]
rows = sorted(folder.glob("rows-*.parquet"))
rejects = sorted(folder.glob("rejects-*.parquet"))
out = folder / how
out.mkdir(exist_ok=True)
Path("/proc/self/clear_refs").write_text("5")
base, start = status("VmRSS:"), time.perf_counter()
if how == "merge":
    merge_table_parts(rows, "mped", out / "mped.csv", out / "mped.parquet", {})
    merge_reject_parts(rejects, "mped", out / "rejects.csv")
else:
    table = pa.concat_tables(pq.read_table(p) for p in rows).sort_by("material_id")
    frame = table.drop_columns([ORDINAL]).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    del table
    write_csv(frame, out / "mped.csv", "mped")
    write_parquet(frame, "mped", out / "mped.parquet", {})
    del frame
    rej = pa.concat_tables(pq.read_table(p) for p in rejects).to_pandas()
    rej = rej.sort_values(list(REJECT_COLUMNS))
    rej.insert(0, "table", "mped")
    rej.to_csv(out / "rejects.csv", index=False, lineterminator="\\n")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_above_start_mib": status("VmHWM:") - base}))
"""


def make_parts(folder: Path, rows: int, rejects: int) -> None:
    """The synthetic parts, once: rows in parts of 4,096 and rejects in parts of 8,192."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from elastic_atlas.contract.reasons import REJECT_COLUMNS
    from elastic_atlas.inputs.synthetic import synthetic_table
    from elastic_atlas.pipeline.merge import ORDINAL
    from elastic_atlas.pipeline.tables import arrow_table

    folder.mkdir(parents=True, exist_ok=True)
    frame = synthetic_table(rows, seed=0)
    frame["material_id"] = [f"mp-{i}" for i in np.random.default_rng(0).permutation(rows)]
    for index, start in enumerate(range(0, rows, 4_096)):
        part = frame.iloc[start : start + 4_096].sort_values("material_id")
        table = arrow_table(part, "mped")
        ordinals = pa.array(np.arange(start, start + len(part)), pa.int64())
        pq.write_table(table.append_column(ORDINAL, ordinals), folder / f"rows-{index:05}.parquet")
    rng = np.random.default_rng(1)
    for index, start in enumerate(range(0, rejects, 8_192)):
        n = min(8_192, rejects - start)
        part = pa.table({
            "material_id": [f"mp-{rows + start + i}" for i in range(n)],
            "source": ["structures.zip"] * n,
            "stage": ["screen"] * n,
            "reason": rng.choice(["band_gap_outside_window", "radioactive_element"], n).tolist(),
            "detail": [f"band gap {g:.3f} eV" for g in rng.uniform(3, 9, n)],
        }).sort_by([(c, "ascending") for c in REJECT_COLUMNS])  # fmt: skip
        pq.write_table(part, folder / f"rejects-{index:05}.parquet")
    (folder / "done").write_text("")


def measure(folder: Path, how: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), how],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["200000:400000", "1000000:2000000"])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    report: dict = {**header(), "runs": []}
    for size in args.sizes:
        rows, rejects = (int(x) for x in size.split(":"))
        folder = OUT / f"merge-{rows}-{rejects}"
        if not (folder / "done").exists():
            make_parts(folder, rows, rejects)
        run = {"rows": rows, "rejects": rejects,
               "row_parts": len(list(folder.glob("rows-*.parquet"))),
               "reject_parts": len(list(folder.glob("rejects-*.parquet")))}  # fmt: skip
        for how in ("merge", "whole"):
            run[how] = measure(folder, how)
        run["csv_and_rejects_identical"] = all(
            (folder / "merge" / n).read_bytes() == (folder / "whole" / n).read_bytes()
            for n in ("mped.csv", "rejects.csv")
        )
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
