"""Build one table from a recipe: sources → screen → graphs → predict → derive → files.

Every input is accounted for: accepted (a row), screened out (a rule of the study) or rejected
(unusable input), with a reason; `inputs == accepted + screened_out + rejected` is asserted.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from elastic_atlas import __version__
from elastic_atlas.contract.licences import table_licence
from elastic_atlas.contract.reasons import REJECT_COLUMNS, Reason, Rejected
from elastic_atlas.digest import file_digest, source_digest
from elastic_atlas.errors import EngineError
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.inputs.sources import SourceError, count_cif_inputs
from elastic_atlas.model.checkpoint import (
    Checkpoint,
)
from elastic_atlas.paths import default_releases, display_path
from elastic_atlas.pipeline.candidates import (
    candidates,
    load_models,
    recipe_summary,
    recipe_summary_table,
)
from elastic_atlas.pipeline.crosscheck import crosscheck_of, read_dft_table
from elastic_atlas.pipeline.driver import RunOptions, counted, stream  # noqa: F401 (re-exported)
from elastic_atlas.pipeline.engines import merge_parts, shard_runner
from elastic_atlas.pipeline.memory import give_back_memory, lean_client
from elastic_atlas.pipeline.model_refs import model_ref
from elastic_atlas.pipeline.outputs import (
    OutputError,
    check_writable,
    folder_lock,
    release_holding,
)
from elastic_atlas.pipeline.parts import ShardJob, finished, key_basis, shard_jobs, stale_parts
from elastic_atlas.pipeline.records import Accounting, BuildStatistics, Tally
from elastic_atlas.pipeline.shards import (
    ShardSpec,
    SymmetryTally,
    TableSpool,
    batched,
    table_rows,
)
from elastic_atlas.pipeline.structures import (
    TextKeeper,
    sorted_structures,
    structures_name,
    write_structures,
)
from elastic_atlas.pipeline.tables import write_csv, write_parquet
from elastic_atlas.pipeline.workplan import Plan, write_plan


class BuildOutputError(OutputError):
    """An output folder a build must not write into."""


def check_build_output(output: Path) -> None:
    """Refuse to write a build into a release: its files are pinned by checksums and a DOI."""
    resolved = output.resolve()
    releases = default_releases().resolve()
    if resolved.is_relative_to(releases):
        raise BuildOutputError(f"{output} is inside {releases}; releases are made by `release`")
    release = release_holding(output)
    if release is not None:
        raise BuildOutputError(f"{output} is inside the release {release}; use another folder")


def checkpoint_provenance(checkpoints: list[Checkpoint]) -> list[dict[str, Any]]:
    out = []
    for c in checkpoints:
        # the weights and, for a model folder, its card: the card says what the weights mean
        files = [c.path] if c.path.is_file() else sorted(c.path.glob("*.safetensors"))
        if c.path.is_dir() and (c.path / "model.json").is_file():
            files.append(c.path / "model.json")
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
class BuildResult:
    """A built table in memory: rows, accounting and provenance (nothing re-read from disk)."""

    table: str
    loaded: pd.DataFrame | None  # the rows; None: read from `parquet` when first asked for
    book: Accounting | Tally  # a sharded build's rejects are in its files: counts only
    statistics: BuildStatistics
    provenance: list[dict[str, Any]]
    # material_id, cif: each row's structure as read, sorted by id (None: already written)
    structures: pa.Table | None
    literature: pd.DataFrame | None = None  # the recipe's literature table, read once
    parquet: Path | None = None  # the table's Parquet file, when the build wrote it

    @property
    def frame(self) -> pd.DataFrame:
        """The table's rows (a sharded build reads its file only when they are asked for: a
        `build` of millions of rows never holds them)."""
        if self.loaded is None:
            assert self.parquet is not None
            self.loaded = read_frame(self.parquet)
        return self.loaded

    def columns(self, names: Iterable[str]) -> pd.DataFrame:
        """The rows' columns `names` that the table has, in that order — from its Parquet file
        without the others when the rows are not in memory (a release's facts, card and page
        each need a few of the table's 40 columns)."""
        if self.loaded is not None:
            return self.loaded[[n for n in names if n in self.loaded.columns]]
        assert self.parquet is not None
        present = set(pq.read_schema(self.parquet).names)
        return read_frame(self.parquet, [n for n in names if n in present])

    @property
    def rows(self) -> int:
        if self.loaded is not None:
            return len(self.loaded)
        assert self.parquet is not None
        return pq.ParquetFile(self.parquet).metadata.num_rows

    def rows_at(self, names: Iterable[str], positions: np.ndarray) -> pd.DataFrame:
        """`columns(names)` of the rows at `positions` (sorted, 0-based), reading from the
        Parquet file only the row groups that hold one (a page's sample of millions of rows)."""
        names = list(names)
        if self.loaded is not None:
            return self.columns(names).iloc[positions].reset_index(drop=True)
        assert self.parquet is not None
        source = pq.ParquetFile(self.parquet)
        present = set(source.schema_arrow.names)
        wanted = [n for n in names if n in present]
        pieces, start = [], 0
        for group in range(source.num_row_groups):
            stop = start + source.metadata.row_group(group).num_rows
            here = positions[(positions >= start) & (positions < stop)] - start
            if len(here):
                pieces.append(source.read_row_group(group, columns=wanted).take(here))
            start = stop
        table = pa.concat_tables(pieces) if pieces else source.schema_arrow.empty_table()
        return table.select(wanted).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def expected_inputs(recipe: Recipe, summary: dict | None) -> int | None:
    """The bar's total when every source can count its inputs (a summary row without a
    structure is one more input, found only at the end)."""
    if any(origin.kind != "cif" for origin in recipe.structures):
        return None
    counts = [count_cif_inputs(origin.path) for origin in recipe.structures]
    return None if None in counts else sum(counts)  # type: ignore[arg-type]


def run_build(recipe: Recipe, options: RunOptions) -> BuildResult:
    """Build one table from a recipe in one stream, in memory: the reference the sharded build
    (`run_sharded`, what `build` and `release` run) is tested against — at inference batch 1
    both write the same bytes. Raises SourceError before any model runs when the summary is
    bad, and during the run when a source cannot be read completely."""
    start = time.perf_counter()
    summary = recipe_summary(recipe)
    dft = read_dft_table(recipe.dft.path) if recipe.dft else None  # before any model runs
    literature = read_literature(recipe.literature) if recipe.literature else None  # checked early
    checkpoints = load_models(recipe)
    crosscheck = crosscheck_of(recipe, checkpoints, dft)
    book = Accounting()
    check_every = recipe.summary.symmetry_check_every if recipe.summary else 0
    models = model_ref(recipe.models, checkpoints)
    spec = ShardSpec(recipe.table, models, recipe.screen, check_every, crosscheck=crosscheck)
    keeper = TextKeeper()  # each row's CIF, shipped beside the table
    records = stream(
        keeper.watch(candidates(recipe, book, summary)), checkpoints, book, options,
        label=recipe.table, total=expected_inputs(recipe, summary), **spec.hooks(),
    )  # fmt: skip
    symmetry = SymmetryTally()
    texts: list[pa.Table] = []
    with TableSpool(spec) as spool:
        for chunk in batched(records):  # rows leave Python objects a row group at a time
            symmetry.add(chunk)
            spool.add(table_rows(chunk, spec))
            texts.append(keeper.take([r.material_id for r in chunk]))
        frame = spool.sorted_frame()
    keeper.clear()
    book.check()
    provenance = checkpoint_provenance(checkpoints)
    no_entry = bool(len(frame)) and bool((frame["dft_status"] == "no_entry").all())
    facts = table_facts(recipe, len(frame), dft is not None and no_entry, checkpoints, provenance,
                        symmetry)  # fmt: skip
    gap_nulls = int(frame["band_gap"].isna().sum())
    statistics = build_statistics(recipe, book, gap_nulls, provenance, facts, start)
    return BuildResult(recipe.table, frame, book, statistics, provenance,
                       sorted_structures(texts), literature)  # fmt: skip


def table_facts(
    recipe: Recipe,
    rows: int,
    no_dft_match: bool,
    checkpoints: list[Checkpoint],
    provenance: list[dict[str, Any]],
    symmetry: SymmetryTally,
) -> dict[str, Any]:
    """Licence, symmetry check, model cards and warnings of a built table."""
    licence = table_licence([origin.licence for origin in recipe.structures])
    cards = {p["path"]: c.card for p, c in zip(provenance, checkpoints, strict=True) if c.card}
    facts = {"licence": licence, "symmetry_check": symmetry.summary(), "cards": cards}
    if no_dft_match:
        facts["warning"] = (
            f"the DFT table {display_path(recipe.dft.path)} matches none of the "
            f"{rows} rows' material ids (another id scheme?): every dft_status is no_entry"
        )
        print(f"warning: {recipe.table}: {facts['warning']}", file=sys.stderr)
    return facts


def run_sharded(
    recipe: Recipe,
    options: RunOptions,
    files: dict[str, Path],
    parts: Path,
    about: dict[str, str] | None = None,
    runner: Callable[..., None] | None = None,
) -> BuildResult:
    """Build one table through its plan and parts (in `parts`) on the engine `options` names,
    then merge the parts into `files` (csv, parquet, structures, rejects). Finished parts of the
    same key are reused: an interrupted run resumes by running it again. `runner`: a
    `shard_runner` opened by the caller for several tables (one Dask cluster for a release)."""
    # a Dask cluster of our own starts while planning
    engine = nullcontext(runner) if runner is not None else shard_runner(options)
    with engine as run, lean_client():
        return _run_sharded(recipe, options, files, parts, about, run)


def _run_sharded(
    recipe: Recipe,
    options: RunOptions,
    files: dict[str, Path],
    parts: Path,
    about: dict[str, str] | None,
    run_shards: Callable[..., None],
) -> BuildResult:
    start = time.perf_counter()
    summary = recipe_summary_table(recipe)
    dft = read_dft_table(recipe.dft.path) if recipe.dft else None  # before any model runs
    literature = read_literature(recipe.literature) if recipe.literature else None
    checkpoints = load_models(recipe)
    check_every = recipe.summary.symmetry_check_every if recipe.summary else 0
    crosscheck = crosscheck_of(recipe, checkpoints, dft)
    models = model_ref(recipe.models, checkpoints)
    spec = ShardSpec(recipe.table, models, recipe.screen, check_every, options.batch_size,
                     crosscheck)  # fmt: skip
    plan = write_plan(recipe, summary, parts, options.shard_inputs, options.batch_size)
    planned = time.perf_counter()
    del summary, dft  # the plan and the spec carry what the shards need
    give_back_memory()  # so that the merge does not start where the plan peaked
    jobs = shard_jobs(plan, key_basis(recipe, spec))
    manifests = {job.index: finished(job) for job in jobs}
    todo = [job for job in jobs if manifests[job.index] is None]
    done = sum(job.inputs for job in jobs if manifests[job.index] is not None)
    run_shards(todo, spec, recipe.table, done)
    ran = time.perf_counter()
    book, symmetry = tally_parts(plan, jobs)
    provenance = checkpoint_provenance(checkpoints)
    rows = merge_parts(plan, jobs, recipe.table, files, file_metadata(about, provenance))
    merged = time.perf_counter()
    columns = pq.read_table(files["parquet"], columns=["band_gap", "dft_status"])  # not all
    no_entry = rows > 0 and pc.all(pc.equal(columns["dft_status"], "no_entry")).as_py()
    facts = table_facts(recipe, rows, recipe.dft is not None and bool(no_entry), checkpoints,
                        provenance, symmetry)  # fmt: skip
    # where the wall time went: the inputs, summary, models and plan; the shards (a cluster's
    # start included); the merge
    seconds = {"plan": planned - start, "shards": ran - planned, "merge": merged - ran}
    facts["shards"] = {
        "engine": options.engine,
        "shards": len(jobs),
        "reused": len(jobs) - len(todo),
        "stale_parts": stale_parts(plan, jobs),
        "seconds": {step: round(value, 1) for step, value in seconds.items()},
    }
    gap_nulls = columns["band_gap"].null_count
    statistics = build_statistics(recipe, book, gap_nulls, provenance, facts, start)
    return BuildResult(recipe.table, None, book, statistics, provenance, None, literature,
                       files["parquet"])  # fmt: skip


def tally_parts(plan: Plan, jobs: list[ShardJob]) -> tuple[Tally, SymmetryTally]:
    """The build's accounting and symmetry tally from the parts' manifests (and the plan's
    summary rows without a structure); every input counted once, or AssertionError."""
    book, symmetry = Tally(inputs=plan.inputs + plan.summary_only), SymmetryTally()
    if plan.summary_only:
        book.reasons[str(Reason.NO_STRUCTURE)] += plan.summary_only
    for job in jobs:
        manifest = finished(job)
        if manifest is None:
            raise EngineError(
                f"shard {job.index} ran but its part is not in {plan.folder}: the workers must "
                "write the run folder on a filesystem this machine shares"
            )
        book.accepted += manifest["accepted"]
        book.reasons.update(manifest["reasons"])
        symmetry.checked += manifest["symmetry"]["checked"]
        symmetry.disagree += manifest["symmetry"]["disagree"]
    book.check()
    return book, symmetry


def read_frame(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A written table (or its `columns`) back as the frame a build holds (nullable integers)."""
    table = pq.read_table(path, columns=columns)
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def file_metadata(about: dict[str, str] | None, provenance: list[dict[str, Any]]) -> dict[str, str]:
    """What a table's Parquet files say of themselves: `about` (dataset, version, licence,
    citation of a release) and the checkpoints' provenance."""
    metadata = {f"elastic_atlas.{key}": value for key, value in (about or {}).items()}
    metadata["elastic_atlas.checkpoints"] = json.dumps(provenance)
    return metadata


def build_statistics(
    recipe: Recipe,
    book: Accounting | Tally,
    band_gap_null_rows: int,
    provenance: list[dict[str, Any]],
    facts: dict[str, Any],
    start: float,
) -> BuildStatistics:
    screened, rejected = book.counts()
    elapsed = time.perf_counter() - start
    return BuildStatistics(
        code_version=__version__,
        code_sha256=source_digest(),
        table=recipe.table,
        recipe=display_path(recipe.path) if recipe.path else None,
        inputs=book.inputs,
        accepted=book.accepted,
        screened_out=dict(sorted(screened.items())),
        rejected=dict(sorted(rejected.items())),
        licence=facts["licence"],
        gap_policy=recipe.screen.gap_policy,
        symmetry_check=facts["symmetry_check"],
        band_gap_null_rows=band_gap_null_rows,
        warnings=[facts["warning"]] if "warning" in facts else [],
        checkpoints=provenance,
        cards=facts["cards"],
        shards=facts.get("shards", {}),
        seconds=round(elapsed, 1),
        inputs_per_second=round(book.inputs / elapsed, 1) if elapsed else None,
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


def write_table_files(
    result: BuildResult, out_dir: Path, rejects_name: str, about: dict[str, str] | None = None
) -> None:
    """<table>.csv, <table>.parquet and the rejects file of a built table; `about` (dataset,
    version, licence, citation of a release) goes into the Parquet file's metadata."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(result.frame, out_dir / f"{result.table}.csv", result.table)
    metadata = file_metadata(about, result.provenance)
    write_parquet(result.frame, result.table, out_dir / f"{result.table}.parquet", metadata)
    assert result.structures is not None and isinstance(result.book, Accounting)
    write_structures(result.structures, out_dir / structures_name(result.table), metadata)
    write_rejects(result.book.rejects, out_dir / rejects_name, result.table)


def build_table(recipe: Recipe, out_dir: Path, options: RunOptions | None = None) -> BuildResult:
    """`elastic-atlas build`: the table's files, rejects.csv and summary.json in out_dir."""
    names = (f"{recipe.table}.csv", f"{recipe.table}.parquet", structures_name(recipe.table),
             "rejects.csv", "summary.json")  # fmt: skip
    for name in names:  # checked before any work: no input, link or FIFO is written over
        check_writable(out_dir / name, recipe_inputs(recipe))
    parts = out_dir / PARTS
    if parts.is_symlink() or (parts.exists() and not parts.is_dir()):
        raise BuildOutputError(f"{parts} is not a folder of parts; move it away")
    options = options or RunOptions()
    with folder_lock(out_dir):  # two builds into one folder would interleave their files
        files = table_files(out_dir, recipe.table, "rejects.csv")
        result = run_sharded(recipe, options, files, parts)
        (out_dir / "summary.json").write_text(result.statistics.model_dump_json(indent=2) + "\n")
    return result


PARTS = "parts"  # a build folder's shards: the plan and one part per shard (resume)


def table_files(out_dir: Path, table: str, rejects_name: str) -> dict[str, Path]:
    """Where a table's files go in `out_dir`."""
    return {
        "csv": out_dir / f"{table}.csv",
        "parquet": out_dir / f"{table}.parquet",
        "structures": out_dir / structures_name(table),
        "rejects": out_dir / rejects_name,
    }


def recipe_inputs(recipe: Recipe) -> list[Path]:
    """Every file or folder a recipe reads."""
    paths = [origin.path for origin in recipe.structures if origin.kind == "cif"]
    paths += [recipe.summary.path] if recipe.summary else []
    paths += [recipe.dft.path] if recipe.dft else []
    paths += [recipe.literature] if recipe.literature else []
    paths += [p for p in (*recipe.models.paths(), recipe.models.atom_init) if p is not None]
    return paths


def write_rejects(rejects: list[Rejected], path: Path, table: str) -> None:
    rows = sorted(r.row() for r in rejects)
    frame = pd.DataFrame(rows, columns=list(REJECT_COLUMNS))
    frame.insert(0, "table", table)
    frame.to_csv(path, index=False, lineterminator="\n")


LITERATURE_COLUMNS = ("material_id", "k_vrh", "g_vrh", "source")


def read_literature(path: Path) -> pd.DataFrame:
    """A recipe's literature table (material_id, k_vrh, g_vrh in GPa, source), read whole and
    checked before any model runs: a table that cannot be compared is a SourceError, never a
    crash after the tables were written."""
    try:
        table = pd.read_csv(path, dtype={"material_id": str, "source": str}, encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as error:
        raise SourceError(f"{path}: cannot read the literature table ({error})") from None
    missing = [c for c in LITERATURE_COLUMNS if c not in table.columns]
    if missing:
        raise SourceError(f"{path}: literature table without column(s) {', '.join(missing)}")
    moduli = table[["k_vrh", "g_vrh"]].apply(pd.to_numeric, errors="coerce")
    if not (moduli > 0).all().all() or table.material_id.duplicated().any():
        raise SourceError(f"{path}: literature moduli must be positive numbers, one row per id")
    return table.assign(k_vrh=moduli.k_vrh, g_vrh=moduli.g_vrh)


COMPARED_COLUMNS = ("material_id", "formula", "k_vrh", "g_vrh")  # a table's, beside literature


def literature_comparison(frame: pd.DataFrame, literature: pd.DataFrame) -> pd.DataFrame:
    """Predicted vs literature K and G for the materials that have literature values."""
    merged = frame[list(COMPARED_COLUMNS)].merge(
        literature, on="material_id", suffixes=("", "_literature")
    )
    return merged
