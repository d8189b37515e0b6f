"""index.html in a real headless browser: it loads offline without console errors, a search
for a known formula shows its row with the right B and G, and a screenshot is taken."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow  # every test of this module takes seconds

VERSION = "0.1.0+sample"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def test_the_page_is_self_contained(released):
    page = (released / "releases" / VERSION / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no CDN, no server
    assert '<script type="application/json" id="data">' in page
    assert "mped-structures.parquet" in page and "README.md" in page


def browse(page_path: Path, query: str, screenshot: Path) -> dict:
    playwright = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (`make test` installs Debian's where it can)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request", lambda r: errors.append(r.url) if not r.url.startswith("file:") else None
        )
        page.goto(page_path.as_uri())
        page.fill("#q", query)
        page.wait_for_timeout(200)
        cells = page.locator("#rows tbody tr").first.locator("td").all_inner_texts()
        headers = page.locator("#rows thead th").all_inner_texts()
        count = page.inner_text("#count")
        page.locator("#rows tbody tr").first.click()
        detail = page.inner_text("#detail")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return {"errors": errors, "cells": cells, "headers": headers, "count": count, "detail": detail}


def test_a_search_shows_the_row_with_its_moduli(released, tmp_path):
    folder = released / "releases" / VERSION
    table = pd.read_parquet(folder / "mped.parquet").set_index("material_id")
    shot = tmp_path / "page.png"
    seen = browse(folder / "index.html", "AsGa", shot)  # GaAs, written in another order
    assert seen["errors"] == []
    assert seen["count"].startswith("1 of ")
    row = dict(zip([h.split(" ")[0] for h in seen["headers"]], seen["cells"], strict=True))
    assert row["material_id"] == "mp-2534" and row["formula"] == "GaAs"
    assert float(row["k_vrh"]) == pytest.approx(table.loc["mp-2534", "k_vrh"], rel=1e-4)
    assert float(row["g_vrh"]) == pytest.approx(table.loc["mp-2534", "g_vrh"], rel=1e-4)
    assert "k_vrh (GPa)" in seen["headers"]  # units with the columns
    assert "mp-2534 GaAs" in seen["detail"]
    bounds = re.findall(r"95 %: ([0-9.]+)–([0-9.]+) GPa", seen["detail"])  # B's, then G's
    assert [float(v) for v in bounds[0]] == pytest.approx(
        list(table.loc["mp-2534", ["k_vrh_lower", "k_vrh_upper"]]), rel=1e-4
    )
    assert shot.stat().st_size > 10_000


def test_a_table_larger_than_the_page_shows_a_sample_and_says_so(released, tmp_path,
                                                                  monkeypatch):  # fmt: skip
    """PAGE_ROWS lowered to 8: the page carries 8 of the sample table's rows, the file's rows
    at the sampled positions, and says on its tab and its count that the table holds more."""
    from types import SimpleNamespace

    from elastic_atlas.pipeline.run import BuildResult
    from elastic_atlas.release import page

    monkeypatch.setattr(page, "PAGE_ROWS", 8)
    parquet = released / "releases" / VERSION / "mped.parquet"
    total = pq.ParquetFile(parquet).metadata.num_rows
    built = BuildResult("mped", None, None, None, [], None, parquet=parquet)  # type: ignore[arg-type]
    release = SimpleNamespace(
        built={"mped": built}, statistics={"mped": SimpleNamespace(licence="CC-BY-4.0")},
        config=SimpleNamespace(title="sample"), version="0.0.0",
    )  # fmt: skip
    payload = page.table_payload(release, "mped")  # type: ignore[arg-type]
    ids = pd.read_parquet(parquet, columns=["material_id"])["material_id"]
    assert payload["rows"] == 8 and payload["total"] == total > 8
    assert payload["columns"]["material_id"] == ids.iloc[page.page_rows(total, 8)].tolist()
    path = tmp_path / "index.html"
    path.write_text(page.index_html(release), encoding="utf-8")  # type: ignore[arg-type]
    seen = browse(path, "", tmp_path / "sample.png")
    assert seen["errors"] == []
    assert seen["count"] == (f"8 of 8 rows on this page, a fixed random sample of the table's "
                             f"{total} (every row is in the files)")  # fmt: skip
