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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

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
from elastic_atlas.pipeline.predict import Predicted, Rejected, predict_stream
from elastic_atlas.pipeline.screen import ScreenSettings, Verdict, screen_band_gap, screen_elements
from elastic_atlas.pipeline.tables import (
    BULK,
    SHEAR,
    symmetry_of,
    table_frame,
    write_csv,
    write_parquet,
)
from elastic_atlas.release.descriptor import table_licence

REJECT_COLUMNS = ["material_id", "source", "stage", "reason", "detail"]
# Reasons that are rules of the study (screened out); every other reason is a rejection.
SCREEN_REASONS = {"band_gap_outside_window", "band_gap_unknown", "radioactive_element"}
SYMMETRY_CHECK = "_space_group_from_structure"  # set on rows sampled for the symmetry check


@dataclass
class Accounting:
    inputs: int = 0
    rejects: list[Rejected] = field(default_factory=list)

    def add(self, record: Rejected) -> None:
        self.rejects.append(record)

    def counts(self) -> tuple[Counter[str], Counter[str]]:
        screened = Counter(r.reason for r in self.rejects if r.reason in SCREEN_REASONS)
        rejected = Counter(r.reason for r in self.rejects if r.reason not in SCREEN_REASONS)
        return screened, rejected


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
                book.add(Rejected(raw.material_id, spec.source, "screen", *gap))
                continue
            yield RawStructure(
                raw.material_id, raw.text, spec.source, raw.reason, raw.detail, metadata,
                spec.licence,
            )  # fmt: skip
    for material_id in sorted(set(summary or {}) - seen):
        book.inputs += 1
        detail = "summary row without a structure file"
        book.add(Rejected(material_id, "summary", "join", "no_structure", detail))


def _mp_api(criteria: dict[str, Any]) -> Iterator[RawStructure]:
    from elastic_atlas.inputs.mp_api import MPClient, iter_mp_api

    return iter_mp_api(MPClient(), **criteria)


def _join(raw: RawStructure, summary: dict | None, seen: set[str]) -> tuple[str, str, str] | None:
    if raw.material_id in seen:
        return "join", "duplicate_id", f"{raw.material_id} already read from an earlier input"
    if summary is not None and raw.material_id not in summary:
        return "join", "no_summary_row", "structure without a row in the summary"
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


def build_table(recipe: Recipe, out_dir: Path, workers: int = 2, quiet: bool = False) -> dict:
    """Write <table>.csv/.parquet, rejects.csv and summary.json into out_dir; returns summary."""
    start = time.perf_counter()
    summary = recipe_summary(recipe)
    checkpoints = load_models(recipe)
    book = Accounting()
    accepted: list[Predicted] = []
    licence = table_licence([spec.licence for spec in recipe.structures])
    check_every = recipe.summary.symmetry_check_every if recipe.summary else 0
    stream = predict_stream(
        candidates(recipe, book, summary),
        checkpoints,
        workers=workers,
        extra=partial(add_symmetry, check_every=check_every),
        screen=partial(screen_structure, settings=recipe.screen),
    )
    # The bar counts inputs read (screening on the summary happens before any structure is
    # parsed, so most MP inputs never reach the models) and shows how many became rows.
    with tqdm(unit=" inputs", disable=quiet, file=sys.stderr, desc=recipe.table) as bar:
        for record in stream:
            if isinstance(record, Predicted):
                accepted.append(record)
            else:
                book.add(record)
            bar.update(book.inputs - bar.n)
            bar.set_postfix(rows=len(accepted), refresh=False)
    screened, rejected = book.counts()
    total = len(accepted) + sum(screened.values()) + sum(rejected.values())
    assert total == book.inputs, f"accounting broken: {total} != {book.inputs} inputs"
    out_dir.mkdir(parents=True, exist_ok=True)
    ensemble = {name: len(c.members) for c in checkpoints for name in c.target_names}
    frame = table_frame(accepted, recipe.table, ensemble)
    provenance = checkpoint_provenance(checkpoints)
    write_csv(frame, out_dir / f"{recipe.table}.csv")
    write_parquet(
        frame,
        recipe.table,
        out_dir / f"{recipe.table}.parquet",
        {"elastic_atlas.checkpoints": json.dumps(provenance)},
    )
    write_rejects(book.rejects, out_dir / "rejects.csv", recipe.table)
    elapsed = time.perf_counter() - start
    summary = {
        "table": recipe.table,
        "recipe": str(recipe.path) if recipe.path else None,
        "inputs": book.inputs,
        "accepted": len(accepted),
        "screened_out": dict(sorted(screened.items())),
        "rejected": dict(sorted(rejected.items())),
        "licence": licence,
        "gap_policy": recipe.screen.gap_policy,
        "symmetry_check": symmetry_agreement(accepted),
        "band_gap_null_rows": int(frame["band_gap"].isna().sum()),
        "checkpoints": provenance,
        "seconds": round(elapsed, 1),
        "inputs_per_second": round(book.inputs / elapsed, 1) if elapsed else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def write_rejects(rejects: list[Rejected], path: Path, table: str) -> None:
    rows = sorted((r.material_id, r.source, r.stage, r.reason, r.detail) for r in rejects)
    frame = pd.DataFrame(rows, columns=REJECT_COLUMNS)
    frame.insert(0, "table", table)
    frame.to_csv(path, index=False, lineterminator="\n")


def literature_comparison(frame: pd.DataFrame, literature: pd.DataFrame) -> pd.DataFrame:
    """Predicted vs literature K and G for the materials that have literature values."""
    merged = frame[["material_id", "formula", "k_vrh", "g_vrh"]].merge(
        literature, on="material_id", suffixes=("", "_literature")
    )
    return merged
