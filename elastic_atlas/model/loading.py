"""Loading a checkpoint of either format: below both formats (model.checkpoint, the project's
own; model.reference, the reference CGCNN's), so neither imports the other."""

from __future__ import annotations

from pathlib import Path

from elastic_atlas.model.checkpoint import Checkpoint, CheckpointError, load_own
from elastic_atlas.model.reference import load_reference


def load_checkpoint(path: Path, atom_init: Path | None = None) -> Checkpoint:
    """A reference `.pth.tar` file or an own-format model folder."""
    path = Path(path)
    if path.is_dir():
        return load_own(path)
    if path.is_file():
        return load_reference(path, atom_init)
    raise CheckpointError(f"{path}: no such checkpoint file or model folder")
