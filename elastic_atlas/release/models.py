"""The checkpoints travel with the release: the model folders a release used are copied into
`releases/<v>/models/` (and so into the upload bundle), each file listed with its sha256, so
anyone can re-predict from a copy of the release alone:

    elastic-atlas predict --checkpoint models/<name> structures/ -o predictions.csv
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from elastic_atlas.contract.licences import LICENCES
from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import Recipe

MODEL_MEDIATYPES = {
    "safetensors": "application/octet-stream",
    "json": "application/json",
    "md": "text/markdown",
    "csv": "text/csv",
    "tar": "application/octet-stream",
    "png": "image/png",
}
WEIGHTS_LICENCE = "CC-BY-4.0"  # trained on Materials Project data (Matbench)


def model_files(path: Path) -> list[Path]:
    """The files that make a checkpoint usable: an own model folder's card, README and
    weights, or a reference .pth.tar (the recipe's atom_init.json travels beside it)."""
    if path.is_file():
        return [path]
    return sorted(
        p for p in path.iterdir()
        if p.is_file()
        and (p.suffix in (".safetensors", ".md") or p.name in ("model.json", "training-ids.csv"))
    )  # fmt: skip


def copy_models(recipes: dict[str, Recipe], out: Path) -> list[Path]:
    """Copy every checkpoint the recipes name into out/models/; returns the copied files."""
    copied: list[Path] = []
    sources = {
        p.resolve()
        for recipe in recipes.values()
        for p in (*recipe.models.paths(), recipe.models.atom_init)
        if p is not None
    }
    for source in sorted(sources):
        folder = out / "models" / (source.stem if source.is_file() else source.name)
        folder.mkdir(parents=True, exist_ok=True)
        for file in model_files(source):
            shutil.copyfile(file, folder / file.name)
            copied.append(folder / file.name)
    return copied


def model_resources(files: list[Path], out: Path) -> list[dict[str, Any]]:
    """Data Package resources of the copied checkpoint files (type file, sha256, bytes)."""
    resources = []
    for path in files:
        relative = path.relative_to(out).as_posix()
        fmt = path.suffix.lstrip(".")
        resources.append(
            {
                "name": relative.removeprefix("models/").replace("/", "-").lower(),
                "type": "file",
                "path": relative,
                "format": fmt,
                "mediatype": MODEL_MEDIATYPES.get(fmt, "application/octet-stream"),
                "bytes": path.stat().st_size,
                "hash": f"sha256:{file_digest(path)}",
                "licenses": [LICENCES[WEIGHTS_LICENCE]],
                "title": f"Checkpoint file {relative}",
            }
        )
    return resources
