"""Agreement with the reference CGCNN implementation on its 120 published predictions.

Usage: .venv/bin/python benchmarks/bench_reference.py [--json benchmarks/results/reference.json]
Predicts the 120 structures of ../shared/data/models/cgcnn_reference/reference_predictions.csv
with both reference checkpoints and reports, per target, how many agree within 1e-4 log10 GPa,
the largest difference among those, and every structure beyond it with its tie count at the
12-neighbour cut.
"""

from __future__ import annotations

import argparse
import warnings
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from common import header, write_report

from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.model.graph import build_graph
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.paths import shared_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    data = shared_data()
    folder = data / "models" / "cgcnn_reference"
    expected = pd.read_csv(folder / "reference_predictions.csv")
    with zipfile.ZipFile(data / "mp2018" / "structures.zip") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graphs = [
            build_graph(parse_cif(archive.read(f"{m}.cif").decode())) for m in expected.material_id
        ]
    report = {**header(), "pymatgen": version("pymatgen"), "tolerance": 1e-4, "targets": {}}
    for name, column in (("bulk", "log10_k_vrh"), ("shear", "log10_g_vrh")):
        checkpoint = load_checkpoint(folder / f"{name}-moduli.pth.tar", folder / "atom_init.json")
        ours = checkpoint.predict_graphs(graphs)[0][:, 0]
        difference = np.abs(ours - expected[column].to_numpy())
        close = difference <= 1e-4
        report["targets"][column] = {
            "n": len(close),
            "within": int(close.sum()),
            "largest_within": float(difference[close].max()),
            "beyond": [
                {
                    "material_id": str(expected.material_id[i]),
                    "difference": float(difference[i]),
                    "ties_at_cut": int(graphs[i].cutoff_ties),
                }
                for i in np.flatnonzero(~close)
            ],
        }
        print(f"{column}: {close.sum()} of {len(close)} within 1e-4")
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
