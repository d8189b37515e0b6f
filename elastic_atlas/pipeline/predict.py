"""Structures → graphs → batches → predictions in a process pool, streaming with bounded memory.

On CPU each worker process takes a chunk of inputs through parsing, graph building, screening
and the models, so both cores do all the work; on an accelerator the workers stop at the graph
and the main process batches graphs for the device. At most `workers × 4` chunks are in flight
at once, so memory does not grow with the size of the input. Every input ends as exactly one
`Predicted` or `Rejected` record, in input order.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from pymatgen.core import Structure

from elastic_atlas.contract.physics import structure_scalars
from elastic_atlas.contract.reasons import Reason, Rejected, StructureRejected
from elastic_atlas.errors import EngineError
from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.inputs.sources import RawStructure
from elastic_atlas.model.checkpoint import Checkpoint, EnsembleInference
from elastic_atlas.model.features import FeatureTable, unfeaturized
from elastic_atlas.model.graph import (
    CrystalGraph,
    GraphParameters,
    SparseNeighborsWarning,
    atomic_numbers_of,
    build_graph,
)
from elastic_atlas.pipeline.records import Predicted

CHUNK = 64


class WorkerDied(EngineError):
    """A worker process of the local pool died: the run stops (exit 2) rather than wait."""


# spglib's C code prints "ssm_get_exact_positions failed" and the like straight to stderr for
# structures it then handles anyway; SPGLIB_WARNING=OFF is its own switch (a user's setting
# wins). Set before the worker pool starts, so every worker inherits it.
os.environ.setdefault("SPGLIB_WARNING", "OFF")


@dataclass
class GraphResult:
    """An input that passed every check, waiting for the models: its graph and its facts."""

    material_id: str
    source: str
    graph: CrystalGraph
    info: dict[str, Any] = field(default_factory=dict)


def structure_info(structure: Structure) -> dict[str, Any]:
    """Facts every table row needs, computed once where the structure is parsed."""
    composition = structure.composition
    symbols = sorted(el.symbol for el in composition.elements)
    return {
        **structure_scalars(structure),
        "formula": composition.reduced_formula,
        "elements": " ".join(symbols),
        "nelements": len(symbols),  # as Materials Project has them
        "chemsys": "-".join(symbols),
    }


Extra = Callable[[Structure, dict[str, Any]], dict[str, Any]]
Screen = Callable[[dict[str, Any]], tuple[str, str] | None]


@dataclass
class Setup:
    """What each worker needs; sent once per worker when the pool starts.

    With `inference` the workers also predict (CPU: each core runs parse → graph → model for
    its own chunks, one torch thread each); without it they stop at the graph and the main
    process predicts (an accelerator: one process should own the device).
    """

    params: GraphParameters
    inference: list[EnsembleInference] | None
    feature_tables: list[tuple[str, FeatureTable]]  # (checkpoint name, table): must cover Z
    extra: Extra | None = None
    screen: Screen | None = None


Record = Predicted | Rejected
_WORKER_SETUP: Setup | None = None


def _start_worker(setup: Setup) -> None:
    global _WORKER_SETUP
    import torch

    torch.set_num_threads(1)  # the pool already uses every core, one process per core
    _WORKER_SETUP = setup


def _worker_chunk(chunk: list[RawStructure]) -> list[Record | GraphResult]:
    assert _WORKER_SETUP is not None, "worker started without its setup"
    return process_chunk(chunk, _WORKER_SETUP)


def process_chunk(chunk: list[RawStructure], setup: Setup) -> list[Record | GraphResult]:
    """One chunk of inputs in order: records, or graph results left for the main process."""
    items = [process_input(raw, setup) for raw in chunk]
    if setup.inference is not None:
        items = predict_results(items, setup.inference)
    return items


def process_input(raw: RawStructure, setup: Setup) -> Rejected | GraphResult:
    """Parse → check → screen → graph → features → extra facts; never raises for bad input.

    The cheap checks and the screen come before the graph and the symmetry, so a structure the
    study leaves out costs only its parsing.
    """

    def rejected(reason: Reason, detail: str) -> Rejected:
        return Rejected(raw.material_id, raw.source, reason, detail)

    if raw.text is None:
        return rejected(raw.reason or Reason.UNREADABLE_FILE, raw.detail or "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CIF parsing chatter; failures raise instead
            structure = parse_cif(raw.text)
        atomic_numbers_of(structure)  # ordered, real elements, a cell with volume
        with warnings.catch_warnings():
            # pymatgen orders formulas by electronegativity and says so for noble gases.
            warnings.filterwarnings("ignore", message="No Pauling electronegativity")
            info = {**raw.metadata, **structure_info(structure)}
        verdict = setup.screen(info) if setup.screen is not None else None
        if verdict is not None:
            return rejected(*verdict)
        with warnings.catch_warnings():
            # Padding is recorded in the graph (`padded`); one warning per structure is noise.
            warnings.simplefilter("ignore", SparseNeighborsWarning)
            graph = build_graph(structure, setup.params)
        missing = unfeaturized(graph.atomic_numbers, setup.feature_tables)
        if missing:
            return rejected(Reason.ELEMENT_NOT_FEATURIZED, missing)
        if setup.extra is not None:
            info.update(setup.extra(structure, info))
    except StructureRejected as error:
        return rejected(error.reason, error.detail)
    except Exception as error:  # a structure must never stop the batch; keep the evidence
        return rejected(Reason.STRUCTURE_ERROR, f"{type(error).__name__}: {error}")
    return GraphResult(raw.material_id, raw.source, graph, info)


def predict_results(
    items: list[Record | GraphResult], inference: list[EnsembleInference]
) -> list[Record | GraphResult]:
    """`items` with every graph result replaced by its prediction (one batch), or by a rejection
    where the models fail on it or give a non-finite value; the batch always goes on."""
    positions = [i for i, item in enumerate(items) if isinstance(item, GraphResult)]
    if not positions:
        return items
    results = [item for item in items if isinstance(item, GraphResult)]
    try:
        records = _predict(results, inference)
    except Exception:
        # One graph the models cannot take must not cost the others: find it one at a time.
        records = [_predict_one(result, inference) for result in results]
    out = list(items)
    for position, record in zip(positions, records, strict=True):
        out[position] = record
    return out


def _predict(results: list[GraphResult], inference: list[EnsembleInference]) -> list[Record]:
    # (target, mean, spread, calibrated uncertainty, 95 % half-width) over the batch, for every
    # checkpoint
    columns = []
    for model in inference:
        mean, spread = model.predict_graphs([r.graph for r in results])
        sigma = model.uncertainty(spread, mean)
        expanded = model.coverage_factors(spread, mean) * sigma  # σ once, not twice
        columns += [(name, mean[:, j], spread[:, j], sigma[:, j], expanded[:, j])
                    for j, name in enumerate(model.target_names)]  # fmt: skip
    records: list[Record] = []
    for i, result in enumerate(results):
        value = {c[0]: float(c[1][i]) for c in columns}
        spread = {c[0]: float(c[2][i]) for c in columns}
        sigma = {c[0]: float(c[3][i]) for c in columns}
        expanded = {c[0]: float(c[4][i]) for c in columns}
        if all(math.isfinite(v) for v in (*value.values(), *spread.values())):
            records.append(
                Predicted(
                    result.material_id, result.source, value, spread, result.info, sigma, expanded
                )
            )
        else:
            detail = f"predictions {value}, spread {spread}"
            reason = Reason.NON_FINITE_PREDICTION
            records.append(Rejected(result.material_id, result.source, reason, detail))
    return records


def _predict_one(result: GraphResult, inference: list[EnsembleInference]) -> Record:
    try:
        return _predict([result], inference)[0]
    except Exception as error:  # keep the evidence, go on with the batch
        detail = f"{type(error).__name__}: {error}"
        return Rejected(result.material_id, result.source, Reason.INFERENCE_ERROR, detail)


def _pool_context() -> multiprocessing.context.BaseContext:
    # forkserver where there is one: workers start from a clean process, never from a parent
    # that has already run torch (OpenMP thread pools and accelerators do not survive fork).
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # The server imports torch and pymatgen once; every worker forked from it starts warm.
    context.set_forkserver_preload(["elastic_atlas.pipeline.predict"])
    return context


def iter_chunks(
    raws: Iterable[RawStructure], setup: Setup, workers: int, chunk_size: int
) -> Iterator[Record | GraphResult]:
    """Processed inputs in input order; `workers` processes (0 or 1: in this process).

    At most `workers × 4` chunks are in flight, so memory does not grow with the input.
    """
    iterator = iter(raws)
    chunks = iter(lambda: list(islice(iterator, chunk_size)), [])
    if workers <= 1:
        for chunk in chunks:
            yield from process_chunk(chunk, setup)
        return
    # concurrent.futures, not multiprocessing.Pool: a worker killed by a crash or the memory
    # limit fails the run (BrokenProcessPool) instead of leaving its chunk's result awaited
    # forever
    pool = ProcessPoolExecutor(
        workers, mp_context=_pool_context(), initializer=_start_worker, initargs=(setup,)
    )
    pending: deque = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(_worker_chunk, chunk))
            if len(pending) >= workers * 4:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    except BrokenProcessPool:
        raise WorkerDied(
            "a worker process died (a crash in a native library or the memory limit) on one "
            "of the inputs in flight; `--engine dask` finds such an input and rejects it"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # a consumer that stops early waits


def graph_parameters_of(checkpoints: list[Checkpoint]) -> GraphParameters:
    params = {c.graph for c in checkpoints}
    if len(params) != 1:
        raise ValueError(f"checkpoints use different graph parameters: {params}")
    return params.pop()


CPU_BATCH = 32  # structures per inference batch on CPU: small batches stay in cache (BENCHMARKS)
ACCELERATOR_BATCH = 256


def predict_stream(
    raws: Iterable[RawStructure],
    checkpoints: list[Checkpoint],
    *,
    workers: int = 2,
    batch_size: int | None = None,
    extra: Extra | None = None,
    screen: Screen | None = None,
    inference_in_workers: bool | None = None,
) -> Iterator[Predicted | Rejected]:
    """Every input as one Predicted or Rejected record, in input order; predictions of all
    checkpoints merged.

    `extra` adds facts computed from the structure in the worker (e.g. symmetry); `screen`
    may leave a parsed structure out (stage "screen") before any inference is spent on it.
    Both must be picklable (module-level functions or partials) when `workers` > 1.
    `inference_in_workers` (default: when every checkpoint is on the CPU) chooses where the
    models run. Either way a batch is the predictable inputs of a fixed window of `batch_size`
    inputs, so the results do not depend on `workers`, and a stream cut at window boundaries
    (a shard) gives every input the bits one stream would.
    """
    inference = [c.inference() for c in checkpoints]
    if inference_in_workers is None:
        inference_in_workers = all(c.device.type == "cpu" for c in checkpoints)
    size = batch_size or (CPU_BATCH if inference_in_workers else ACCELERATOR_BATCH)
    feature_tables = [(model.name, model.features) for model in inference]
    in_workers = inference if inference_in_workers else None
    setup = Setup(graph_parameters_of(checkpoints), in_workers, feature_tables, extra, screen)
    if inference_in_workers:
        for item in iter_chunks(raws, setup, workers, size):
            assert not isinstance(item, GraphResult)
            yield item
        return
    # Accelerator: workers make graphs, this process batches them for the device. A batch is
    # the graphs of a fixed window of `size` inputs, never "the next `size` graphs": which
    # inputs share a batch then depends only on their positions, so a stream cut at window
    # boundaries (a shard) batches every input as one stream would.
    waiting: list[Record | GraphResult] = []
    for item in iter_chunks(raws, setup, workers, CHUNK):
        waiting.append(item)
        if len(waiting) == size:
            yield from _records(predict_results(waiting, inference))
            waiting = []
    yield from _records(predict_results(waiting, inference))


def _records(items: list[Record | GraphResult]) -> Iterator[Record]:
    for item in items:
        assert not isinstance(item, GraphResult)
        yield item
