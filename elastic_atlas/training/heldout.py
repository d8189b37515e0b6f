"""Materials Project DFT entries the checkpoints never saw: an evaluation outside Matbench.

The Materials Project 2023 elastic table (../shared/data/mp_elastic/mp2023_elastic) holds
materials outside the 7,921-entry training subset (mostly polymorphs of training materials).
Neither training nor calibration touched them, so their errors and uncertainty coverage are the
honest out-of-sample figures a model card should state.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from elastic_atlas.contract.dft import BOUND_COLUMNS, DftStatus, dft_status
from elastic_atlas.model.graph import CrystalGraph, GraphParameters, build_graph
from elastic_atlas.training.matbench import material_ids


def sane_dft(dft: pd.DataFrame) -> pd.DataFrame:
    """Entries whose DFT tensor passes the one sanity rule of the tables (contract.dft): a
    negative bound (an unstable structure) makes the VRH average meaningless, and one absurd
    entry (MP 2023 gives G = 5.6e13 GPa for mp-13686) dominates a mean log error over ~80
    entries."""
    columns = ["k_vrh", "g_vrh", *BOUND_COLUMNS]
    values = dft[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    sane = [
        dft_status(row[0], row[1], dict(zip(BOUND_COLUMNS, row[2:], strict=True))) is DftStatus.OK
        for row in values
    ]
    return dft[sane]


@dataclass
class HeldOut:
    ids: list[str]
    graphs: list[CrystalGraph]
    observed: np.ndarray  # (entries, 2): log10 K, log10 G of DFT
    density: np.ndarray  # g/cm^3


def unseen_entries(folder: Path, provenance: Path, params: GraphParameters) -> HeldOut:
    """The sane entries of `folder` (elastic.csv + structures.zip) outside the subset."""
    dft = sane_dft(pd.read_csv(folder / "elastic.csv")).set_index("material_id")
    unseen = sorted(set(dft.index) - set(material_ids(provenance).values()))
    from pymatgen.core import Structure

    ids, graphs, density = [], [], []
    with zipfile.ZipFile(folder / "structures.zip") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = set(archive.namelist())
        for material_id in unseen:
            if f"{material_id}.cif" not in names:
                continue
            structure = Structure.from_str(archive.read(f"{material_id}.cif").decode(), "cif")
            ids.append(material_id)
            graphs.append(build_graph(structure, params))
            density.append(structure.density)
    observed = np.log10(dft.loc[ids, ["k_vrh", "g_vrh"]].to_numpy(dtype=float))
    return HeldOut(ids, graphs, observed, np.array(density))
