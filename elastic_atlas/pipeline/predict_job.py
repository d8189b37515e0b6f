"""The `elastic-atlas predict` job: stream a source through checkpoints into CSV files."""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from elastic_atlas.contract.reasons import REJECT_COLUMNS
from elastic_atlas.inputs.sources import iter_cif_source
from elastic_atlas.model.checkpoint import Checkpoint
from elastic_atlas.pipeline.driver import RunOptions, counted, stream
from elastic_atlas.pipeline.outputs import STDOUT, check_writable
from elastic_atlas.pipeline.records import Accounting


def rejects_path(output: Path) -> Path:
    return output.with_name(output.stem + ".rejects.csv")


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse outputs that would destroy anything (pipeline.outputs): OUT.csv and
    OUT.rejects.csv, against the run's inputs (source, checkpoints, atom features)."""
    if output == STDOUT:
        return
    for path in (output, rejects_path(output)):
        check_writable(path, inputs)


def _partial(path: Path) -> Path:
    # Hidden, beside the target (same file system, so the final rename is atomic).
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def header_of(checkpoints: list[Checkpoint]) -> list[str]:
    targets = [t for c in checkpoints for t in c.target_names]
    spreads = [f"{t}_spread" for c in checkpoints if len(c.members) > 1 for t in c.target_names]
    calibrated = [t.name for c in checkpoints for t in c.targets if t.calibration is not None]
    uncertainties = [f"{name}_uncertainty" for name in calibrated]
    # the half-width of the 95 % interval, k·u with the row's own factor k (the card's k95, or
    # its group's where the calibration has groups): value ± it is the 95 % interval in log10
    expanded = [f"{name}_expanded_uncertainty" for name in calibrated]
    return ["material_id", *targets, *spreads, *uncertainties, *expanded]


def run_predict(
    checkpoints: list[Checkpoint], source: Path, output: Path, options: RunOptions
) -> dict[str, int]:
    """Write OUT.csv and OUT.rejects.csv under temporary names, renamed only when every input
    is done (an interrupted run leaves no complete-looking file); returns the counts. With
    OUT = `-` the predictions go to standard output and the rejects, as CSV, to standard
    error once every input is done."""
    start = time.perf_counter()
    if output == STDOUT:
        book = _to_standard_streams(checkpoints, source, options)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        finals = (output, rejects_path(output))
        partials = tuple(_partial(path) for path in finals)
        try:
            book = _write(checkpoints, source, partials, options)
            for final, partial in zip(finals, partials, strict=True):
                os.replace(partial, final)
        finally:
            for partial in partials:
                partial.unlink(missing_ok=True)
    if not options.quiet:
        elapsed = time.perf_counter() - start
        rate = book.inputs / elapsed if elapsed else 0.0
        reasons = Counter(str(r.reason) for r in book.rejects)
        print(
            f"{elapsed:.1f} s, {rate:.0f} structures/s; rejected by reason: "
            f"{dict(reasons) or 'none'}",
            file=sys.stderr,
        )
    return {"inputs": book.inputs, "predicted": book.accepted, "rejected": len(book.rejects)}


def _to_standard_streams(
    checkpoints: list[Checkpoint], source: Path, options: RunOptions
) -> Accounting:
    with tempfile.TemporaryDirectory(prefix="elastic-atlas-predict-") as folder:
        paths = (Path(folder) / "out.csv", Path(folder) / "rejects.csv")
        book = _write(checkpoints, source, paths, options)
        sys.stdout.write(paths[0].read_text(encoding="utf-8"))
        sys.stdout.flush()
        sys.stderr.write(paths[1].read_text(encoding="utf-8"))
    return book


def _write(
    checkpoints: list[Checkpoint], source: Path, paths: tuple[Path, Path], options: RunOptions
) -> Accounting:
    header = header_of(checkpoints)
    columns = header[1:]
    book = Accounting()
    with paths[0].open("w", newline="", encoding="utf-8") as out:
        predictions = csv.writer(out)
        predictions.writerow(header)
        for record in stream(counted(iter_cif_source(source), book), checkpoints, book, options):
            values = {
                **record.values,
                **{f"{t}_spread": v for t, v in record.spread.items()},
                **{f"{t}_uncertainty": v for t, v in record.uncertainty.items()},
                **{f"{t}_expanded_uncertainty": v for t, v in record.expanded_uncertainty.items()},
            }
            predictions.writerow([record.material_id, *(repr(values[c]) for c in columns)])
    book.check()
    with paths[1].open("w", newline="", encoding="utf-8") as rej:
        rejections = csv.writer(rej)
        rejections.writerow(REJECT_COLUMNS)
        rejections.writerows(r.row() for r in book.rejects)
    return book
