"""Candidates of a build: every structure source joined with the summary, screened on the
summary, with symmetry from the summary (cross-checked on a sample) or the structure."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from elastic_atlas.contract.reasons import Reason, Rejected
from elastic_atlas.inputs.recipe import Models, Recipe
from elastic_atlas.inputs.sources import (
    RawStructure,
    iter_cif_source,
    summary_by_id,
    summary_table,
)
from elastic_atlas.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    default_device,
)
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.pipeline.records import Accounting
from elastic_atlas.pipeline.screen import ScreenSettings, Verdict, screen_band_gap, screen_elements
from elastic_atlas.pipeline.tables import BULK, SHEAR, symmetry_of

SYMMETRY_CHECK = "_space_group_from_structure"  # set on rows sampled for the symmetry check


def add_symmetry(structure: Any, info: dict[str, Any], check_every: int = 16) -> dict[str, Any]:
    """Symmetry from the structure, unless the summary already gave it.

    Symmetry taken from a summary is cross-checked against the structure on a fixed sample of
    rows (those whose id hashes to 0 modulo `check_every`; 1 checks every row, 0 none), so a
    summary that belongs to other structures shows up in the build summary.
    """
    if not (info.get("space_group_number") and info.get("crystal_system")):
        return symmetry_of(structure)
    if check_every and zlib.crc32(info["material_id"].encode()) % check_every == 0:
        return {SYMMETRY_CHECK: symmetry_of(structure)["space_group_number"]}
    return {}


def screen_structure(info: dict[str, Any], settings: ScreenSettings) -> Verdict:
    """The study's rules that need the parsed structure (runs in the worker processes)."""
    return screen_elements(info["elements"].split(), settings)


def recipe_summary_table(recipe: Recipe) -> pa.Table | None:
    """The recipe's summary as an Arrow table sorted by id, every cell checked (read before
    any model is loaded)."""
    if recipe.summary is None:
        return None
    return summary_table(
        recipe.summary.path,
        recipe.summary.layout,
        require_band_gap=recipe.screen.gap_policy == "exclude",
    )


def recipe_summary(recipe: Recipe) -> dict[str, dict[str, Any]] | None:
    """The recipe's summary by id (the streamed build joins on it in memory)."""
    table = recipe_summary_table(recipe)
    return None if table is None else summary_by_id(table)


def candidates(
    recipe: Recipe, book: Accounting, summary: dict[str, dict[str, Any]] | None
) -> Iterator[RawStructure]:
    """Structures of every source joined with the summary; others go to `book` with a reason.

    A source that cannot be read completely raises SourceError: the build stops rather than
    publish a table with holes in it.
    """
    seen: set[str] = set()
    for origin in recipe.structures:
        raws = iter_cif_source(origin.path) if origin.kind == "cif" else _mp_api(origin.criteria)
        for raw in raws:
            book.inputs += 1
            verdict = _join(raw, summary, seen)
            if verdict is not None:
                book.add(Rejected(raw.material_id, origin.source, *verdict))
                continue
            seen.add(raw.material_id)
            metadata = {**raw.metadata, **(summary or {}).get(raw.material_id, {})}
            metadata["material_id"] = raw.material_id
            gap = screen_band_gap(metadata, recipe.screen)
            if gap is not None:
                book.add(Rejected(raw.material_id, origin.source, *gap))
                continue
            yield RawStructure(
                raw.material_id, raw.text, origin.source, raw.reason, raw.detail, metadata,
                origin.licence,
            )  # fmt: skip
    for material_id in sorted(set(summary or {}) - seen):
        book.inputs += 1
        detail = "summary row without a structure file"
        book.add(Rejected(material_id, "summary", Reason.NO_STRUCTURE, detail))


def _mp_api(criteria: dict[str, Any]) -> Iterator[RawStructure]:
    from elastic_atlas.inputs.mp_api import MPClient, iter_mp_api

    return iter_mp_api(MPClient(), **criteria)


def _join(raw: RawStructure, summary: dict | None, seen: set[str]) -> tuple[Reason, str] | None:
    if raw.material_id in seen:
        return Reason.DUPLICATE_ID, f"{raw.material_id} already read from an earlier input"
    if summary is not None and raw.material_id not in summary:
        return Reason.NO_SUMMARY_ROW, "structure without a row in the summary"
    return None


def load_models(recipe: Recipe) -> list[Checkpoint]:
    """The recipe's checkpoints on this machine's device; together they predict K and G."""
    return load_models_of(recipe.models)


def load_models_of(models: Models) -> list[Checkpoint]:
    """A recipe's [models] on this machine's device; together they predict K and G."""
    device = default_device()
    if models.checkpoint is not None:
        checkpoints = [load_checkpoint(models.checkpoint, models.atom_init).to(device)]
        roles = [(checkpoints[0], name) for name in (BULK, SHEAR)]
    else:
        assert models.bulk is not None and models.shear is not None  # the recipe checks
        bulk = load_checkpoint(models.bulk, models.atom_init).to(device)
        shear = load_checkpoint(models.shear, models.atom_init).to(device)
        checkpoints = [bulk, shear]
        roles = [(bulk, BULK), (shear, SHEAR)]
        for checkpoint, name in roles:  # reference checkpoints name no target: the role does
            if checkpoint.kind == "reference":
                checkpoint.targets[0].name = name
    for checkpoint, name in roles:
        if name not in checkpoint.target_names:
            raise CheckpointError(
                f"{checkpoint.path} predicts {checkpoint.target_names}, not {name}; check the "
                "recipe's [models] section"
            )
    return checkpoints
