"""Checkpoints: the reference CGCNN `.pth.tar` and the project's own verifiable format.

Own format: a folder `models/<name>/` holding
  model.json            architecture, graph parameters, targets with units, normalisers and
                        the calibration of their uncertainty, training provenance, metrics,
                        date, code version and the sha256 of every weight file (format
                        "elastic-atlas-cgcnn", version 1);
  member-<k>.safetensors  the weights of each ensemble member (one or more);
  atom_features.safetensors  the element feature table the model was trained with.
Loading verifies the format version and every sha256 before a weight is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from elastic_atlas import __version__
from elastic_atlas.clock import created_timestamp
from elastic_atlas.contract.targets import TARGET_UNIT
from elastic_atlas.contract.targets import Target as TargetName
from elastic_atlas.digest import file_digest
from elastic_atlas.errors import CheckpointError
from elastic_atlas.model.calibration import Calibration
from elastic_atlas.model.card_schema import (
    FORMAT_NAME,
    FORMAT_VERSION,
    validated_card,
)
from elastic_atlas.model.cgcnn import (
    Architecture,
    CrystalGraphConvNet,
    FoldedCGCNN,
    collate,
    gaussian_centers,
)
from elastic_atlas.model.features import FeatureTable
from elastic_atlas.model.graph import CrystalGraph, GraphParameters


@dataclass
class Target:
    name: str
    mean: float
    std: float
    unit: str = TARGET_UNIT
    calibration: Calibration | None = None  # spread -> standard uncertainty (own, frozen)

    def as_dict(self) -> dict[str, Any]:
        entry = {"name": self.name, "mean": self.mean, "std": self.std, "unit": self.unit}
        if self.calibration is not None:
            entry["calibration"] = self.calibration.as_dict()
        return entry


@dataclass
class Checkpoint:
    """Frozen model(s) + everything needed to turn a structure into a prediction."""

    members: list[CrystalGraphConvNet]
    features: FeatureTable
    graph: GraphParameters
    targets: list[Target]
    kind: str  # "reference" or "own"
    path: Path
    card: dict[str, Any] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    def to(self, device: torch.device) -> Checkpoint:
        self.members = [m.to(device) for m in self.members]
        self.device = device
        return self

    def inference(self) -> EnsembleInference:
        """The inference-only form of this checkpoint: small, picklable, no nn.Modules."""
        return EnsembleInference(
            models=[FoldedCGCNN(m.eval()).to(self.device) for m in self.members],
            features=self.features,
            target_names=self.target_names,
            mean=np.array([t.mean for t in self.targets], dtype=np.float32),
            std=np.array([t.std for t in self.targets], dtype=np.float32),
            calibrations=[t.calibration for t in self.targets],
            device=self.device,
            name=self.path.name,
        )

    def predict_graphs(self, graphs: list[CrystalGraph]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, spread) of shape (len(graphs), n_targets) in target units."""
        return self.inference().predict_graphs(graphs)


BULK_TARGET = TargetName.LOG10_K_VRH.value


