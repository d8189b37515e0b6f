"""The sizes of a CGCNN, apart from torch: model cards are read and checked (by `validate`, in
a light install) without importing the network."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Architecture(BaseModel):
    """Sizes of a CGCNN; stored in every checkpoint."""

    model_config = ConfigDict(frozen=True)

    atom_feature_length: int = 92  # input features per element
    gaussian_length: int = 41  # Gaussian basis functions per bond
    atom_fea_len: int = 64  # hidden atom features
    n_conv: int = 3
    h_fea_len: int = 128
    n_h: int = 1
    n_targets: int = 1
