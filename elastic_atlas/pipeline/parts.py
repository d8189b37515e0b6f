"""One shard of a sharded build and the part it leaves on disk (issue 23).

A part is a folder `s<shard>-<key>` in the run's parts folder: `rows.parquet` (the shard's rows
sorted by id, with each row's input ordinal), `rejects.parquet` (sorted), `structures.parquet`
(each row's CIF text) and, last, `manifest.json` (counts per reason, symmetry tally, seconds,
peak RSS). Every file goes through a temporary name and `os.replace`, so a part with a manifest
is whole. The key is a digest of everything the part depends on — the shard's plan rows (which
carry the members' CRCs, sizes or modification times and the summary cells), the checkpoints'
digests, the screen, the DFT table, the table schema and the package's source — so a finished
part is reused only when it would be rebuilt the same: resuming is running the command again.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.contract.reasons import Reason, Rejected
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.digest import file_digest, source_digest
from elastic_atlas.errors import SourceError
from elastic_atlas.inputs.plan import read_member
from elastic_atlas.inputs.recipe import Recipe, ScreenSettings
from elastic_atlas.inputs.sources import (
    MAX_CIF_BYTES,
    RawStructure,
    folder_file,
    iter_file,
    member_structure,
)
from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.pipeline.merge import ORDINAL
from elastic_atlas.pipeline.predict import predict_stream
from elastic_atlas.pipeline.records import Predicted
from elastic_atlas.pipeline.screen import screen_band_gap
from elastic_atlas.pipeline.shards import ShardSpec, SymmetryTally, table_rows
from elastic_atlas.pipeline.structures import TextKeeper
from elastic_atlas.pipeline.workplan import MP_API, REJECTS_SCHEMA, Plan, shard_rows

PART_FORMAT = 1
MANIFEST = "manifest.json"
ROWS, REJECTS, STRUCTURES = "rows.parquet", "rejects.parquet", "structures.parquet"
PART_GROUP = 256  # rows per row group of a part: the merge decodes one group per part at once


@dataclass(frozen=True)
class ShardJob:
    """One shard: which plan rows, and the part that holds its result."""

    plan: Plan
    index: int
    first: int  # ordinal of its first input
    inputs: int
    key: str
    reads: int = 0  # inputs to be read (no verdict in the plan): the shard's share of the work
    # ordinals of inputs that killed the worker reading them (found by `engines.isolate`):
    # rejected as structure errors, never read again
    killers: tuple[int, ...] = ()

    @property
    def part(self) -> Path:
        return self.plan.folder / f"s{self.index:06d}-{self.key[:16]}"


def key_basis(recipe: Recipe, spec: ShardSpec) -> str:
    """The digest of what every part of a build depends on besides its own plan rows."""
    basis = {
        "format": PART_FORMAT,
        "table": spec.table,
        "models": spec.models.digests,
        "screen": spec.screen.model_dump(mode="json"),
        "check_every": spec.check_every,
        "batch_size": spec.batch_size,
        "dft": file_digest(recipe.dft.path) if recipe.dft else None,
        "schema": load_table_schema(spec.table),
        "code": source_digest(),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()


def shard_jobs(plan: Plan, basis: str) -> list[ShardJob]:
    """The shards of `plan`, each keyed by `basis` and the digest of its own plan rows."""
    jobs, first = [], 0
    plan_file = pq.ParquetFile(plan.path)
    # a query's parts belong to its server (a CIF source's to its bytes, wherever it lies)
    servers = [origin.path for origin in plan.origins if origin.kind == MP_API]
    for index, inputs in enumerate(plan.shards):
        rows = plan_file.read_row_group(index).to_pylist()
        digest = hashlib.sha256(basis.encode())
        digest.update(json.dumps([index, rows, servers], sort_keys=True).encode())
        reads = sum(1 for row in rows if row["reason"] is None)
        jobs.append(ShardJob(plan, index, first, inputs, digest.hexdigest(), reads))
        first += inputs
    return jobs


def finished(job: ShardJob) -> dict[str, Any] | None:
    """The manifest of the job's part when the part is whole and of this key, else None."""
    try:
        manifest = json.loads((job.part / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    whole = all((job.part / name).is_file() for name in (ROWS, REJECTS, STRUCTURES))
    return manifest if whole and manifest.get("key") == job.key else None


def stale_parts(plan: Plan, jobs: list[ShardJob]) -> int:
    """Part folders of other keys (an earlier plan, checkpoint or code): ignored, counted."""
    current = {job.part.name for job in jobs}
    return sum(1 for p in plan.folder.glob("s*-*") if p.is_dir() and p.name not in current)


KILLED = "the worker died on this input (a crash or its memory limit); it was isolated and left out"


def shard_inputs(
    job: ShardJob, screen: ScreenSettings, only: range | None = None
) -> Iterator[RawStructure]:
    """The shard's inputs, read by the plan (`only`: those of these ordinals): an input with a
    verdict travels without its text (as an unreadable one does), so it takes its place in its
    inference window. A source that cannot be read is a SourceError naming the shard and the
    member. `screen`: the band-gap window, for the inputs whose gap comes with the structure
    (Materials Project documents); the plan screened the others."""
    try:
        yield from _shard_inputs(job, screen, only)
    except SourceError as error:
        raise SourceError(f"shard {job.index}: {error}") from None


def _shard_inputs(
    job: ShardJob, screen: ScreenSettings, only: range | None
) -> Iterator[RawStructure]:
    rows = [r for r in shard_rows(job.plan, job.index) if only is None or r["ordinal"] in only]
    documents = _mp_documents(job, rows)
    with ExitStack() as stack:
        handles: dict[str, Any] = {}
        for row in rows:
            origin = job.plan.origins[row["origin"]]
            material_id, source = row["material_id"], origin.source
            metadata = {**json.loads(row["summary"] or "{}"), "material_id": material_id}
            if row["reason"] is not None:
                raw = RawStructure(material_id, None, source, Reason(row["reason"]), row["detail"])
            elif row["ordinal"] in job.killers:
                raw = RawStructure(material_id, None, source, Reason.STRUCTURE_ERROR, KILLED)
            elif origin.kind == MP_API:
                raw, metadata = _mp_input(documents.get(material_id), metadata, source, screen)
            elif origin.kind == "zip":
                if origin.path not in handles:
                    handles[origin.path] = stack.enter_context(Path(origin.path).open("rb"))
                read = partial(read_member, handles[origin.path], Path(origin.path),
                               row["member"], row, MAX_CIF_BYTES + 1)  # fmt: skip
                raw = member_structure(row["member"], row["size"], read, source)
            elif origin.kind == "folder":
                raw = folder_file(Path(origin.path) / row["member"], source)
            else:
                raw = next(iter_file(Path(origin.path), source))
            yield RawStructure(material_id, raw.text, source, raw.reason, raw.detail, metadata,
                               origin.licence)  # fmt: skip


NOT_RETURNED = (
    "listed by the Materials Project API, but not returned when its structure was asked for "
    "(withdrawn since the listing?)"
)


def _mp_documents(job: ShardJob, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Materials Project documents of the shard's rows that are to be read, fetched by id
    from the server the plan listed them on (one request per 100 ids, cached on disk): none
    when the shard has no MP input."""
    servers: dict[str, list[str]] = {}
    for row in rows:
        origin = job.plan.origins[row["origin"]]
        if origin.kind == MP_API and row["reason"] is None and row["ordinal"] not in job.killers:
            servers.setdefault(origin.path, []).append(row["material_id"])
    if not servers:
        return {}
    from elastic_atlas.inputs.mp_api import MPClient

    documents: dict[str, dict[str, Any]] = {}
    for server, ids in servers.items():
        documents.update(MPClient(base_url=server).fetch_documents(ids))
    return documents


def _mp_input(
    document: dict[str, Any] | None,
    metadata: dict[str, Any],
    source: str,
    screen: ScreenSettings,
) -> tuple[RawStructure, dict[str, Any]]:
    """A Materials Project document as an input and its metadata (the document's band gap and
    symmetry, the summary's cells over them, as `candidates` joins them), screened on the band
    gap before its structure is read, as a CIF input is; a listed id the server did not
    return is a `no_structure` reject."""
    from elastic_atlas.inputs.mp_api import document_metadata, raw_from_document

    material_id = metadata["material_id"]
    if document is None:
        return RawStructure(material_id, None, source, Reason.NO_STRUCTURE, NOT_RETURNED), metadata
    known, problem = document_metadata(document)
    metadata = {**known, **metadata}
    verdict = screen_band_gap(metadata, screen) if problem is None else None
    if verdict is not None:
        return RawStructure(material_id, None, source, *verdict), metadata
    return raw_from_document(document), metadata


def run_shard(job: ShardJob, spec: ShardSpec) -> dict[str, Any]:
    """The task of a worker: the job's part (reused when already whole), its manifest back.

    Numerics are pinned first (`pin_numerics`), as in the local engine.
    """
    done = finished(job)
    if done is not None:
        return done
    pin_numerics(spec.checkpoints)
    start = time.perf_counter()
    keeper = TextKeeper()
    records = list(
        predict_stream(keeper.watch(shard_inputs(job, spec.screen)), spec.checkpoints, workers=0,
                       batch_size=spec.batch_size, **spec.hooks())
    )  # fmt: skip
    return write_part(job, spec, records, keeper, time.perf_counter() - start)


def probe_inputs(job: ShardJob, only: range, spec: ShardSpec) -> int:
    """The task that looks for an input killing its worker: `only` of the shard's inputs
    through the pipeline, nothing written; how many. A killer kills this task's worker too."""
    pin_numerics(spec.checkpoints)
    records = predict_stream(shard_inputs(job, spec.screen, only), spec.checkpoints, workers=0,
                             batch_size=spec.batch_size, **spec.hooks())  # fmt: skip
    return sum(1 for _ in records)


def pin_numerics(checkpoints: list[Checkpoint]) -> None:
    """The same bits wherever a shard runs: one torch thread (with more, a CPU matrix product
    may sum in another order); on a GPU, PyTorch's deterministic algorithms (the pooling's
    `index_add_` adds atomically otherwise) and the cuBLAS workspace they need."""
    import torch

    torch.set_num_threads(1)
    if any(c.device.type == "cuda" for c in checkpoints):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def write_part(
    job: ShardJob,
    spec: ShardSpec,
    records: list[Predicted | Rejected],
    keeper: TextKeeper,
    seconds: float,
) -> dict[str, Any]:
    """The part of `job` from its records (one per input, in input order); its manifest."""
    if len(records) != job.inputs:
        raise AssertionError(f"shard {job.index}: {len(records)} records for {job.inputs} inputs")
    predicted = [r for r in records if isinstance(r, Predicted)]
    rejects = sorted(r.row() for r in records if isinstance(r, Rejected))
    ordinal = {
        r.material_id: job.first + i for i, r in enumerate(records) if isinstance(r, Predicted)
    }
    rows = table_rows(predicted, spec)
    ids = rows.column("material_id").to_pylist()
    rows = rows.append_column(ORDINAL, pa.array([ordinal[m] for m in ids], pa.int64()))
    symmetry = SymmetryTally()
    symmetry.add(predicted)
    job.part.mkdir(parents=True, exist_ok=True)
    _replace(job.part / ROWS, partial(pq.write_table, rows, row_group_size=PART_GROUP))
    rejects_table = pa.Table.from_pylist(
        [dict(zip(REJECTS_SCHEMA.names, r, strict=True)) for r in rejects], schema=REJECTS_SCHEMA
    )
    _replace(job.part / REJECTS, partial(pq.write_table, rejects_table))
    structures = keeper.take(ids)
    _replace(job.part / STRUCTURES, partial(pq.write_table, structures, row_group_size=PART_GROUP))
    keeper.discard([r[0] for r in rejects])  # texts of the inputs that did not become rows
    manifest = {
        "format": PART_FORMAT,
        "key": job.key,
        "shard": job.index,
        "first": job.first,
        "inputs": job.inputs,
        "accepted": len(predicted),
        "reasons": dict(sorted(Counter(r[3] for r in rejects).items())),
        "symmetry": {"checked": symmetry.checked, "disagree": sorted(symmetry.disagree)},
        "killers": list(job.killers),
        "seconds": round(seconds, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    text = json.dumps(manifest, indent=1) + "\n"
    _replace(job.part / MANIFEST, lambda path: path.write_text(text, encoding="utf-8"))
    return manifest


def _replace(path: Path, write: Any) -> None:
    """`write(temporary)` then an atomic rename to `path`: a reader sees the old file or the
    new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(temporary)
    os.replace(temporary, path)
