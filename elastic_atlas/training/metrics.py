"""The figures a training run is judged by (own module: the evaluation and the model card both
read them, and neither imports the other for it)."""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "validation", "test")


def metrics(predicted: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """MAE and R² in the target's units (log10 GPa), and the number of entries."""
    from sklearn.metrics import mean_absolute_error, r2_score

    return {
        "mae": float(mean_absolute_error(observed, predicted)),
        "r2": float(r2_score(observed, predicted)),
        "n": len(observed),
    }
