"""Build one table from a recipe: sources → screen → graphs → predict → derive → files.

Every input is accounted for: accepted (a row), screened out (a rule of the study) or rejected
(unusable input), with a reason; `inputs == accepted + screened_out + rejected` is asserted.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from elastic_atlas.contract.licences import table_licence
from elastic_atlas.contract.reasons import REJECT_COLUMNS, Reason, Rejected
from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.inputs.sources import RawStructure, SourceError, iter_cif_source, load_summary
from elastic_atlas.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    default_device,
    load_checkpoint,
)
from elastic_atlas.paths import default_releases, display_path
from elastic_atlas.pipeline.predict import predict_stream
from elastic_atlas.pipeline.records import Accounting, Predicted
from elastic_atlas.pipeline.screen import ScreenSettings, Verdict, screen_band_gap, screen_elements
from elastic_atlas.pipeline.tables import (
    BULK,
    SHEAR,
    symmetry_of,
    table_frame,
    write_csv,
    write_parquet,
)

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


def recipe_summary(recipe: Recipe) -> dict[str, dict[str, Any]] | None:
    """The recipe's summary, every cell checked (read before any model is loaded)."""
    if recipe.summary is None:
        return None
    return load_summary(
        recipe.summary.path,
        recipe.summary.layout,
        require_band_gap=recipe.screen.gap_policy == "exclude",
    )


