"""What a worker needs to load a table's checkpoints itself: their recipe entry and digests.

A shard of a scaled-out build must not carry the models (a megabyte of modules per task, and on
the client's device: a GPU worker behind a CPU client would predict on CPU). It carries a
`ModelRef` instead — the recipe's [models] and the sha256 of every file the checkpoints are read
from, a few hundred bytes — and each process loads the checkpoints once, on its own device,
after checking that the files are still the ones the build started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import Models
from elastic_atlas.model.checkpoint import Checkpoint, CheckpointError
from elastic_atlas.pipeline.candidates import load_models_of


@dataclass(frozen=True)
class ModelRef:
    models_json: str  # the recipe's [models], as JSON (hashable, small)
    digests: tuple[tuple[str, str], ...]  # (file, sha256) of every file the models are read from

    @property
    def models(self) -> Models:
        return Models.model_validate_json(self.models_json)


# One process's checkpoints by reference: loaded once, reused by every shard it runs.
_LOADED: dict[ModelRef, list[Checkpoint]] = {}


def model_files(models: Models) -> list[Path]:
    """Every file a recipe's checkpoints are read from (weights, cards, atom features)."""
    files: list[Path] = []
    for path in [*models.paths(), models.atom_init]:
        if path is None:
            continue
        files += sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return files


def model_ref(models: Models, loaded: list[Checkpoint] | None = None) -> ModelRef:
    """The reference of a recipe's models; `loaded`: the checkpoints this process already
    holds for it (so the process that makes the reference does not load them again)."""
    digests = tuple((str(p), file_digest(p)) for p in model_files(models))
    ref = ModelRef(models.model_dump_json(), digests)
    if loaded is not None:
        _LOADED[ref] = loaded
    return ref


def checkpoints_of(ref: ModelRef) -> list[Checkpoint]:
    """The checkpoints of `ref` on this process's device, loaded on first use; refused when a
    file changed since the reference was made (the rows would mix two models)."""
    if ref not in _LOADED:
        for name, digest in ref.digests:
            path = Path(name)
            if not path.is_file() or file_digest(path) != digest:
                raise CheckpointError(
                    f"{path} changed or vanished since the build started; start it again"
                )
        _LOADED[ref] = load_models_of(ref.models)
    return _LOADED[ref]


def forget_loaded() -> None:
    """Drop this process's loaded checkpoints (tests; a long-lived worker between builds)."""
    _LOADED.clear()
