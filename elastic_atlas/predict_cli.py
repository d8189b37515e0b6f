"""The `elastic-atlas predict` job: stream a source through one checkpoint into CSV files."""

from __future__ import annotations

import csv
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from elastic_atlas.checkpoint import Checkpoint
from elastic_atlas.predict import Predicted, predict_stream
from elastic_atlas.sources import RawStructure, SourceError, iter_cif_source

REJECT_COLUMNS = ["material_id", "reason", "detail"]


class OutputError(SourceError):
    """An output path that would destroy an input or cannot be written."""


def rejects_path(output: Path) -> Path:
    return output.with_name(output.stem + ".rejects.csv")


def check_output(source: Path, output: Path) -> None:
    """Refuse an output that is, or would overwrite, the input (or a folder)."""
    if output.is_dir():
        raise OutputError(f"{output} is a folder; give a file name such as predictions.csv")
    source = source.resolve()
    for path in (output, rejects_path(output)):
        if path.resolve() == source or (path.exists() and path.samefile(source)):
            raise OutputError(f"{path} is the input {source.name}; choose another output")


def _partial(path: Path) -> Path:
    # Hidden, beside the target (same file system, so the final rename is atomic).
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def run_predict(
    checkpoint: Checkpoint,
    source: Path,
    output: Path,
    workers: int,
    batch_size: int | None,
    quiet: bool,
) -> dict[str, int]:
    """Write OUT.csv and OUT.rejects.csv; returns the counts (inputs = predicted + rejected)."""
    raws = iter_cif_source(source)
    targets = checkpoint.target_names
    ensemble = len(checkpoint.members) > 1
    header = ["material_id", *targets, *([f"{t}_spread" for t in targets] if ensemble else [])]
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    partials = {output: _partial(output), rejects_path(output): _partial(rejects_path(output))}
    try:
        _write(raws, checkpoint, partials[output], partials[rejects_path(output)], header,
               (workers, batch_size, quiet), counts, reasons)  # fmt: skip
        for final, partial in partials.items():
            os.replace(partial, final)  # only a finished run leaves complete-looking files
    finally:
        for partial in partials.values():
            partial.unlink(missing_ok=True)
    assert counts["inputs"] == counts["predicted"] + counts["rejected"]
    if not quiet:
        elapsed = time.perf_counter() - start
        rate = counts["inputs"] / elapsed if elapsed else 0.0
        print(
            f"{elapsed:.1f} s, {rate:.0f} structures/s; rejected by reason: "
            f"{dict(reasons) or 'none'}",
            file=sys.stderr,
        )
    return {
        "inputs": counts["inputs"],
        "predicted": counts["predicted"],
        "rejected": counts["rejected"],
    }


def _write(
    raws: Iterable[RawStructure],
    checkpoint: Checkpoint,
    output: Path,
    rejects: Path,
    header: list[str],
    options: tuple[int, int | None, bool],
    counts: Counter[str],
    reasons: Counter[str],
) -> None:
    workers, batch_size, quiet = options
    targets = checkpoint.target_names
    ensemble = len(checkpoint.members) > 1
    with (
        output.open("w", newline="", encoding="utf-8") as out,
        rejects.open("w", newline="", encoding="utf-8") as rej,
        tqdm(unit=" structures", disable=quiet, file=sys.stderr) as bar,
    ):
        predictions, rejections = csv.writer(out), csv.writer(rej)
        predictions.writerow(header)
        rejections.writerow(REJECT_COLUMNS)
        for record in predict_stream(raws, [checkpoint], workers=workers, batch_size=batch_size):
            counts["inputs"] += 1
            bar.update()
            if isinstance(record, Predicted):
                counts["predicted"] += 1
                row = [record.values[t] for t in targets]
                row += [record.spread[t] for t in targets] if ensemble else []
                predictions.writerow([record.material_id, *(repr(v) for v in row)])
            else:
                counts["rejected"] += 1
                reasons[record.reason] += 1
                rejections.writerow([record.material_id, record.reason, record.detail])