def candidates(
    recipe: Recipe, book: Accounting, summary: dict[str, dict[str, Any]] | None
) -> Iterator[RawStructure]:
    """Structures of every source joined with the summary; others go to `book` with a reason.

    A source that cannot be read completely raises SourceError: the build stops rather than
    publish a table with holes in it.
    """
    seen: set[str] = set()
    for spec in recipe.structures:
        raws = iter_cif_source(spec.path) if spec.kind == "cif" else _mp_api(spec.criteria)
        for raw in raws:
            book.inputs += 1
            verdict = _join(raw, summary, seen)
            if verdict is not None:
                book.add(Rejected(raw.material_id, spec.source, *verdict))
                continue
            seen.add(raw.material_id)
            metadata = {**raw.metadata, **(summary or {}).get(raw.material_id, {})}
            metadata["material_id"] = raw.material_id
            gap = screen_band_gap(metadata, recipe.screen)
            if gap is not None:
                book.add(Rejected(raw.material_id, spec.source, *gap))
                continue
            yield RawStructure(
                raw.material_id, raw.text, spec.source, raw.reason, raw.detail, metadata,
                spec.licence,
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
    device = default_device()
    bulk = load_checkpoint(recipe.models.bulk, recipe.models.atom_init).to(device)
    shear = load_checkpoint(recipe.models.shear, recipe.models.atom_init).to(device)
    # Reference checkpoints name no target: the recipe's role decides.
    for checkpoint, name in ((bulk, BULK), (shear, SHEAR)):
        if checkpoint.kind == "reference":
            checkpoint.targets[0].name = name
        if name not in checkpoint.target_names:
            raise CheckpointError(
                f"{checkpoint.path} predicts {checkpoint.target_names}, not {name}; check the "
                "recipe's [models] section"
            )
    return [bulk, shear]


def symmetry_agreement(accepted: list[Predicted]) -> dict[str, Any]:
    """Summary space groups against the structures' own, on the sampled rows."""
    checked = [r for r in accepted if SYMMETRY_CHECK in r.info]
    disagree = sorted(
        r.material_id for r in checked if r.info[SYMMETRY_CHECK] != r.info.get("space_group_number")
    )
    return {"checked": len(checked), "disagree": len(disagree), "examples": disagree[:10]}


class BuildOutputError(SourceError):
    """An output folder a build must not write into."""


def check_build_output(output: Path) -> None:
    """Refuse to write a build into a release: its files are pinned by checksums and a DOI."""
    resolved = output.resolve()
    releases = default_releases().resolve()
    if resolved.is_relative_to(releases):
        raise BuildOutputError(f"{output} is inside {releases}; releases are made by `release`")
    for folder in (resolved, *resolved.parents):
        if (folder / "datapackage.json").is_file() and (folder / "CHECKSUMS.sha256").is_file():
            raise BuildOutputError(f"{output} is inside the release {folder}; use another folder")


def checkpoint_provenance(checkpoints: list[Checkpoint]) -> list[dict[str, Any]]:
    out = []
    for c in checkpoints:
        files = [c.path] if c.path.is_file() else sorted(c.path.glob("*.safetensors"))
        out.append(
            {
                "path": display_path(c.path),
                "kind": c.kind,
                "targets": c.target_names,
                "members": len(c.members),
                "sha256": {f.name: file_digest(f) for f in files},
            }
        )
    return out


@dataclass
class RunOptions:
    workers: int = 2
    batch_size: int | None = None
    quiet: bool = False


@dataclass
class BuildResult:
    """A built table in memory: rows, accounting and provenance (nothing re-read from disk)."""

    table: str
    frame: pd.DataFrame
    book: Accounting
    summary: dict[str, Any]
    provenance: list[dict[str, Any]]


def counted(raws: Iterable[RawStructure], book: Accounting) -> Iterator[RawStructure]:
    """The inputs of a bare source, each counted as it is read."""
    for raw in raws:
        book.inputs += 1
        yield raw


def stream(
    raws: Iterable[RawStructure],
    checkpoints: list[Checkpoint],
    book: Accounting,
    options: RunOptions,
    *,
    label: str = "",
    extra: Any = None,
    screen: Any = None,
) -> Iterator[Predicted]:
    """The one driver of `build` and `predict`: every record of the models, rejections into
    `book`, predictions out; a bar counts inputs read and shows the rows."""
    records = predict_stream(
        raws, checkpoints, workers=options.workers, batch_size=options.batch_size,
        extra=extra, screen=screen,
    )  # fmt: skip
    with tqdm(unit=" inputs", disable=options.quiet, file=sys.stderr, desc=label) as bar:
        for record in records:
            if isinstance(record, Predicted):
                book.accepted += 1
                yield record
            else:
                book.add(record)
            bar.update(book.inputs - bar.n)
            bar.set_postfix(rows=book.accepted, refresh=False)


def run_build(recipe: Recipe, options: RunOptions) -> BuildResult:
    """Build one table from a recipe, in memory; raises SourceError before any model runs when
    the summary is bad, and during the run when a source cannot be read completely."""
    start = time.perf_counter()
    summary = recipe_summary(recipe)
    licence = table_licence([spec.licence for spec in recipe.structures])
    checkpoints = load_models(recipe)
    book = Accounting()
    check_every = recipe.summary.symmetry_check_every if recipe.summary else 0
    accepted = list(
        stream(
            candidates(recipe, book, summary), checkpoints, book, options, label=recipe.table,
            extra=partial(add_symmetry, check_every=check_every),
            screen=partial(screen_structure, settings=recipe.screen),
        )
    )  # fmt: skip
    book.check()
    ensemble = {name: len(c.members) for c in checkpoints for name in c.target_names}
    frame = table_frame(accepted, recipe.table, ensemble)
    provenance = checkpoint_provenance(checkpoints)
    facts = {"licence": licence, "symmetry_check": symmetry_agreement(accepted)}
    return BuildResult(
        recipe.table, frame, book, build_summary(recipe, book, frame, provenance, facts, start),
        provenance,
    )  # fmt: skip


def build_summary(
    recipe: Recipe,
    book: Accounting,
    frame: pd.DataFrame,
    provenance: list[dict[str, Any]],
    facts: dict[str, Any],
    start: float,
) -> dict[str, Any]:
    screened, rejected = book.counts()
    elapsed = time.perf_counter() - start
    return {
        "table": recipe.table,
        "recipe": str(recipe.path) if recipe.path else None,
        "inputs": book.inputs,
        "accepted": book.accepted,
        "screened_out": dict(sorted(screened.items())),
        "rejected": dict(sorted(rejected.items())),
        "licence": facts["licence"],
        "gap_policy": recipe.screen.gap_policy,
        "symmetry_check": facts["symmetry_check"],
        "band_gap_null_rows": int(frame["band_gap"].isna().sum()),
        "checkpoints": provenance,
        "seconds": round(elapsed, 1),
        "inputs_per_second": round(book.inputs / elapsed, 1) if elapsed else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def write_table_files(result: BuildResult, out_dir: Path, rejects_name: str) -> None:
    """<table>.csv, <table>.parquet and the rejects file of a built table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(result.frame, out_dir / f"{result.table}.csv")
    metadata = {"elastic_atlas.checkpoints": json.dumps(result.provenance)}
    write_parquet(result.frame, result.table, out_dir / f"{result.table}.parquet", metadata)
    write_rejects(result.book.rejects, out_dir / rejects_name, result.table)


def build_table(recipe: Recipe, out_dir: Path, options: RunOptions | None = None) -> BuildResult:
    """`elastic-atlas build`: the table's files, rejects.csv and summary.json in out_dir."""
    result = run_build(recipe, options or RunOptions())
    write_table_files(result, out_dir, "rejects.csv")
    (out_dir / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
    return result


def write_rejects(rejects: list[Rejected], path: Path, table: str) -> None:
    rows = sorted(r.row() for r in rejects)
    frame = pd.DataFrame(rows, columns=list(REJECT_COLUMNS))
    frame.insert(0, "table", table)
    frame.to_csv(path, index=False, lineterminator="\n")


def literature_comparison(frame: pd.DataFrame, literature: pd.DataFrame) -> pd.DataFrame:
    """Predicted vs literature K and G for the materials that have literature values."""
    merged = frame[["material_id", "formula", "k_vrh", "g_vrh"]].merge(
        literature, on="material_id", suffixes=("", "_literature")
    )
    return merged
