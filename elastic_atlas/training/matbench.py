"""Matbench's file layouts: datasets (pandas orient="split" JSON), official folds, predictions.

The same loader reads Matbench's full `matbench_log_kvrh.json.gz` files and the project's
MP-2018-structure subset, gz, bz2 or plain.
"""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

# Matbench task -> (target column in its dataset file, the project's target name)
TASKS = {
    "matbench_log_kvrh": ("log10(K_VRH)", "log10_k_vrh"),
    "matbench_log_gvrh": ("log10(G_VRH)", "log10_g_vrh"),
}
TARGET_TO_TASK = {target: task for task, (_, target) in TASKS.items()}


def read_json(path: Path) -> Any:
    path = Path(path)
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def load_dataset(path: Path) -> dict[str, tuple[dict[str, Any], float]]:
    """{mbid: (pymatgen structure dict, target)} from a Matbench orient="split" file."""
    data = read_json(path)
    columns = data["columns"]
    if len(columns) != 2 or columns[0] != "structure":
        raise ValueError(f"{path}: expected columns ['structure', <target>], got {columns}")
    return {
        mbid: (row[0], float(row[1])) for mbid, row in zip(data["index"], data["data"], strict=True)
    }


def load_fold(path: Path, task: str, fold: int) -> tuple[list[str], list[str]]:
    """(train mbids, test mbids) of an official Matbench v0.1 fold."""
    splits = read_json(path)["splits"][task][f"fold_{fold}"]
    return list(splits["train"]), list(splits["test"])


def load_fold_predictions(path: Path, task: str, fold: int) -> dict[str, float]:
    """Out-of-fold test predictions of a Matbench benchmark record ({mbid: prediction})."""
    results = read_json(path)["tasks"][task]["results"][f"fold_{fold}"]
    return {mbid: float(v) for mbid, v in results["data"].items()}
