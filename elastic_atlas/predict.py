"""Structures → graphs (process pool) → batches → predictions, streaming with bounded memory.

At most `workers × 4` chunks of structures are in flight at once, so memory does not grow with the
size of the input. Every input ends as exactly one `Predicted` or `Rejected` record, in input
order.
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from pymatgen.core import Structure

from elastic_atlas.checkpoint import Checkpoint
from elastic_atlas.cif import parse_cif
from elastic_atlas.graph import CrystalGraph, GraphParameters, StructureRejected, build_graph
from elastic_atlas.physics import structure_scalars
from elastic_atlas.sources import RawStructure

CHUNK = 64


@dataclass
class GraphResult:
    """What a worker makes of one input: a graph plus structure facts, or a rejection."""

    material_id: str
    source: str
    graph: CrystalGraph | None = None
    info: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    detail: str | None = None


@dataclass
class Predicted:
    material_id: str
    source: str
    values: dict[str, float]  # target name -> prediction (checkpoint units)
    spread: dict[str, float]  # ensemble standard deviation per target (0 for one member)
    info: dict[str, Any]


@dataclass
class Rejected:
    material_id: str
    source: str
    stage: str
    reason: str
    detail: str


def structure_info(structure: Structure) -> dict[str, Any]:
    """Facts every table row needs, computed once where the structure is parsed."""
    composition = structure.composition
    return {
        **structure_scalars(structure),
        "formula": composition.reduced_formula,
        "elements": " ".join(sorted(el.symbol for el in composition.elements)),
    }


Extra = Callable[[Structure, dict[str, Any]], dict[str, Any]]
Screen = Callable[[dict[str, Any]], tuple[str, str] | None]


def graph_from_raw(
    raw: RawStructure, params: GraphParameters, extra: Extra | None = None
) -> GraphResult:
    """Parse and graph one input; never raises for a bad structure."""
    result = GraphResult(raw.material_id, raw.source)
    if raw.text is None:
        result.reason, result.detail = raw.reason or "unreadable_file", raw.detail or ""
        return result
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = parse_cif(raw.text)
            result.graph = build_graph(structure, params)
        result.info = {**raw.metadata, **structure_info(structure)}
        if extra is not None:
            result.info.update(extra(structure, result.info))
    except StructureRejected as error:
        result.reason, result.detail = error.reason, error.detail
    except Exception as error:  # a structure must never stop the batch; keep the evidence
        result.reason, result.detail = "structure_error", f"{type(error).__name__}: {error}"
    return result


def _graph_chunk(args: tuple[list[RawStructure], GraphParameters, Any]) -> list[GraphResult]:
    chunk, params, extra = args
    return [graph_from_raw(raw, params, extra) for raw in chunk]


def iter_graphs(
    raws: Iterable[RawStructure],
    params: GraphParameters,
    workers: int = 2,
    extra: Extra | None = None,
) -> Iterator[GraphResult]:
    """Graph results in input order; `workers` processes (0 or 1: in this process)."""
    iterator = iter(raws)
    chunks = iter(lambda: list(islice(iterator, CHUNK)), [])
    if workers <= 1:
        for chunk in chunks:
            yield from _graph_chunk((chunk, params, extra))
        return
    # Workers only parse and build graphs (no torch), so the platform's default start method is
    # safe even after the parent has loaded models.
    with multiprocessing.get_context().Pool(workers) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_graph_chunk, ((chunk, params, extra),)))
            if len(pending) >= workers * 4:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def graph_parameters_of(checkpoints: list[Checkpoint]) -> GraphParameters:
    params = {c.graph for c in checkpoints}
    if len(params) != 1:
        raise ValueError(f"checkpoints use different graph parameters: {params}")
    return params.pop()


def predict_stream(
    raws: Iterable[RawStructure],
    checkpoints: list[Checkpoint],
    *,
    workers: int = 2,
    batch_size: int = 256,
    extra: Extra | None = None,
    screen: Screen | None = None,
) -> Iterator[Predicted | Rejected]:
    """Every input as one Predicted or Rejected record; predictions of all checkpoints merged.

    `extra` adds facts computed from the structure in the worker (e.g. symmetry); `screen`
    may leave a parsed structure out (stage "screen") before any inference is spent on it.
    """
    params = graph_parameters_of(checkpoints)
    batch: list[GraphResult] = []
    for result in iter_graphs(raws, params, workers, extra):
        if result.graph is None:
            yield Rejected(
                result.material_id,
                result.source,
                "structure",
                result.reason or "",
                result.detail or "",
            )
            continue
        verdict = screen(result.info) if screen is not None else None
        if verdict is not None:
            yield Rejected(result.material_id, result.source, "screen", *verdict)
            continue
        missing = _unfeaturized(result.graph, checkpoints)
        if missing:
            yield Rejected(
                result.material_id, result.source, "features", "element_not_featurized", missing
            )
            continue
        batch.append(result)
        if len(batch) >= batch_size:
            yield from _predict_batch(batch, checkpoints)
            batch = []
    if batch:
        yield from _predict_batch(batch, checkpoints)


def _unfeaturized(graph: CrystalGraph, checkpoints: list[Checkpoint]) -> str:
    from pymatgen.core import Element

    for checkpoint in checkpoints:
        unknown = checkpoint.features.unknown_elements(graph.atomic_numbers)
        if unknown:
            symbols = ", ".join(Element.from_Z(z).symbol for z in unknown if 0 < z < 119)
            return f"no features for {symbols} in {checkpoint.path.name}"
    return ""


def _predict_batch(batch: list[GraphResult], checkpoints: list[Checkpoint]) -> Iterator[Predicted]:
    graphs = [r.graph for r in batch if r.graph is not None]
    values: list[dict[str, float]] = [{} for _ in batch]
    spreads: list[dict[str, float]] = [{} for _ in batch]
    for checkpoint in checkpoints:
        mean, spread = checkpoint.predict_graphs(graphs)
        for j, name in enumerate(checkpoint.target_names):
            for i in range(len(batch)):
                values[i][name] = float(mean[i, j])
                spreads[i][name] = float(spread[i, j])
    for i, result in enumerate(batch):
        yield Predicted(result.material_id, result.source, values[i], spreads[i], result.info)
