"""The checkpoints travel with the release: the model folders a release used are copied into
`releases/<v>/models/` (and so into the upload bundle), each file listed with its sha256, so
anyone can re-predict from a copy of the release alone:

    elastic-atlas predict --checkpoint models/<name> structures/ -o predictions.csv
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from elastic_atlas.contract.licences import LICENCES
from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.inputs.sources import SourceError

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
    weights, or a reference .pth.tar (the recipe's atom_init.json travels beside it). A
    symbolic link is refused: following it could publish a file from outside the folder."""
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.iterdir()
        if p.suffix in (".safetensors", ".md") or p.name in ("model.json", "training-ids.csv")
    )  # fmt: skip
    links = [p.name for p in files if p.is_symlink()]
    if links:
        raise SourceError(f"{path}: symbolic link(s) {', '.join(links)} in a checkpoint folder")
    return [p for p in files if p.is_file()]


def model_sources(recipes: dict[str, Recipe]) -> list[Path]:
    return sorted(
        {
            p.resolve()
            for recipe in recipes.values()
            for p in (*recipe.models.paths(), recipe.models.atom_init)
            if p is not None
        }
    )


def content_digest(source: Path) -> str:
    """sha256 of a checkpoint's files as a release copies them (names and contents)."""
    lines = "".join(f"{f.name} {file_digest(f)}\n" for f in model_files(source))
    return hashlib.sha256(lines.encode()).hexdigest()


def release_folders(sources: list[Path]) -> dict[Path, str]:
    """Each checkpoint file or folder -> its folder under models/. Two sources of one name
    (`bulk/model_best.pth.tar` and `shear/model_best.pth.tar`, the reference trainer's
    default) are told apart by their content's digest, so neither overwrites the other; two
    with the same files share one folder."""

    def base(source: Path) -> str:
        return (
            source.name.removesuffix(".pth.tar").removesuffix(".json")
            if source.is_file()
            else source.name
        )

    names = [base(s) for s in sources]
    return {
        source: f"{name}-{content_digest(source)[:12]}" if names.count(name) > 1 else name
        for source, name in zip(sources, names, strict=True)
    }


def copy_models(recipes: dict[str, Recipe], out: Path) -> tuple[list[Path], dict[Path, str]]:
    """Copy every checkpoint the recipes name into out/models/ (once per distinct content);
    returns the copied files and each source's folder name there."""
    copied: list[Path] = []
    folders = release_folders(model_sources(recipes))
    for source, name in folders.items():
        folder = out / "models" / name
        if folder.exists():  # the same files from another path: already there, one copy
            continue
        folder.mkdir(parents=True)
        for file in model_files(source):
            shutil.copyfile(file, folder / file.name)
            copied.append(folder / file.name)
    return copied, folders


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
