"""Matbench's file layouts: datasets (pandas orient="split" JSON), official folds, predictions.

The same loader reads Matbench's full `matbench_log_kvrh.json.gz` files and the project's
MP-2018-structure subset, gz, bz2 or plain.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
from pathlib import Path
from typing import Any

from elastic_atlas.contract.targets import Target

# Matbench task -> (target column in its dataset file, the project's target name)
TASKS = {
    Target.LOG10_K_VRH.task: ("log10(K_VRH)", Target.LOG10_K_VRH.value),
    Target.LOG10_G_VRH.task: ("log10(G_VRH)", Target.LOG10_G_VRH.value),
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


def row_key(mbid: str) -> str:
    """Matbench's row number ("mb-log-kvrh-00042" -> "00042"): the same entry in every task."""
    return mbid.rsplit("-", 1)[-1]


def load_joint_dataset(paths: list[Path]) -> dict[str, tuple[dict[str, Any], tuple[float, ...]]]:
    """{first file's mbid: (structure, (target per file))}, joined by Matbench row number.

    The files must hold the same rows with the same structures (Matbench's log_kvrh and
    log_gvrh do); anything else is refused rather than half-joined.
    """
    tables = [load_dataset(path) for path in paths]
    by_row = [{row_key(m): entry for m, entry in table.items()} for table in tables]
    joint = {}
    for mbid, (structure, value) in tables[0].items():
        values = [value]
        for path, rows in zip(paths[1:], by_row[1:], strict=True):
            other = rows.get(row_key(mbid))
            if other is None or other[0] != structure:
                raise ValueError(f"{path}: row {row_key(mbid)} is missing or another structure")
            values.append(other[1])
        joint[mbid] = (structure, tuple(values))
    if any(len(table) != len(joint) for table in tables[1:]):
        raise ValueError("the dataset files hold different numbers of entries")
    return joint


def load_fold(path: Path, task: str, fold: int) -> tuple[list[str], list[str]]:
    """(train mbids, test mbids) of an official Matbench v0.1 fold."""
    splits = read_json(path)["splits"][task][f"fold_{fold}"]
    return list(splits["train"]), list(splits["test"])


def load_fold_predictions(path: Path, task: str, fold: int) -> dict[str, float]:
    """Out-of-fold test predictions of a Matbench benchmark record ({mbid: prediction})."""
    results = read_json(path)["tasks"][task]["results"][f"fold_{fold}"]
    return {mbid: float(v) for mbid, v in results["data"].items()}


def material_ids(provenance: Path | None) -> dict[str, str]:
    """Matbench row number -> Materials Project id, from the subset's provenance CSV ({}
    without one)."""
    if provenance is None:
        return {}
    with Path(provenance).open(newline="") as handle:
        return {row_key(row["mbid_kvrh"]): row["material_id"] for row in csv.DictReader(handle)}
