"""The one driver of `build`, `predict` and the shards: inputs through the models, every
record counted. Its own module so that the table builder (run) and the shard worker (shards)
both use it without importing each other."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from elastic_atlas.inputs.sources import RawStructure
from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.pipeline.predict import predict_stream
from elastic_atlas.pipeline.records import Accounting, Predicted


@dataclass
class RunOptions:
    workers: int = 2
    batch_size: int | None = None
    quiet: bool = False
    engine: str = "local"  # local: this machine's processes; dask: a Dask cluster's workers
    scheduler: str | None = None  # dask: the scheduler's address
    scheduler_file: Path | None = None  # dask: the file `dask scheduler --scheduler-file` wrote
    shard_inputs: int = 2_048  # inputs per shard (a multiple of the inference batches)


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
    total: int | None = None,
    extra: Any = None,
    screen: Any = None,
) -> Iterator[Predicted]:
    """The one driver of `build` and `predict`: every record of the models, rejections into
    `book`, predictions out; a bar counts inputs read and shows the rows."""
    records = predict_stream(
        raws, checkpoints, workers=options.workers, batch_size=options.batch_size,
        extra=extra, screen=screen,
    )  # fmt: skip
    bar_options = {"unit": " inputs", "disable": options.quiet, "desc": label, "total": total}
    with tqdm(file=sys.stderr, **bar_options) as bar:
        for record in records:
            if isinstance(record, Predicted):
                book.accepted += 1
                yield record
            else:
                book.add(record)
            bar.update(book.inputs - bar.n)
            bar.set_postfix(rows=book.accepted, refresh=False)
