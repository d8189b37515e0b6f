"""index.html: one self-contained page to look at a release in a browser, offline.

No CDN, no server: the rows travel inside the page as column arrays (JSON), the script and
styles are inline. Per table: a search by formula (any element order, reduced or not), id or
elements; a sortable, filterable table with units, uncertainties and risk flags; a B-G scatter
(log axes, colour by crystal system) where hovering a point shows its row and clicking selects
it; links to the card and the files. The table and its search use every row on the page; only
the scatter is thinned (deterministically) when a table is large, always keeping the searched rows.

A table of more than `PAGE_ROWS` rows (a million-structure build) is shown by a fixed random
sample of that many: the page stays about 10 MB per table whatever the build, and says on
every count that it holds a sample and that every row is in the files.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas.contract.licences import LICENCES, table_licence
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.digest import file_digest
from elastic_atlas.release.context import TABLE_TITLES, Release

COLUMNS = (
    "material_id", "formula", "elements", "crystal_system", "nsites", "density", "k_vrh",
    "g_vrh", "k_vrh_uncertainty", "g_vrh_uncertainty", "k_vrh_lower", "k_vrh_upper",
    "g_vrh_lower", "g_vrh_upper", "v_mean", "poisson_ratio",
    "debye_temperature", "k_vrh_dft", "g_vrh_dft", "in_training", "risk_high_uncertainty",
    "risk_soft", "risk_low_density",
)  # fmt: skip
SIGNIFICANT = 5  # digits kept in the page (the files keep all)
SCATTER_POINTS = 20_000
PAGE_ROWS = 100_000  # rows of a table on the page: ~100 bytes each in the page's JSON


def page_rows(total: int, limit: int = PAGE_ROWS) -> np.ndarray:
    """The positions of the rows a page shows: all of them, or a fixed random sample of
    `limit` (seed 0: the same page for the same table), in file order."""
    if total <= limit:
        return np.arange(total)
    return np.sort(np.random.default_rng(0).choice(total, size=limit, replace=False))


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    values = frame[name]
    if pd.api.types.is_bool_dtype(values.dtype):
        return [None if v is pd.NA or v is None else bool(v) for v in values]
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        return [None if not np.isfinite(v) else float(f"{v:.{SIGNIFICANT}g}") for v in numbers]
    return [None if v is None or v is pd.NA or v != v else str(v) for v in values]


def page_resource(path: Path, base: Path, licence: str) -> dict[str, Any]:
    """The page as a file resource of a data package (sha256, bytes, the tables' licence)."""
    return {
        "name": "index-html", "type": "file", "path": path.relative_to(base).as_posix(),
        "format": "html", "mediatype": "text/html", "bytes": path.stat().st_size,
        "hash": f"sha256:{file_digest(path)}", "licenses": [LICENCES[licence]],
        "title": "A page to look at the rows in a browser (offline, self-contained)",
    }  # fmt: skip


def page_licence(release: Release, tables: list[str]) -> str:
    """The page holds rows of every table it shows: the most restrictive of their licences."""
    return table_licence([release.statistics[t].licence for t in tables])


def table_payload(release: Release, table: str) -> dict[str, Any]:
    built = release.built[table]
    total = built.rows
    frame = built.rows_at(COLUMNS, page_rows(total, PAGE_ROWS))
    schema = {f["name"]: f for f in load_table_schema(table)["fields"]}
    rng = np.random.default_rng(0)
    scatter = np.sort(rng.permutation(len(frame))[:SCATTER_POINTS]).tolist()
    return {
        "table": table,
        "title": TABLE_TITLES[table],
        "rows": len(frame),  # on the page
        "total": total,  # in the table's files
        "columns": {name: _column(frame, name) for name in COLUMNS},
        "units": {name: schema[name].get("unit", "1") for name in COLUMNS},
        "symbols": {name: schema[name].get("title", name) for name in COLUMNS},
        "scatter": scatter,
        "licence": release.statistics[table].licence,
    }


# The page's markup, styles and script (no external resource), filled in per release.
TEMPLATE_FILE = Path(__file__).with_name("index_template.html")


def index_html(release: Release, tables: list[str] | None = None) -> str:
    tables = tables or list(release.built)
    data = [table_payload(release, table) for table in tables]
    title = html.escape(release.config.title)
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    files = "".join(
        f'<a href="{name}">{name}</a> ' for table in tables
        for name in (f"{table}.parquet", f"{table}.csv", f"{table}-structures.parquet",
                     f"{table}-rejects.csv")
    )  # fmt: skip
    template = TEMPLATE_FILE.read_text(encoding="utf-8")
    return (
        template.replace("@@TITLE@@", title)
        .replace("@@VERSION@@", html.escape(release.version))
        .replace("@@FILES@@", files)
        .replace("@@DATA@@", payload)
    )


def write_index(release: Release) -> Path:
    path = release.out / "index.html"
    path.write_text(index_html(release), encoding="utf-8")
    return path
