"""The DFT cross-check of a table: DFT moduli beside each prediction, and whether the
material was in the checkpoints' training data.

A recipe may name a DFT elastic table (`material_id, k_vrh, g_vrh` in GPa, such as Materials
Project's, with `k_voigt, k_reuss, g_voigt, g_reuss` where it has them). Its values never
change a prediction; sane ones sit in `k_vrh_dft` / `g_vrh_dft` so a user can compare,
`dft_status` says for every row whether the table had an entry and why one was not published
(contract.dft), and `in_training` says when a row's moduli were labels the network was fitted
on rather than predictions for an unseen crystal.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from elastic_atlas.contract.columns import Column
from elastic_atlas.contract.dft import BOUND_COLUMNS, DftStatus, dft_status
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.inputs.sources import SourceError
from elastic_atlas.model.checkpoint import Checkpoint

DFT_COLUMNS = ("material_id", "k_vrh", "g_vrh")
TRAINING_SPLITS = ("train", "validation")  # the fold's training part: fitted or early-stopped on


# material_id -> (K, G) in GPa and the entry's status; K, G are NaN unless the status is ok
DftTable = dict[str, tuple[float, float, DftStatus]]


@dataclass(frozen=True)
class CrossCheck:
    dft: DftTable | None  # None: the build named no DFT table
    training: frozenset[str] | None  # material ids the checkpoints trained on; None: unknown
    source: str = ""


def read_dft_table(path: Path) -> DftTable:
    """{material_id: (k_vrh, g_vrh, status)} of a DFT elastic CSV. An entry that fails the
    sanity rule (contract.dft: empty cells, as Materials Project leaves unfitted tensors,
    non-positive or absurd values, Voigt below Reuss) keeps its status and NaN moduli. A table
    that cannot be read as meant is a SourceError: unreadable, missing or repeated columns, a
    row with more cells than the header, a repeated id, or moduli that look like MPa — a
    cross-check against a half-read or shifted table would mislead."""
    try:
        # utf-8-sig: Excel writes a byte-order mark, which must not become part of a name
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            check_dft_header(path, header)
            has_bounds = all(c in header for c in BOUND_COLUMNS)
            table: DftTable = {}
            raw_k: list[float] = []  # as written, before the sanity rule: the unit check
            for line, cells in enumerate(reader, start=2):
                if len(cells) > len(header):
                    raise SourceError(
                        f"{path}: line {line} has {len(cells)} cells, the header {len(header)}"
                    )
                row = dict(zip(header, cells, strict=False))
                material_id = (row.get("material_id") or "").strip()
                if material_id in table:
                    raise SourceError(f"{path}: material {material_id} appears twice")
                table[material_id] = _entry(row, has_bounds)
                raw_k.append(_number(row.get("k_vrh")))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SourceError(f"{path}: cannot read the DFT table ({error})") from error
    if not table:
        raise SourceError(f"{path}: the DFT table has no rows")
    check_gpa(path, raw_k)
    return table


def check_dft_header(path: Path, header: list[str]) -> None:
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise SourceError(f"{path}: column(s) {', '.join(repeated)} appear more than once")
    missing = [c for c in DFT_COLUMNS if c not in header]
    if missing:
        raise SourceError(f"{path}: DFT table without column(s) {', '.join(missing)}")


# The median bulk modulus of inorganic crystals is tens of GPa; a table whose median is above
# this is almost surely in MPa (or another unit), and every comparison with it would be off.
MEDIAN_GPA_LIMIT = 1000.0


def check_gpa(path: Path, raw_k: list[float]) -> None:
    values = [k for k in raw_k if math.isfinite(k) and k > 0]
    if values and statistics.median(values) > MEDIAN_GPA_LIMIT:
        raise SourceError(
            f"{path}: the median K_VRH is {statistics.median(values):g}; the table must be in "
            "GPa (is it in MPa?)"
        )


def _entry(row: dict[str, str], has_bounds: bool) -> tuple[float, float, DftStatus]:
    k, g = _number(row.get("k_vrh")), _number(row.get("g_vrh"))
    bounds = {name: _number(row.get(name)) for name in BOUND_COLUMNS} if has_bounds else None
    status = dft_status(k, g, bounds)
    return (k, g, status) if status is DftStatus.OK else (math.nan, math.nan, status)


def _number(text: str | None) -> float:
    try:
        value = float(text or "nan")
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def training_materials(checkpoints: list[Checkpoint]) -> frozenset[str] | None:
    """Material ids in the training part of every checkpoint's training-ids.csv; None when a
    checkpoint does not list its training data (the reference CGCNN)."""
    ids: set[str] = set()
    for checkpoint in checkpoints:
        listing = checkpoint.card.get("training", {}).get("ids")
        if checkpoint.kind != "own" or not listing:
            return None
        path = checkpoint.path / listing["file"]  # a plain name (model.json is validated)
        if path.is_symlink() or not path.resolve().is_relative_to(checkpoint.path.resolve()):
            raise SourceError(f"{path}: the training ids must be a file of the checkpoint folder")
        with path.open(newline="", encoding="utf-8") as handle:
            ids.update(
                row["material_id"]
                for row in csv.DictReader(handle)
                if row["split"] in TRAINING_SPLITS and row["material_id"]
            )
    return frozenset(ids)


def crosscheck_of(
    recipe: Recipe, checkpoints: list[Checkpoint], dft: DftTable | None = None
) -> CrossCheck:
    """The cross-check of a recipe's table (`dft`: its DFT table when already read)."""
    if dft is None and recipe.dft:
        dft = read_dft_table(recipe.dft.path)
    source = recipe.dft.source if recipe.dft else ""
    return CrossCheck(dft, training_materials(checkpoints), source)


def crosscheck_columns(material_ids: list[str], crosscheck: CrossCheck) -> dict[Column, list]:
    """The DFT, DFT status and in_training columns of rows (nulls where nothing is known; all
    three DFT columns null when the build named no DFT table)."""
    unknown = (math.nan, math.nan, None)
    missing = (math.nan, math.nan, DftStatus.NO_ENTRY)
    table = crosscheck.dft
    entries = [unknown if table is None else table.get(m, missing) for m in material_ids]
    training = crosscheck.training
    return {
        Column.K_VRH_DFT: [e[0] for e in entries],
        Column.G_VRH_DFT: [e[1] for e in entries],
        Column.DFT_STATUS: [None if e[2] is None else str(e[2]) for e in entries],
        Column.IN_TRAINING: [None if training is None else m in training for m in material_ids],
    }
