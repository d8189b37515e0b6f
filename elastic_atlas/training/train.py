"""Training CGCNN checkpoints on Matbench, resumable, with early stopping.

One network predicts every target of the run (log10 K and log10 G by default) from the same
crystal graph: Matbench's two elastic tasks hold the same entries in the same order with the
same folds, joined here by their row number. A run folder holds `config.json`, `log.csv`
(epoch, train/val loss, val MAE per target, learning rate), `last.pt` (everything needed to
resume, written every epoch) and `best.safetensors` (weights of the epoch with the lowest mean
validation MAE). `freeze` turns runs (seeds) into an own-format ensemble checkpoint.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, Field, model_validator
from safetensors.torch import load_file, save_file

from elastic_atlas.contract.targets import TARGET_NAMES
from elastic_atlas.errors import TrainingError
from elastic_atlas.model.cgcnn import Architecture, CrystalGraphConvNet, collate
from elastic_atlas.model.checkpoint import build_model
from elastic_atlas.model.features import FeatureTable, own_feature_table
from elastic_atlas.model.graph import CrystalGraph, GraphParameters
from elastic_atlas.paths import cache_dir
from elastic_atlas.training.graphs import cached_graphs
from elastic_atlas.training.matbench import TARGET_TO_TASK, load_fold, load_joint_dataset, row_key

TargetName = Literal["log10_k_vrh", "log10_g_vrh"]  # contract.targets.Target (a test checks)


class TrainConfig(BaseModel):
    targets: list[TargetName] = Field(default=list(TARGET_NAMES), min_length=1)
    datasets: list[Path]  # one Matbench file per target, same entries in the same order
    target_weights: list[float] | None = None  # loss weight per target; None: equal
    folds: Path
    fold: int = 0
    # Nested cross-validation inside the fold's training entries: part `inner_fold` of
    # `inner_folds` (seeded) is held out as the run's "test" and the fold's test entries are left
    # out entirely, so the held-out predictions are honest errors on entries the checkpoint of
    # the fold trains on (the error memory of benchmarks/bench_uncertainty_limit.py).
    inner_fold: int | None = Field(default=None, ge=0)
    inner_folds: int = Field(default=5, ge=2)
    # How the inner parts are cut: "random" entries, or whole chemical systems ("chemsys":
    # leave-cluster-out, Meredig et al. 2018), whose held-out errors look like those of the
    # new compositions most published rows are.
    inner_split: Literal["random", "chemsys"] = "random"
    seed: int = 0
    validation_fraction: float = 0.1
    architecture: Architecture = Architecture(atom_feature_length=91, n_conv=3, h_fea_len=128)
    graph: GraphParameters = GraphParameters()
    batch_size: int = 64
    learning_rate: float = 1e-3
    max_epochs: int = 300
    patience: int = 40
    loss: Literal["l1", "mse"] = "l1"
    threads: int = 1
    device: str = "auto"  # "auto": the GPU when there is one, else the CPU
    cache: Path = Field(default_factory=lambda: cache_dir("graphs"))

    @model_validator(mode="after")
    def _one_file_and_output_per_target(self) -> TrainConfig:
        n = len(self.targets)
        if len(self.datasets) != n:
            raise ValueError(f"{n} target(s) need {n} dataset file(s), got {len(self.datasets)}")
        if self.target_weights is not None and len(self.target_weights) != n:
            raise ValueError(f"target_weights needs {n} value(s)")
        if self.inner_fold is not None and self.inner_fold >= self.inner_folds:
            raise ValueError(f"inner_fold must be below inner_folds ({self.inner_folds})")
        if self.architecture.n_targets != n:
            self.architecture = self.architecture.model_copy(update={"n_targets": n})
        return self

    def weights(self) -> np.ndarray:
        return np.array(self.target_weights or [1.0] * len(self.targets), dtype=np.float32)


# ------------------------------------------------------------------ data
def chemical_system(structure: dict[str, Any]) -> str:
    """'Cl-Na' of a pymatgen Structure dict (no pymatgen import needed)."""
    elements = {sp["element"] for site in structure["sites"] for sp in site["species"]}
    return "-".join(sorted(elements))


def cluster_parts(ids: list[str], groups: dict[str, str], parts: int, seed: int) -> list[set[str]]:
    """`parts` sets of ids, each chemical system wholly in one: the systems in a seeded order,
    each given to the part with the fewest entries so far (parts of near-equal size)."""
    members: dict[str, list[str]] = {}
    for mbid in sorted(ids):
        members.setdefault(groups[mbid], []).append(mbid)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    out: list[set[str]] = [set() for _ in range(parts)]
    for system in order:
        smallest = min(range(parts), key=lambda k: (len(out[k]), k))
        out[smallest].update(members[system])
    return out


def split_ids(
    config: TrainConfig, available: set[str], groups: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """Fold train entries (minus a seeded validation part) and fold test entries present.

    Ids are the first target's Matbench ids; every other target's fold must hold the same rows.
    With an inner fold, part `inner_fold` of the fold's training entries is the test (random
    entries, or whole chemical systems from `groups` with inner_split "chemsys").
    """
    train, test = load_fold(config.folds, TARGET_TO_TASK[config.targets[0]], config.fold)
    for other in config.targets[1:]:
        other_train, other_test = load_fold(config.folds, TARGET_TO_TASK[other], config.fold)
        if {row_key(m) for m in other_train} != {row_key(m) for m in train} or {
            row_key(m) for m in other_test
        } != {row_key(m) for m in test}:
            raise TrainingError(f"fold {config.fold} of {other} holds other entries")
    train = [m for m in train if m in available]
    test = [m for m in test if m in available]
    if config.inner_fold is not None and config.inner_split == "chemsys":
        if groups is None:
            raise TrainingError("inner_split chemsys needs the entries' chemical systems")
        parts_of = cluster_parts(train, groups, config.inner_folds, 3000 + config.fold)
        test = sorted(parts_of[config.inner_fold])
        held_out = set(test)
        train = [m for m in train if m not in held_out]
    elif config.inner_fold is not None:
        parts = sorted(train)
        random.Random(2000 + config.fold).shuffle(parts)  # the same parts for every inner run
        test = parts[config.inner_fold :: config.inner_folds]
        held_out = set(test)
        train = [m for m in train if m not in held_out]
    rng = random.Random(1000 + config.fold)  # the same validation part for every seed
    shuffled = sorted(train)
    rng.shuffle(shuffled)
    n_val = round(len(shuffled) * config.validation_fraction)
    return {
        "train": sorted(shuffled[n_val:]),
        "validation": sorted(shuffled[:n_val]),
        "test": sorted(test),
    }


def _run_identity(config: dict) -> dict:
    """The settings that define a run. Stopping rules, threads and the cache folder may change
    on resume, and data files are identified by name, not by where this machine keeps them."""
    identity = {k: v for k, v in config.items()
                if k not in ("max_epochs", "patience", "threads", "device", "cache")}  # fmt: skip
    if identity.get("inner_fold") is None:  # runs from before nested cross-validation
        identity.pop("inner_fold", None)
        identity.pop("inner_folds", None)
    if identity.get("inner_split", "random") == "random":  # runs from before chemsys splits
        identity.pop("inner_split", None)
    identity["folds"] = Path(identity["folds"]).name
    identity["datasets"] = [Path(path).name for path in identity["datasets"]]
    return identity


# ------------------------------------------------------------------ loop
def predict_normalized(
    model: CrystalGraphConvNet, graphs: list[CrystalGraph], features: np.ndarray, size: int = 512
) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(graphs), size):
            out.append(model(collate(graphs[i : i + size], features).to(device)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.fc_out.out_features))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_device(name: str) -> torch.device:
    """The torch device to train on: for "auto" the GPU when there is one, else the CPU; any
    other name is refused (exit 2) when it is no torch device or names a GPU this machine lacks."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrainingError(
            f"--device {name!r} is not a torch device (cpu, cuda, cuda:1, ...)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"--device {name}: this machine has no CUDA GPU (use auto or cpu)")
    return device


