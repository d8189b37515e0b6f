"""Regenerate the tables of BENCHMARKS.md that come from benchmarks/results/*.json.

Usage: .venv/bin/python benchmarks/render.py [--check]
Each generated table sits between `<!-- generated: NAME -->` and `<!-- /generated -->` in
BENCHMARKS.md and is rewritten from its results file by the renderer of that NAME, so a figure
there cannot drift from the file the benchmark wrote. `--check` changes nothing and exits 1 if
any generated table differs from its results (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(<!-- /generated -->)", re.S)


def _load(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def folds() -> list[str]:
    """The 5-fold table (folds.json, `make folds`)."""
    data = _load("folds")
    k, g = "log10_k_vrh", "log10_g_vrh"
    lines = [
        "| fold | test entries | K | K v2019 | G | G v2019 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for fold, per in sorted(data["folds"].items()):
        lines.append(
            f"| {fold} | {per[k]['test_n']} | {per[k]['test_mae']:.4f} | "
            f"{per[k]['cgcnn_v2019_mae']:.4f} | {per[g]['test_mae']:.4f} | "
            f"{per[g]['cgcnn_v2019_mae']:.4f} |"
        )
    mean, n = data["mean"], sum(per[k]["test_n"] for per in data["folds"].values())
    lines.append(
        f"| **5-fold mean** | {n} | **{mean[k]['test_mae']:.4f}** | "
        f"{mean[k]['cgcnn_v2019_mae']:.4f} | **{mean[g]['test_mae']:.4f}** | "
        f"{mean[g]['cgcnn_v2019_mae']:.4f} |"
    )
    return lines


def install() -> list[str]:
    """Core vs full install (install.json, bench_install.py)."""
    data = _load("install")
    rows = {
        "core": "`pip install elastic-atlas` (core: read, look up, validate)",
        "all": "`pip install 'elastic-atlas[all]'` (build, train, release)",
    }
    lines = ["| install | size on disk | distributions | pip time |", "|---|---:|---:|---:|"]
    for key, label in rows.items():
        d = data[key]
        lines.append(
            f"| {label} | {d['mib']:,.0f} MiB | {d['distributions']} | {d['seconds']:.0f} s |"
        )
    return lines


def install_use() -> list[str]:
    """What the core venv (no torch) did with a release (install.json, bench_install.py)."""
    data = _load("install")
    ratio = data["core"]["mib"] / data["all"]["mib"]
    lines = [
        f"Core / full size: {ratio:.2f}.",
        "",
        '| release | rows loaded | `lookup(formula="AsGa")` | structures | '
        "validation errors | torch imported | seconds |",
        "|---|---|---|---|---:|---|---:|",
    ]
    for key, name in (("core_on_sample", "sample"), ("core_on_release", "real (both tables)")):
        if key not in data:
            continue
        d = data[key]
        rows = ", ".join(f"{t} {n:,}" for t, n in d["rows"].items())
        kinds = ", ".join(f"{t} {k}" for t, k in d["structures"].items())
        lines.append(
            f"| {name} | {rows} | {', '.join(d['AsGa'])} | {kinds} | "
            f"{d['validation_errors']} | {d['torch_imported']} | {d['seconds']} |"
        )
    return lines


def ood_calibration() -> list[str]:
    """The σ forms scored on the test and MP-2023 (ood_calibration.json)."""
    data = _load("ood_calibration")["targets"]
    k, g = data["log10_k_vrh"], data["log10_g_vrh"]
    forms = {
        "adopted": "adopted √(a²+(b·s)²)",
        "loco_calibrated": "leave-out fit √(a²+(b·s)²+(c·d)²)",
        "mondrian": "Mondrian (σ tercile × soft), 35 % leave-out",
    }
    lines = [
        "| σ | set | K within σ (k95·σ) | K terciles | K flags | K ρ | G within σ (k95·σ) | "
        "G terciles | G flags | G ρ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def cells(x: dict[str, Any], detail: bool) -> str:
        shares = f"{100 * x['within_sigma']:.1f} ({100 * x['within_k95_sigma']:.1f})"
        terciles = "/".join(f"{100 * v:.0f}" for v in x["within_sigma_per_tercile"])
        flags = "/".join(f"{100 * v:.0f}" for v in x["within_sigma_per_flag"].values())
        if not detail:
            terciles = flags = ""
        return f"{shares} | {terciles} | {flags} | {x['spearman']:.3f}"

    for form, label in forms.items():
        for name, shown in (("fold0_test", "test"), ("mp2023_outside", "MP-2023")):
            detail = name == "fold0_test"
            lines.append(
                f"| {label if detail else label.split(' ')[0]} | {shown} | "
                f"{cells(k[name][form], detail)} | {cells(g[name][form], detail)} |"
            )
    return lines


def reliability() -> list[str]:
    """The replay's totals (reliability.json, `reliability.py --json`)."""
    data = _load("reliability")
    categories = ", ".join(f"{k} {v}" for k, v in data["by_category"].items())
    return [
        "```",
        f"reliability replay, {data['date']}, {data['machine']}",
        f"  by category: {categories}",
        *(f"  {name:<32} {value}" for name, value in data["totals"].items()),
        "```",
    ]


def page() -> list[str]:
    """The real release's page and structures files (page.json, bench_page.py)."""
    data = _load("page")
    lines = [
        "| file or check | result |",
        "|---|---|",
        f"| `index.html` | {data['index_html_bytes'] / 1e6:.2f} MB (budget 15 MB) |",
    ]
    lines += [
        f"| `{name}` | {size / 1e6:.1f} MB |" for name, size in data["structures_bytes"].items()
    ]
    lines += [
        f"| headless Chromium, load | {data['load_seconds']:.2f} s |",
        f"| search `{data['query']}` | {data['count']}; first {' '.join(data['first_row'])} |",
        f"| console errors, requests outside the file | {len(data['problems'])} |",
    ]
    return lines


RENDERERS: dict[str, Callable[[], list[str]]] = {
    "page": page,
    "install_use": install_use,
    "reliability": reliability,
    "folds": folds,
    "install": install,
    "ood_calibration": ood_calibration,
}


def render(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in RENDERERS:
            raise SystemExit(f"BENCHMARKS.md asks for an unknown generated table {name!r}")
        return match.group(1) + "\n".join(RENDERERS[name]()) + "\n" + match.group(4)

    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is stale")
    args = parser.parse_args()
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    fresh = render(text)
    if args.check:
        if fresh != text:
            print("BENCHMARKS.md differs from benchmarks/results: run benchmarks/render.py")
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
