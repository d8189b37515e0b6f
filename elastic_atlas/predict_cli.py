"""The `elastic-atlas predict` job: stream a source through one checkpoint into CSV files."""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from elastic_atlas.checkpoint import Checkpoint
from elastic_atlas.predict import Predicted, predict_stream
from elastic_atlas.sources import iter_cif_source

REJECT_COLUMNS = ["material_id", "reason", "detail"]


def rejects_path(output: Path) -> Path:
    return output.with_name(output.stem + ".rejects.csv")


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
    with (
        output.open("w", newline="", encoding="utf-8") as out,
        rejects_path(output).open("w", newline="", encoding="utf-8") as rej,
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
