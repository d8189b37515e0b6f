"""A release's page and structures files, measured: sizes, and the page in headless Chromium.

Usage: .venv/bin/python benchmarks/bench_page.py RELEASE_DIR [--query AsGa] [--json OUT]
Reports the bytes of index.html (budget 15 MB) and of each <table>-structures.parquet, then
opens index.html from disk in Debian's Chromium (Playwright), times the load, searches the
query in the first table and reads the count and the first row's id and formula; console
errors and any request that is not a file: URL are listed (there should be none).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from common import header

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browse(page_path: Path, query: str) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request", lambda r: problems.append(r.url) if not r.url.startswith("file:") else None
        )
        start = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_selector("#rows tbody tr")
        loaded = time.perf_counter() - start
        page.fill("#q", query)
        page.wait_for_timeout(500)
        first = page.locator("#rows tbody tr").first.locator("td").all_inner_texts()[:2]
        count = page.inner_text("#count")
        browser.close()
    return {
        "load_seconds": round(loaded, 2),
        "query": query,
        "count": count,
        "first_row": first,
        "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("release", type=Path)
    parser.add_argument("--query", default="AsGa")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.release = args.release.resolve()  # a file URI needs an absolute path
    sizes = {p.name: p.stat().st_size for p in sorted(args.release.glob("*-structures.parquet"))}
    report = {
        **header(),
        "release": args.release.name,
        "index_html_bytes": (args.release / "index.html").stat().st_size,
        "structures_bytes": sizes,
        **browse(args.release / "index.html", args.query),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
