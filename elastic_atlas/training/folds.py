"""The 5-fold figure: one run per official Matbench fold, each judged on its own test entries,
next to Matbench's CGCNN (v2019) on exactly the same entries."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from elastic_atlas.training.freeze import freeze_runs


def fold_report(
    run_dirs: list[Path], oof: Path | None = None, provenance: Path | None = None
) -> dict[str, Any]:
    """Per fold and target: test MAE (also without materials in both splits) and CGCNN v2019's
    on the same entries; then the mean over the folds."""
    folds: dict[str, Any] = {}
    for run in run_dirs:
        fold = json.loads((run / "config.json").read_text())["fold"]
        if str(fold) in folds:
            raise ValueError(f"two runs of fold {fold}: {run} and an earlier one")
        with tempfile.TemporaryDirectory() as scratch:
            metrics = freeze_runs([run], Path(scratch) / "model", oof, provenance)
        folds[str(fold)] = {
            target: {
                "test_mae": m["test"]["mae"],
                "test_n": m["test"]["n"],
                "test_mae_without_duplicates": m["test_without_duplicate_materials"]["mae"],
                "duplicates": len(m["test_without_duplicate_materials"]["left_out"]),
                **(
                    {"cgcnn_v2019_mae": m["cgcnn_v2019_same_test_entries"]["mae"]}
                    if "cgcnn_v2019_same_test_entries" in m
                    else {}
                ),
            }
            for target, m in metrics["targets"].items()
        }
    targets = list(next(iter(folds.values())))
    mean = {
        target: {
            key: float(np.mean([folds[f][target][key] for f in folds]))
            for key in folds[next(iter(folds))][target]
            if key not in ("test_n", "duplicates")
        }
        for target in targets
    }
    return {"unit": "log10(GPa)", "runs": [r.name for r in run_dirs], "folds": folds,
            "mean": mean, "n_folds": len(folds)}  # fmt: skip
