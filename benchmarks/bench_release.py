"""A full release on the shared real data (MPED: 36,737 MP inputs; NED: 35,996 GNoME inputs).

Usage: .venv/bin/python benchmarks/bench_release.py
Builds build/release.toml as version 0.0.0-bench into benchmarks/out/releases (never committed),
and reports end-to-end time, inputs/s and the peak RSS of the process tree.
Goal: >= 400 inputs/s overall, <= 2 GB.
"""

from __future__ import annotations

import shutil

from common import BIN, OUT, ROOT, machine, measure, today


def main() -> None:
    releases = OUT / "releases"
    shutil.rmtree(releases, ignore_errors=True)
    command = [
        str(BIN / "elastic-atlas"),
        "release",
        "--config",
        str(ROOT / "build" / "release.toml"),
        "--version",
        "0.0.0-bench",
        "--releases",
        str(releases),
    ]
    result = measure(command, OUT / "bench_release.log")
    inputs = 36_737 + 35_996
    notes = (releases / "0.0.0-bench" / "RELEASE.md").read_text() if result["exit"] == 0 else ""
    print(f"{today()}, {machine()}\n")
    print(
        f"`elastic-atlas release --config build/release.toml --version 0.0.0-bench`: "
        f"{result['seconds']:.0f} s for {inputs:,} inputs ({inputs / result['seconds']:.0f} "
        f"inputs/s), peak memory of the process tree {result['peak_rss_mib']:.0f} MiB RSS / "
        f"{result['peak_pss_mib']:.0f} MiB PSS, exit {result['exit']}\n"
    )
    print(
        "\n".join(
            line
            for line in notes.splitlines()
            if line.startswith(("## ", "- rows", "- screened", "- rejected", "- gap"))
        )
    )


if __name__ == "__main__":
    main()