@dataclass
class RunData:
    """The entries of a run, their graphs and targets, normalised as the network sees them."""

    train_graphs: list[CrystalGraph]
    val_graphs: list[CrystalGraph]
    y_train: np.ndarray  # (entries, targets), log10 GPa
    y_val: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    features: FeatureTable

    def normalizer(self, targets: list[str]) -> list[dict[str, Any]]:
        return [{"name": name, "mean": float(m), "std": float(s)}
                for name, m, s in zip(targets, self.mean, self.std, strict=True)]  # fmt: skip


@dataclass
class Trainer:
    """One run's network, optimiser, schedule and progress: the steps of the loop (one
    epoch, validation, keeping the best weights, a resumable checkpoint), as CHGNet's trainer
    separates them."""

    config: TrainConfig
    run_dir: Path
    data: RunData
    device: torch.device
    model: CrystalGraphConvNet = field(init=False)
    state: dict[str, Any] = field(
        default_factory=lambda: {"epoch": 0, "best_mae": float("inf"), "best_epoch": 0}
    )

    def __post_init__(self) -> None:
        seed_everything(self.config.seed)
        self.model = build_model(self.config.architecture, self.config.graph).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=0.5, patience=15, min_lr=1e-5
        )
        weights = self.config.weights()
        self.target_weights = torch.tensor(weights / weights.sum(), device=self.device)
        self.loss_fn = torch.nn.L1Loss(reduction="none") if self.config.loss == "l1" \
            else torch.nn.MSELoss(reduction="none")  # fmt: skip
        normalised = (self.data.y_train - self.data.mean) / self.data.std
        self.y_norm = torch.tensor(normalised, dtype=torch.float32, device=self.device)

    def resume(self) -> None:
        last = self.run_dir / "last.pt"
        if not last.exists():
            return
        # data only, never code; a run may resume on another device than it started on
        saved = torch.load(last, weights_only=True, map_location=self.device)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.state = saved["progress"]
        torch.set_rng_state(saved["torch_rng"].cpu())
        print(f"resuming {self.run_dir} after epoch {self.state['epoch']}", file=sys.stderr)

    def finished(self) -> bool:
        state = self.state
        return (
            state["epoch"] >= self.config.max_epochs
            or state["epoch"] - state["best_epoch"] >= self.config.patience
        )

    def train_epoch(self) -> float:
        """One pass over the training entries in a fresh random order; the mean loss."""
        self.model.train()
        graphs, size = self.data.train_graphs, self.config.batch_size
        order = torch.randperm(len(graphs)).tolist()
        total = 0.0
        for i in range(0, len(order), size):
            chosen = order[i : i + size]
            if len(chosen) < 2:
                continue  # BatchNorm needs more than one crystal... and atom
            batch = collate([graphs[j] for j in chosen], self.data.features.values)
            predicted = self.model(batch.to(self.device))
            loss = (self.loss_fn(predicted, self.y_norm[chosen]).mean(dim=0)
                    * self.target_weights).sum()  # fmt: skip
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach()) * len(chosen)
        return total / len(order)

    def validate(self) -> tuple[np.ndarray, float]:
        """(MAE per target, validation loss) on the validation entries."""
        data = self.data
        predicted = predict_normalized(self.model, data.val_graphs, data.features.values)
        predicted = predicted * data.std + data.mean
        val_norm = (predicted - data.y_val) / data.std
        per_entry = np.abs(val_norm) if self.config.loss == "l1" else val_norm**2
        loss = float((per_entry.mean(axis=0) * self.target_weights.cpu().numpy()).sum())
        return np.mean(np.abs(predicted - data.y_val), axis=0), loss

    def keep_if_best(self, val_mae: float) -> None:
        if val_mae >= self.state["best_mae"]:
            return
        self.state["best_mae"], self.state["best_epoch"] = val_mae, self.state["epoch"]
        weights = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(weights, str(self.run_dir / "best.tmp"))
        (self.run_dir / "best.tmp").replace(self.run_dir / "best.safetensors")
        normalizer = self.data.normalizer(self.config.targets)
        (self.run_dir / "best.json").write_text(
            json.dumps({**self.state, "normalizer": normalizer}) + "\n"
        )

    def checkpoint(self) -> None:
        """Everything a resumed run needs, replaced atomically after every epoch."""
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "progress": self.state,
                "torch_rng": torch.get_rng_state(),
            },
            self.run_dir / "last.tmp",
        )
        os.replace(self.run_dir / "last.tmp", self.run_dir / "last.pt")

    def epoch(self) -> dict[str, Any]:
        start = time.perf_counter()
        train_loss = self.train_epoch()
        val_maes, val_loss = self.validate()
        val_mae = float(val_maes.mean())  # both targets are log10 GPa: one scale
        self.scheduler.step(val_mae)
        self.state["epoch"] += 1
        self.keep_if_best(val_mae)
        return {"train_loss": train_loss, "val_loss": val_loss, "val_mae": val_mae,
                "val_maes": val_maes, "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - start}  # fmt: skip


def check_run_folder(config: TrainConfig, run_dir: Path) -> None:
    """A run folder holds one configuration: refused (never overwritten) if another."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config_text = config.model_dump_json(indent=2)
    saved = run_dir / "config.json"
    if saved.exists() and _run_identity(json.loads(saved.read_text())) != _run_identity(
        json.loads(config_text)
    ):
        raise TrainingError(f"{run_dir} holds a run with another configuration; use a new folder")
    saved.write_text(config_text + "\n")


def run_data(config: TrainConfig, run_dir: Path) -> RunData:
    """The split (written to split.json), graphs and targets of a run."""
    dataset = load_joint_dataset(config.datasets)
    graphs = cached_graphs(dataset, config.graph, config.cache)
    groups = {mbid: chemical_system(structure) for mbid, (structure, _) in dataset.items()}
    ids = split_ids(config, set(graphs), groups)
    (run_dir / "split.json").write_text(json.dumps(ids) + "\n")
    targets = {mbid: values for mbid, (_, values) in dataset.items()}
    y_train = np.array([targets[m] for m in ids["train"]])  # (entries, targets)
    return RunData(
        [graphs[m] for m in ids["train"]], [graphs[m] for m in ids["validation"]], y_train,
        np.array([targets[m] for m in ids["validation"]]), y_train.mean(axis=0),
        y_train.std(axis=0), own_feature_table(),
    )  # fmt: skip


def log_epoch(log: Path, state: dict[str, Any], seen: dict[str, Any]) -> None:
    with log.open("a") as handle:
        csv.writer(handle).writerow(
            [state["epoch"], f"{seen['train_loss']:.6f}", f"{seen['val_loss']:.6f}",
             f"{seen['val_mae']:.6f}", *(f"{v:.6f}" for v in seen["val_maes"]), seen["lr"],
             f"{seen['seconds']:.2f}"]
        )  # fmt: skip


def train_run(config: TrainConfig, run_dir: Path, quiet: bool = False) -> Path:
    """Train (or resume) one run; returns the path of best.safetensors."""
    torch.set_num_threads(config.threads)
    device = training_device(config.device)
    check_run_folder(config, run_dir)
    trainer = Trainer(config, run_dir, run_data(config, run_dir), device)
    trainer.resume()
    log = run_dir / "log.csv"
    if not log.exists():
        per_target = ",".join(f"val_mae_{name}" for name in config.targets)
        log.write_text(f"epoch,train_loss,val_loss,val_mae,{per_target},learning_rate,seconds\n")
    while not trainer.finished():
        seen = trainer.epoch()
        log_epoch(log, trainer.state, seen)
        trainer.checkpoint()
        if not quiet:
            state = trainer.state
            print(
                f"{run_dir.name} epoch {state['epoch']:4d} train {seen['train_loss']:.4f} "
                f"val MAE {' '.join(f'{v:.4f}' for v in seen['val_maes'])} "
                f"(best {state['best_mae']:.4f} @ {state['best_epoch']}) "
                f"lr {seen['lr']:.1e} {seen['seconds']:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    (run_dir / "done").write_text(json.dumps(trainer.state) + "\n")
    return run_dir / "best.safetensors"


def load_run_model(run_dir: Path) -> tuple[CrystalGraphConvNet, TrainConfig, dict, FeatureTable]:
    config = TrainConfig.model_validate_json((run_dir / "config.json").read_text())
    best = json.loads((run_dir / "best.json").read_text())
    model = build_model(config.architecture, config.graph)
    model.load_state_dict(load_file(str(run_dir / "best.safetensors")))
    return model.eval(), config, best, own_feature_table()
