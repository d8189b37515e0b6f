"""Which DFT entries are fit to judge predictions: mechanically sane tensors only."""

from __future__ import annotations

import pandas as pd

from elastic_atlas.training.heldout import sane_dft


def test_only_mechanically_sane_dft_tensors_are_kept():
    rows = pd.DataFrame(
        {
            "material_id": ["good", "negative-reuss", "reuss-above-voigt", "absurd", "zero"],
            "k_voigt": [100.0, 100.0, 100.0, 100.0, 0.0],
            "k_reuss": [95.0, 95.0, 101.0, 95.0, 0.0],
            "g_voigt": [50.0, 50.0, 50.0, 5.6e13, 10.0],
            "g_reuss": [45.0, -1.2, 45.0, 45.0, 9.0],
        }
    )
    rows = rows.assign(
        k_vrh=(rows.k_voigt + rows.k_reuss) / 2, g_vrh=(rows.g_voigt + rows.g_reuss) / 2
    )
    assert list(sane_dft(rows).material_id) == ["good"]
