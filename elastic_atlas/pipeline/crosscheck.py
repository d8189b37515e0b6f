"""The DFT cross-check of a table: DFT moduli beside each prediction, and whether the
material was in the checkpoints' training data.

A recipe may name a DFT elastic table (`material_id, k_vrh, g_vrh` in GPa, such as Materials
Project's). Its values never change a prediction; they sit in `k_vrh_dft` / `g_vrh_dft` so a
user can compare, and `in_training` says when a row's moduli were labels the network was
fitted on rather than predictions for an unseen crystal.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elastic_atlas.contract.columns import Column
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.inputs.sources import SourceError
from elastic_atlas.model.checkpoint import Checkpoint

DFT_COLUMNS = ("material_id", "k_vrh", "g_vrh")
TRAINING_SPLITS = ("train", "validation")  # the fold's training part: fitted or early-stopped on


@dataclass(frozen=True)
class CrossCheck:
    dft: dict[str, tuple[float, float]]  # material_id -> (K, G) in GPa, NaN where unknown
    training: frozenset[str] | None  # material ids the checkpoints trained on; None: unknown
    source: str = ""


def read_dft_table(path: Path) -> dict[str, tuple[float, float]]:
    """{material_id: (k_vrh, g_vrh)} of a DFT elastic CSV; empty or non-numeric cells are NaN
    (Materials Project leaves some tensors unfitted). An unreadable file, missing columns or a
    repeated id is a SourceError: a cross-check against a half-read table would mislead."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in DFT_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise SourceError(f"{path}: DFT table without column(s) {', '.join(missing)}")
            table: dict[str, tuple[float, float]] = {}
            for row in reader:
                material_id = row["material_id"].strip()
                if material_id in table:
                    raise SourceError(f"{path}: material {material_id} appears twice")
                table[material_id] = (_number(row["k_vrh"]), _number(row["g_vrh"]))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SourceError(f"{path}: cannot read the DFT table ({error})") from error
    if not table:
        raise SourceError(f"{path}: the DFT table has no rows")
    return table


def _number(text: str | None) -> float:
    try:
        value = float(text or "nan")
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def training_materials(checkpoints: list[Checkpoint]) -> frozenset[str] | None:
    """Material ids in the training part of every checkpoint's training-ids.csv; None when a
    checkpoint does not list its training data (the reference CGCNN)."""
    ids: set[str] = set()
    for checkpoint in checkpoints:
        listing = checkpoint.card.get("training", {}).get("ids")
        if checkpoint.kind != "own" or not listing:
            return None
        with (checkpoint.path / listing["file"]).open(newline="", encoding="utf-8") as handle:
            ids.update(
                row["material_id"]
                for row in csv.DictReader(handle)
                if row["split"] in TRAINING_SPLITS and row["material_id"]
            )
    return frozenset(ids)


def crosscheck_of(
    recipe: Recipe, checkpoints: list[Checkpoint], dft: dict | None = None
) -> CrossCheck:
    """The cross-check of a recipe's table (`dft`: its DFT table when already read)."""
    if dft is None:
        dft = read_dft_table(recipe.dft.path) if recipe.dft else {}
    source = recipe.dft.source if recipe.dft else ""
    return CrossCheck(dft, training_materials(checkpoints), source)


def crosscheck_columns(material_ids: list[str], crosscheck: CrossCheck) -> dict[Column, list]:
    """The DFT and in_training columns of rows (nulls where nothing is known)."""
    unknown = (math.nan, math.nan)
    dft = np.array([crosscheck.dft.get(m, unknown) for m in material_ids], dtype=np.float64)
    dft = dft.reshape(len(material_ids), 2)
    training = crosscheck.training
    return {
        Column.K_VRH_DFT: list(dft[:, 0]),
        Column.G_VRH_DFT: list(dft[:, 1]),
        Column.IN_TRAINING: [None if training is None else m in training for m in material_ids],
    }
