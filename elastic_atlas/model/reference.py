"""Checkpoints of the reference CGCNN implementation (Xie & Grossman): `.pth.tar` files read
as data only, with their `atom_init.json`."""

from __future__ import annotations

import argparse
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from elastic_atlas.model.cgcnn import Architecture
from elastic_atlas.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    Target,
    build_model,
    load_state_strictly,
)
from elastic_atlas.model.features import load_atom_init
from elastic_atlas.model.graph import GraphParameters


# ------------------------------------------------------------------ reference .pth.tar
def _load_weights_only(path: Path) -> Any:
    """A .pth.tar read as data: tensors, containers and numbers, plus argparse.Namespace (the
    reference stores its command-line arguments in one). A pickle that names any other
    callable is refused before anything in it runs."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: refused, the file asks to run code or build objects a checkpoint does not "
            f"hold ({str(error).splitlines()[0][:200]})"
        ) from error
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from error


def load_reference(path: Path, atom_init: Path | None) -> Checkpoint:
    """A checkpoint of the reference implementation (`state_dict`, `normalizer`, `args`)."""
    if atom_init is None:
        raise CheckpointError(
            f"{path} is a reference CGCNN checkpoint: give its atom feature table with "
            "--atom-init PATH/atom_init.json"
        )
    raw = _load_weights_only(path)
    try:
        state, normalizer, args = raw["state_dict"], raw["normalizer"], raw["args"]
        args = args if isinstance(args, dict) else vars(args)
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: not a reference CGCNN checkpoint ({error})") from error
    atom_fea_len = state["embedding.weight"].shape[0]
    arch = Architecture(
        atom_feature_length=state["embedding.weight"].shape[1],
        gaussian_length=state["convs.0.fc_full.weight"].shape[1] - 2 * atom_fea_len,
        atom_fea_len=atom_fea_len,
        n_conv=int(args["n_conv"]),
        h_fea_len=state["conv_to_fc.weight"].shape[0],
        n_h=int(args["n_h"]),
        n_targets=state["fc_out.weight"].shape[0],
    )
    try:
        features = load_atom_init(atom_init)
    except (OSError, ValueError, TypeError, StopIteration, AttributeError) as error:
        raise CheckpointError(f"{atom_init}: not a readable atom_init.json ({error})") from error
    if features.length != arch.atom_feature_length:
        raise CheckpointError(
            f"{atom_init} has {features.length} features per element, {path} expects "
            f"{arch.atom_feature_length}"
        )
    graph = GraphParameters()  # the reference defaults: 8 Å, 12 neighbours, step 0.2 Å
    model = build_model(arch, graph)
    load_state_strictly(model, state, path)
    model.eval()
    target = Target("prediction", float(normalizer["mean"]), float(normalizer["std"]))
    card = {"args": {k: v for k, v in args.items() if isinstance(v, (int, float, str))}}
    return Checkpoint([model], features, graph, [target], "reference", Path(path), card)


# ------------------------------------------------------------------ own format
