"""A small own-format checkpoint with random weights, for tests that need models."""

from __future__ import annotations

import torch

from elastic_atlas.model.calibration import Calibration
from elastic_atlas.model.cgcnn import Architecture
from elastic_atlas.model.checkpoint import Target, build_model, save_own
from elastic_atlas.model.features import own_feature_table
from elastic_atlas.model.graph import GraphParameters

SMALL = Architecture(
    atom_feature_length=91, atom_fea_len=16, n_conv=2, h_fea_len=16, n_h=2, n_targets=2
)
CALIBRATION = Calibration(a=0.05, b=2.0, k95=3.0)
TARGETS = [
    Target("log10_k_vrh", 1.9, 0.3, calibration=CALIBRATION),
    Target("log10_g_vrh", 1.6, 0.35, calibration=CALIBRATION),
]


def make_own(folder, members=2, calibrated=True):
    torch.manual_seed(0)
    models = [build_model(SMALL, GraphParameters()).eval() for _ in range(members)]
    save_own(
        folder,
        models,
        own_feature_table(),
        GraphParameters(),
        TARGETS if calibrated else [Target(t.name, t.mean, t.std) for t in TARGETS],
        {"training": {"note": "random weights, test only"}},
    )
    return models
