"""The study's baselines (its Fig. 2): classical regressors on six composition/structure
descriptors, on the same Matbench fold-0 split as the CGCNN checkpoints."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas.training.matbench import load_dataset
from elastic_atlas.training.train import TrainConfig, split_ids

DESCRIPTORS = [
    "mean_atomic_number",
    "mean_atomic_mass",
    "mean_electronegativity",
    "space_group_number",
    "density",
    "volume_per_atom",
]


def descriptors_of(structure_dict: dict[str, Any]) -> dict[str, float]:
    """The six descriptors of one structure (atom-fraction-weighted element means)."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    structure = Structure.from_dict(structure_dict)
    elements = [site.specie for site in structure]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        electronegativity = [e.X for e in elements]
        space_group = SpacegroupAnalyzer(structure, symprec=0.1).get_space_group_number()
    return {
        "mean_atomic_number": float(np.mean([e.Z for e in elements])),
        "mean_atomic_mass": float(np.mean([float(e.atomic_mass) for e in elements])),
        "mean_electronegativity": float(np.nanmean(electronegativity)),
        "space_group_number": float(space_group),
        "density": float(structure.density),
        "volume_per_atom": float(structure.volume / len(structure)),
    }


def descriptor_table(dataset_path: Path, cache: Path) -> pd.DataFrame:
    """Descriptors of every entry, cached on disk by the dataset file's hash."""
    digest = hashlib.sha256(dataset_path.read_bytes()).hexdigest()[:16]
    path = cache / f"descriptors-{digest}.csv"
    if path.exists():
        return pd.read_csv(path, index_col="mbid")
    dataset = load_dataset(dataset_path)
    rows = {mbid: descriptors_of(structure) for mbid, (structure, _) in dataset.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")[DESCRIPTORS]
    frame.index.name = "mbid"
    cache.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)
    return frame


def regressors() -> dict[str, Any]:
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR
    from sklearn.tree import DecisionTreeRegressor
    from xgboost import XGBRegressor

    return {
        "random forest": RandomForestRegressor(n_estimators=300, random_state=0, n_jobs=1),
        "XGBoost": XGBRegressor(
            n_estimators=500, learning_rate=0.05, max_depth=6, random_state=0, n_jobs=1
        ),
        "SVR": make_pipeline(StandardScaler(), SVR(C=1.0, epsilon=0.05)),
        "gradient boosting": GradientBoostingRegressor(random_state=0),
        "decision tree": DecisionTreeRegressor(random_state=0, min_samples_leaf=5),
    }


def run_baselines(config: TrainConfig) -> pd.DataFrame:
    """MAE and R² (log10 GPa) of each regressor on train/validation/test (the config's first
    target: one regressor per target)."""
    from sklearn.metrics import mean_absolute_error, r2_score

    dataset, target = config.datasets[0], config.targets[0]
    features = descriptor_table(dataset, config.cache)
    targets = pd.Series({m: v for m, (_, v) in load_dataset(dataset).items()})
    ids = split_ids(config, set(features.index))
    rows = []
    for name, model in regressors().items():
        model.fit(features.loc[ids["train"]].to_numpy(), targets[ids["train"]].to_numpy())
        for split, members in ids.items():
            predicted = model.predict(features.loc[members].to_numpy())
            observed = targets[members].to_numpy()
            rows.append(
                {
                    "target": target,
                    "model": name,
                    "split": split,
                    "mae": mean_absolute_error(observed, predicted),
                    "r2": r2_score(observed, predicted),
                    "n": len(members),
                }
            )
    return pd.DataFrame(rows)


def plot_baselines(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    test = table[table["split"] == "test"]
    targets = list(dict.fromkeys(test["target"]))
    fig, axes = plt.subplots(1, len(targets), figsize=(6 * len(targets), 4), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        part = test[test["target"] == target].sort_values("mae")
        colours = ["tab:red" if m.startswith("CGCNN") else "tab:blue" for m in part["model"]]
        ax.barh(part["model"], part["mae"], color=colours)
        for y, value in enumerate(part["mae"]):
            ax.annotate(f"{value:.4f}", (value, y), va="center", fontsize=8)
        ax.set_xlabel(f"test MAE of {target} (log10 GPa)")
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