@dataclass
class EnsembleInference:
    """Everything a process needs to predict with one checkpoint (ensemble mean and spread)."""

    models: list[FoldedCGCNN]
    features: FeatureTable
    target_names: list[str]
    mean: np.ndarray  # normaliser per target
    std: np.ndarray
    calibrations: list[Calibration | None]  # per target; None: no calibrated uncertainty
    device: torch.device
    name: str  # the checkpoint's file or folder name, for messages

    def uncertainty(self, spread: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """Calibrated standard uncertainty per target (NaN where a target has none); `mean`,
        the predictions, for calibrations whose groups depend on the predicted bulk modulus."""
        return self._per_target(Calibration.sigma, spread, mean)

    def coverage_factors(self, spread: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """The factor k of each row's 95 % interval ±k·σ per target (NaN where none)."""
        return self._per_target(Calibration.factor, spread, mean)

    def expanded_uncertainty(
        self, spread: np.ndarray, mean: np.ndarray | None = None
    ) -> np.ndarray:
        """Half-width U = k·σ of the 95 % interval per target (NaN where a target has none)."""
        return self._per_target(Calibration.expanded, spread, mean)

    def _per_target(self, method, spread: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
        """`method` of each target's calibration on its spreads (NaN where it has none)."""
        out = np.full(spread.shape, np.nan)
        bulk = self._bulk(mean)
        for j, calibration in enumerate(self.calibrations):
            if calibration is not None:
                out[:, j] = method(calibration, spread[:, j], bulk)
        return out

    def _bulk(self, mean: np.ndarray | None) -> np.ndarray | None:
        """Predicted B in GPa, where this checkpoint predicts it and `mean` is given."""
        if mean is None or BULK_TARGET not in self.target_names:
            return None
        return 10.0 ** np.asarray(mean)[:, self.target_names.index(BULK_TARGET)]

    @torch.no_grad()
    def predict_graphs(self, graphs: list[CrystalGraph]) -> tuple[np.ndarray, np.ndarray]:
        """(mean, spread) of shape (len(graphs), n_targets) in target units.

        The spread is the members' standard deviation (0 for a single member).
        """
        batch = collate(graphs, self.features.values).to(self.device)
        bonds = self.models[0].expand_distances(batch.neighbor_distance)  # same for all members
        mean = torch.from_numpy(self.mean).to(self.device)
        std = torch.from_numpy(self.std).to(self.device)
        outputs = torch.stack([model(batch, bonds) * std + mean for model in self.models])
        spread = outputs.std(dim=0, unbiased=False)
        return outputs.mean(dim=0).cpu().numpy(), spread.cpu().numpy()


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_model(arch: Architecture, graph: GraphParameters) -> CrystalGraphConvNet:
    centers = gaussian_centers(graph.radius, graph.gaussian_step)
    if len(centers) != arch.gaussian_length:
        raise CheckpointError(
            f"graph parameters give {len(centers)} Gaussians, architecture expects "
            f"{arch.gaussian_length}"
        )
    return CrystalGraphConvNet(arch, centers, graph.gaussian_step)


def load_state_strictly(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Every key of the checkpoint matched and every parameter of the model given.

    Only BatchNorm's `num_batches_tracked` counters may be absent: PyTorch added them after the
    reference checkpoints were written and inference never reads them.
    """
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"{path}: weights do not match the architecture "
            f"(missing {missing}, unexpected {result.unexpected_keys})"
        )


def _verify(folder: Path, entry: dict[str, str]) -> Path:
    path = folder / entry["file"]
    if not path.is_file():
        raise CheckpointError(f"{path} is missing (listed in {folder / 'model.json'})")
    actual = file_digest(path)
    if actual != entry["sha256"]:
        raise CheckpointError(
            f"{path}: sha256 {actual} does not match model.json ({entry['sha256']}); the weights "
            "were changed or corrupted — restore them from the repository"
        )
    return path


def load_own(folder: Path) -> Checkpoint:
    card_path = folder / "model.json"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{card_path}: cannot read the model card ({error})") from error
    if not isinstance(card, dict):
        raise CheckpointError(f"{card_path}: the model card is not a JSON object")
    if card.get("format") != FORMAT_NAME or card.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{card_path}: format {card.get('format')!r} version {card.get('format_version')!r}; "
            f"this elastic-atlas reads {FORMAT_NAME!r} version {FORMAT_VERSION}"
        )
    try:  # every key checked before any weight is read
        validated_card(card, str(card_path))
    except ValueError as error:
        raise CheckpointError(str(error)) from None
    arch = Architecture.model_validate(card["architecture"])
    graph = GraphParameters.model_validate(card["graph"])
    tables = load_file(_verify(folder, card["atom_features"]))
    features = FeatureTable(
        tables["values"].numpy(),
        tables["known"].numpy().astype(bool),
        card["atom_features"]["source"],
    )
    members = []
    for entry in card["members"]:
        model = build_model(arch, graph)
        load_state_strictly(model, load_file(_verify(folder, entry)), folder)
        members.append(model.eval())
    targets = [
        Target(
            t["name"],
            t["mean"],
            t["std"],
            t["unit"],
            Calibration.from_dict(t["calibration"]) if "calibration" in t else None,
        )
        for t in card["targets"]
    ]
    return Checkpoint(members, features, graph, targets, "own", folder, card)


def created_date() -> str:
    """The day a checkpoint is frozen: SOURCE_DATE_EPOCH's when set, as for a release, so that
    re-freezing the same runs later (to add a metric) can keep the card's date."""
    return created_timestamp()[:10]


def save_own(
    folder: Path,
    members: list[CrystalGraphConvNet],
    features: FeatureTable,
    graph: GraphParameters,
    targets: list[Target],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write an own-format checkpoint folder; returns the path of model.json."""
    folder.mkdir(parents=True, exist_ok=True)
    feature_file = folder / "atom_features.safetensors"
    save_file(
        {
            "values": torch.from_numpy(features.values),
            "known": torch.from_numpy(features.known.astype(np.uint8)),
        },
        str(feature_file),
    )
    entries = []
    for k, model in enumerate(members):
        path = folder / f"member-{k}.safetensors"
        state = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
        save_file(state, str(path))
        entries.append({"file": path.name, "sha256": file_digest(path)})
    card = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": members[0].arch.model_dump(),
        "graph": graph.model_dump(),
        "targets": [t.as_dict() for t in targets],
        "atom_features": {
            "file": feature_file.name,
            "sha256": file_digest(feature_file),
            "source": features.source,
        },
        "members": entries,
        "code_version": __version__,
        "created": created_date(),
        **(extra or {}),
    }
    card_path = folder / "model.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card_path
