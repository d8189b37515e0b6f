"""The symmetry step three ways, on the shared structures: pymatgen's SpacegroupAnalyzer (what
the pipeline uses), spglib called directly, and moyopy; agreement and ms per structure.

Usage: .venv/bin/python benchmarks/bench_symmetry.py [--sample N] [--json FILE]
All at symprec 0.1 on N random structures of MP 2018 and of GNoME (one process, one core).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import header, write_report

from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.paths import shared_data

SYMPREC = 0.1


def by_analyzer(structure) -> int:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(structure, symprec=SYMPREC).get_space_group_number()


def by_spglib(structure) -> int:
    import spglib

    cell = (structure.lattice.matrix, structure.frac_coords, np.array(structure.atomic_numbers))
    return spglib.get_symmetry_dataset(cell, symprec=SYMPREC).number


def by_moyopy(structure) -> int:
    import moyopy

    cell = moyopy.Cell(
        structure.lattice.matrix.tolist(), structure.frac_coords.tolist(),
        list(structure.atomic_numbers),
    )  # fmt: skip
    return moyopy.MoyoDataset(cell, symprec=SYMPREC).number


def structures(path, sample: int) -> list:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".cif")]
        chosen = random.Random(0).sample(names, min(sample, len(names)))
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in chosen:
                try:
                    out.append((name, parse_cif(archive.read(name).decode())))
                except Exception:  # rejected by the pipeline too; not a symmetry question
                    continue
    return out


def timed(method: Callable, items: list) -> tuple[list[int], float]:
    start = time.perf_counter()
    numbers = [method(structure) for _, structure in items]
    return numbers, 1e3 * (time.perf_counter() - start) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    os.environ.setdefault("SPGLIB_WARNING", "OFF")
    report = {**header(), "symprec": SYMPREC, "sample": args.sample, "sets": {}}
    sources = {"MP 2018": shared_data() / "mp2018" / "structures.zip",
               "GNoME": shared_data() / "gnome" / "by_id.zip"}  # fmt: skip
    for label, path in sources.items():
        items = structures(path, args.sample)
        reference, t_analyzer = timed(by_analyzer, items)
        direct, t_spglib = timed(by_spglib, items)
        fast, t_moyopy = timed(by_moyopy, items)
        differs = [{"member": items[i][0], "analyzer": reference[i], "moyopy": fast[i]}
                   for i in range(len(items)) if fast[i] != reference[i]]  # fmt: skip
        report["sets"][label] = {
            "n": len(items),
            "analyzer_ms": t_analyzer,
            "spglib_ms": t_spglib,
            "spglib_agrees": sum(a == b for a, b in zip(reference, direct, strict=True)),
            "moyopy_ms": t_moyopy,
            "moyopy_agrees": len(items) - len(differs),
            "moyopy_differs": differs,
        }
        print(f"{label}: SpacegroupAnalyzer {t_analyzer:.2f} ms per structure")
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
