"""Real-data table builds: MPED from ../shared/data/mp2018 and NED from GNoME's by_id.zip.

Usage: .venv/bin/python benchmarks/bench_build.py [--reference]
--reference uses the public reference CGCNN checkpoints instead of the project's own.
NED runs with --gap-policy include: no GNoME band gaps are available offline.
Prints, per table: inputs, accepted, counts per reason, time, inputs/s, peak RSS.
"""

from __future__ import annotations

import argparse
import json

from common import BIN, OUT, ROOT, machine, measure, today

from elastic_atlas.paths import shared_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", action="store_true")
    args = parser.parse_args()
    reference = shared_data() / "models" / "cgcnn_reference"
    override = (
        [
            "--bulk-checkpoint",
            str(reference / "bulk-moduli.pth.tar"),
            "--shear-checkpoint",
            str(reference / "shear-moduli.pth.tar"),
            "--atom-init",
            str(reference / "atom_init.json"),
        ]
        if args.reference
        else []
    )
    runs = {
        "mped": [str(ROOT / "build" / "mped.toml")],
        "ned": [str(ROOT / "build" / "ned.toml"), "--gap-policy", "include"],
    }
    label = "reference checkpoints" if args.reference else "own checkpoints"
    print(f"{today()}, {machine()}, {label}\n")
    for table, recipe in runs.items():
        out = OUT / f"build-{table}{'-reference' if args.reference else ''}"
        command = [
            str(BIN / "elastic-atlas"),
            "build",
            *recipe,
            *override,
            "-o",
            str(out),
            "--quiet",
        ]
        result = measure(command, OUT / f"build-{table}.log")
        summary = json.loads((out / "summary.json").read_text())
        rate = summary["inputs"] / result["seconds"]
        print(
            f"- `elastic-atlas build {' '.join([*recipe[1:], 'build/' + table + '.toml'])}`"
            f"{' (reference checkpoints)' if args.reference else ''}: "
            f"{summary['inputs']:,} inputs = {summary['accepted']:,} accepted + "
            f"screened out {summary['screened_out']} + rejected {summary['rejected']}; "
            f"{result['seconds']:.0f} s, {rate:.0f} inputs/s, peak memory of the process tree "
            f"{result['peak_rss_mib']:.0f} MiB RSS / {result['peak_pss_mib']:.0f} MiB PSS, "
            f"exit {result['exit']}"
        )


if __name__ == "__main__":
    main()
