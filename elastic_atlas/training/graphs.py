"""The training graph cache: every entry's crystal graph, built once, kept as plain arrays.

Keyed by a hash of the structure and of the graph parameters, stored as one .npz of
concatenated arrays with offsets (read with allow_pickle=False: data, never a pickle), rebuilt
when missing or damaged.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from elastic_atlas.contract.reasons import StructureRejected
from elastic_atlas.model.graph import CrystalGraph, GraphParameters, build_graph


def structure_key(structure_dict: dict) -> str:
    return hashlib.sha256(json.dumps(structure_dict, sort_keys=True).encode()).hexdigest()


def cached_graphs(
    dataset: dict[str, tuple[dict, float]], params: GraphParameters, cache: Path
) -> dict[str, CrystalGraph]:
    """Graphs of every entry, read from / added to a cache keyed by structure hash + params."""
    params_key = hashlib.sha256(params.model_dump_json().encode()).hexdigest()[:16]
    path = cache / f"graphs-{params_key}.npz"
    store = read_graph_cache(path)
    graphs, added = {}, 0
    for mbid, (structure_dict, _) in dataset.items():
        key = structure_key(structure_dict)
        if key not in store:
            from pymatgen.core import Structure  # only on a cache miss: a GPU box may lack it

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    store[key] = build_graph(Structure.from_dict(structure_dict), params)
                except StructureRejected as error:
                    print(f"skipping {mbid}: {error}", file=sys.stderr)
                    continue
            added += 1
        graphs[mbid] = store[key]
    if added:
        write_graph_cache(path, store)
    return graphs


def write_graph_cache(path: Path, store: dict[str, CrystalGraph]) -> None:
    """Graphs as plain arrays in one .npz (concatenated, with offsets): data, never a pickle."""
    keys = sorted(store)
    graphs = [store[k] for k in keys]
    sizes = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:  # a file object: numpy adds no suffix
        np.savez(
            handle,
            keys=np.array(keys),
            sizes=sizes,
            atomic_numbers=np.concatenate([g.atomic_numbers for g in graphs]),
            neighbor_index=np.concatenate([g.neighbor_index for g in graphs]),
            neighbor_distance=np.concatenate([g.neighbor_distance for g in graphs]),
            padded=np.array([g.padded_atoms for g in graphs], dtype=np.int64),
            ties=np.array([g.cutoff_ties for g in graphs], dtype=np.int64),
        )
    partial.replace(path)


def read_graph_cache(path: Path) -> dict[str, CrystalGraph]:
    """The cache written by write_graph_cache ({} when absent or unreadable: rebuilt)."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError):
        return {}
    starts = np.concatenate(([0], np.cumsum(arrays["sizes"])))
    return {
        str(key): CrystalGraph(
            arrays["atomic_numbers"][a:b],
            arrays["neighbor_index"][a:b],
            arrays["neighbor_distance"][a:b],
            int(arrays["padded"][i]),
            int(arrays["ties"][i]),
        )
        for i, (key, a, b) in enumerate(zip(arrays["keys"], starts[:-1], starts[1:], strict=True))
    }
