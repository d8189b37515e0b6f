"""The symmetry step three ways, on the shared structures: pymatgen's SpacegroupAnalyzer (what
the pipeline uses), spglib called directly, and moyopy; agreement and ms per structure.

Usage: .venv/bin/python benchmarks/bench_symmetry.py [--sample N]
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

import numpy as np
from common import machine, today

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
    args = parser.parse_args()
    os.environ.setdefault("SPGLIB_WARNING", "OFF")
    print(f"# {today()}, {machine()}, symprec {SYMPREC}")
    header = "| structures | n | analyzer ms | spglib ms | agree | moyopy ms | agree | differs |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    sources = {"MP 2018": shared_data() / "mp2018" / "structures.zip",
               "GNoME": shared_data() / "gnome" / "by_id.zip"}  # fmt: skip
    for label, path in sources.items():
        items = structures(path, args.sample)
        reference, t_analyzer = timed(by_analyzer, items)
        direct, t_spglib = timed(by_spglib, items)
        fast, t_moyopy = timed(by_moyopy, items)
        differs = [f"{items[i][0]} ({reference[i]} vs {fast[i]})"
                   for i in range(len(items)) if fast[i] != reference[i]]  # fmt: skip
        print(
            f"| {label} | {len(items)} | {t_analyzer:.2f} | {t_spglib:.2f} | "
            f"{sum(a == b for a, b in zip(reference, direct, strict=True))} | {t_moyopy:.2f} | "
            f"{len(items) - len(differs)} | {', '.join(differs[:5])} |"
        )


if __name__ == "__main__":
    main()
