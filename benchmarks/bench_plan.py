"""The plan of a zip source vs zipfile's member list: peak memory and time (issue 23, item 2).

Usage: .venv/bin/python benchmarks/bench_plan.py [--members N ...] [--zip FILE ...] [--json FILE]
For each synthetic archive of N empty members (written once into benchmarks/out) and each given
zip, two fresh processes: one lists the members with `zipfile.ZipFile(path).infolist()`, the
other writes the plan to Parquet (`elastic_atlas.inputs.plan.write_plan`); each reports its
wall time and how far its peak RSS rose above the RSS it had before the work (Linux: the peak is
reset through /proc/self/clear_refs once the imports are done).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from common import OUT, header, write_report

CHILD = """
import json, sys, time, zipfile
from pathlib import Path
path, how = Path(sys.argv[1]), sys.argv[2]
if how == "plan":
    from elastic_atlas.inputs.plan import write_plan

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024

Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts again from here
base = status("VmRSS:")
start = time.perf_counter()
if how == "infolist":
    with zipfile.ZipFile(path) as archive:
        members = len(archive.infolist())
else:
    members = write_plan(path, Path(sys.argv[3]))
seconds = time.perf_counter() - start
above = status("VmHWM:") - base
print(json.dumps({"members": members, "seconds": seconds, "peak_above_start_mib": above}))
"""


def synthetic(members: int) -> Path:
    path = OUT / f"plan-{members}.zip"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path.with_suffix(".tmp"), "w") as out:
            for i in range(members):
                out.writestr(f"mp-{i}.cif", "")
        path.with_suffix(".tmp").rename(path)
    return path


def measure(path: Path, how: str) -> dict:
    command = [sys.executable, "-c", CHILD, str(path), how, str(OUT / "plan.parquet")]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--zip", type=Path, nargs="*", default=[])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    report = {**header(), "archives": []}
    archives = [(f"synthetic, {n:,} empty members", synthetic(n)) for n in args.members]
    archives += [(path.name, path) for path in args.zip]
    for label, path in archives:
        row = {"archive": label, "bytes": path.stat().st_size}
        for how in ("infolist", "plan"):
            row[how] = measure(path, how)
        report["archives"].append(row)
        print(json.dumps(row))
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
