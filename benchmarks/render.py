"""Regenerate the tables of BENCHMARKS.md that come from benchmarks/results/*.json.

Usage: .venv/bin/python benchmarks/render.py [--check]   (or: make benchmarks-md)
Each generated table sits between `<!-- generated: NAME -->` and `<!-- /generated -->` in
BENCHMARKS.md and is rewritten from its results file by the renderer of that NAME, so a figure
there cannot drift from the file the benchmark wrote. `--check` changes nothing and exits 1 if
any generated table differs from its results, or a table stands outside the generated blocks
above the History section (the test suite runs it).
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
    data = _load("ood_calibration")
    forms = {
        "base": "base √(a²+(b·s)²), adopted before",
        "loco_calibrated": "leave-out fit √(a²+(b·s)²+(c·d)²), tried",
        "adopted": "**grouped (Mondrian), adopted**",
    }
    lines = [
        "| σ | set | modulus | within u (95 % interval) | u terciles | flags | new / known "
        "chemical system | Spearman(u, \\|error\\|) |",
        "|---|---|---|---|---|---|---|---:|",
    ]
    risk = ("risk_high_uncertainty", "risk_soft", "risk_low_density")
    for form, label in forms.items():
        for name, shown in (("fold0_test", "test"), ("mp2023_outside", "MP-2023")):
            for target, symbol in ((K, "K"), (G, "G")):
                x = data["targets"][target][name][form]
                per = x["within_sigma_per_flag"]
                lines.append(
                    f"| {label} | {shown} | {symbol} | {100 * x['within_sigma']:.1f} "
                    f"({100 * x['within_k95_sigma']:.1f}) | "
                    + "/".join(f"{100 * v:.0f}" for v in x["within_sigma_per_tercile"]) + " | "
                    + "/".join(f"{100 * per[f]:.0f}" if f in per else "–" for f in risk) + " | "
                    + "/".join(f"{100 * per[f]:.0f}" if f in per else "–"
                               for f in ("new chemical system", "known chemical system"))
                    + f" | {x['spearman']:.3f} |"
                )  # fmt: skip
    shares = data["new_chemical_system_share"]
    lines += [
        "",
        f"Rows of chemical systems absent from the checkpoint's training entries: "
        f"{100 * shares['fold0_test']:.0f} % of the test, {100 * shares['mp2023_outside']:.0f} % "
        "of the MP-2023 entries. " + _source(data),
    ]
    return lines


def table_evidence() -> list[str]:
    """How far each release table's rows sit from the training data (ood_calibration.json)."""
    data = _load("ood_calibration")["tables"]
    limits = data["test_u_95th_percentile"]
    lines = [
        f"| table | rows | u beyond the test's 95th percentile (u_K > {limits[0]:.3f} or "
        f"u_G > {limits[1]:.3f}) | chemical system absent from training |",
        "|---|---:|---:|---:|",
    ]
    for table, t in data.items():
        if not isinstance(t, dict) or "rows" not in t:
            continue
        lines.append(
            f"| {table} | {t['rows']:,} | {100 * t['beyond_test_95th_percentile']:.1f} % | "
            f"{100 * t['new_chemical_system']:.1f} % |"
        )
    beyond = data["mp2023_beyond"]
    covered = (
        "K " + " / G ".join(f"{100 * v:.0f} %" for v in beyond["within_u"])
        if beyond["within_u"] else "none to measure"
    )  # fmt: skip
    lines += ["", f"MP-2023 entries beyond that percentile: {beyond['n']} (within u: {covered})."]
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


K, G = "log10_k_vrh", "log10_g_vrh"


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def _source(data: dict[str, Any]) -> str:
    """The line under a table that says which command wrote its figures, when and where."""
    return f"Results: `{data['command']}`, {data['date']}, {data['machine']}."


def _adopted_card() -> dict[str, Any]:
    """The adopted checkpoint's model.json (the model trust.json measured)."""
    name = _load("trust")["model"]
    return json.loads((ROOT / "models" / name / "model.json").read_text(encoding="utf-8"))


def adopted() -> list[str]:
    """The adopted checkpoint on the fold-0 test (its model.json, written by `freeze`)."""
    metrics = _adopted_card()["metrics"]["targets"]
    k, g = metrics[K], metrics[G]
    lines = [
        "| model | K test | G test | K R² | G R² | K without duplicated materials | G without |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| **one network for K and G, {len(k['members_test_mae'])} members (adopted)** | "
        f"**{k['test']['mae']:.4f}** | **{g['test']['mae']:.4f}** | {k['test']['r2']:.3f} | "
        f"{g['test']['r2']:.3f} | {k['test_without_duplicate_materials']['mae']:.4f} | "
        f"{g['test_without_duplicate_materials']['mae']:.4f} |",
        f"| single members | {min(k['members_test_mae']):.4f}-{max(k['members_test_mae']):.4f} | "
        f"{min(g['members_test_mae']):.4f}-{max(g['members_test_mae']):.4f} | | | | |",
    ]
    v2019 = k["cgcnn_v2019_same_test_entries"], g["cgcnn_v2019_same_test_entries"]
    lines.append(
        f"| Matbench CGCNN v2019, same {v2019[0]['n']:,} entries | {v2019[0]['mae']:.4f} | "
        f"{v2019[1]['mae']:.4f} | {v2019[0]['r2']:.3f} | {v2019[1]['r2']:.3f} | | |"
    )
    left_out = k["test_without_duplicate_materials"]["left_out"]
    lines += ["", f"Duplicated materials left out: {', '.join(left_out)}."]
    return lines


def trials() -> list[str]:
    """Each configuration's fold-0 test MAE and inference cost (trials.json, bench_trials.py)."""
    data = _load("trials")
    lines = [
        "| configuration | runs | K ensemble | G ensemble | K runs alone | G runs alone | "
        "inference, ms per structure (ratio) |",
        "|---|---:|---:|---:|---|---|---:|",
    ]
    for name, c in data["configurations"].items():
        runs = c["each_run_mae"]
        alone = [
            f"{min(r[i] for r in runs):.4f}-{max(r[i] for r in runs):.4f}"
            if len(runs) > 1
            else f"{runs[0][i]:.4f}"
            for i in (0, 1)
        ]
        ensemble = [f"{c['ensemble_mae'][i]:.4f}" if len(runs) > 1 else "" for i in (0, 1)]
        if name.startswith("adopted"):
            name, ensemble = f"**{name}**", [f"**{e}**" for e in ensemble]
        lines.append(
            f"| {name} | {len(runs)} | {ensemble[0]} | {ensemble[1]} | {alone[0]} | {alone[1]} | "
            f"{c['inference_ms_per_structure']:.2f} ({c['inference_vs_first']:.2f}) |"
        )
    lines += ["", f"Results: `benchmarks/results/trials.json`, {data['date']}, {data['machine']}."]
    return lines


def baselines() -> list[str]:
    """The descriptor baselines beside CGCNN (baselines.csv, `elastic-atlas baselines`)."""
    import csv

    with (RESULTS / "baselines.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table: dict[tuple[str, str], dict[str, float]] = {}
    for row in rows:
        table.setdefault((row["target"], row["model"]), {})[row["split"]] = float(row["mae"])
    lines = ["| target | model | train | validation | test |", "|---|---|---:|---:|---:|"]
    for target in (K, G):
        models = sorted(
            (m for t, m in table if t == target), key=lambda m: table[target, m]["test"]
        )
        for model in models:
            mae = table[target, model]
            best = model.startswith("CGCNN")
            test = f"**{mae['test']:.4f}**" if best else f"{mae['test']:.4f}"
            lines.append(
                f"| {target} | {model} | {mae['train']:.4f} | {mae['validation']:.4f} | {test} |"
            )
    return lines


def reference() -> list[str]:
    """Agreement with the reference implementation (reference.json, bench_reference.py)."""
    data = _load("reference")
    lines = [
        "| target | within 1e-4 | largest difference within | "
        "beyond 1e-4 (difference, ties at the cut) |",
        "|---|---:|---:|---|",
    ]
    for target, d in data["targets"].items():
        beyond = ", ".join(
            f"{b['material_id']} ({b['difference']:.4f}, {b['ties_at_cut']})" for b in d["beyond"]
        )
        lines.append(
            f"| {target} | {d['within']} of {d['n']} | {d['largest_within']:.1e} | "
            f"{beyond or 'none'} |"
        )
    return [*lines, "", _source(data) + f" pymatgen {data['pymatgen']}."]


def calibration() -> list[str]:
    """σ's coefficients and coverage on validation, test and MP-2023 (model.json)."""
    metrics = _adopted_card()
    card = {t["name"]: t["calibration"] for t in metrics["targets"]}
    metrics = metrics["metrics"]
    lines = [
        "| target | a | b | k95 | set | n | within σ | within 2σ | within the 95 % interval | "
        "2σ ceiling |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    sets = (
        ("validation", "validation (fitted)"),
        ("test", "**test**"),
        ("heldout", "MP-2023 unseen (never tuned on)"),
    )
    for target in (K, G):
        for key, label in sets:
            if key == "heldout":
                c = metrics["heldout"][target]["coverage"]
            else:
                c = metrics["targets"][target]["uncertainty_coverage"][key]
            coefficients = (
                f"{card[target]['a']:.4f} | {card[target]['b']:.2f} | {card[target]['k95']:.2f}"
                if key == "validation"
                else " |  | "
            )
            first = f"{_pct(c['within_1_sigma'])} | {_pct(c['within_2_sigma'])}"
            if key == "test":
                first = f"**{_pct(c['within_1_sigma'])}** | **{_pct(c['within_2_sigma'])}**"
            lines.append(
                f"| {target} | {coefficients} | {label} | {c['n']} | {first} | "
                f"{_pct(c['within_k95_sigma'])} | {_pct(c['two_sigma_ceiling'])} |"
            )
    return lines


def uncertainty_limit() -> list[str]:
    """Three σ models fitted on validation, scored on test (uncertainty_limit.json)."""
    data = _load("uncertainty_limit")
    forms = {
        "spread": "a² + (b·s)² (base)",
        "spread + error memory": "a² + (b·s)² + (c·r)² (error memory)",
        "gradient-boosted error model": "a² + (b·s)² + (c·g)² (boosted)",
    }
    lines = [
        "| target | σ² = | validation within 2σ | test within σ | test within 2σ | "
        "test 2σ ceiling | Spearman(σ, \\|error\\|) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for target, symbol in ((K, "K"), (G, "G")):
        for key, label in forms.items():
            f = data["targets"][target][key]
            lines.append(
                f"| {symbol} | {label} | {_pct(f['validation']['within_2_sigma'])} | "
                f"{_pct(f['test']['within_1_sigma'])} | {_pct(f['test']['within_2_sigma'])} | "
                f"{_pct(f['test']['two_sigma_ceiling'])} | {f['test_spearman']:.2f} |"
            )
    return lines


def flags() -> list[str]:
    """What each risk flag marks and catches (trust.json, bench_trust.py)."""
    data = _load("trust")["flags"]
    lines = [
        "| flag | set | rows marked | worst 5 % K caught | worst 5 % G caught | "
        "MAE K flagged / not | MAE G flagged / not |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    shown = {"validation": "validation", "test": "test", "mp2023_unseen": "MP-2023 unseen"}
    for split, label in shown.items():
        for flag, f in data[split].items():
            if split == "validation" and flag != "risk_high_uncertainty":
                continue  # the threshold was set on validation; the other rules need no fit
            if split == "mp2023_unseen" and flag != "any flag":
                continue  # 80 entries: 4 are "the worst 5 %", too few to split by flag
            caught = [f"{100 * f[f'{t} worst 5% caught']:.0f} %" for t in (K, G)]
            lines.append(
                f"| {flag} | {label} | {_pct(f['rows_marked'])} | {caught[0]} | {caught[1]} | "
                f"{f[f'{K} MAE flagged']:.3f} / {f[f'{K} MAE unflagged']:.3f} | "
                f"{f[f'{G} MAE flagged']:.3f} / {f[f'{G} MAE unflagged']:.3f} |"
            )
    trust = _load("trust")
    return [*lines, "", _source(trust) + f" Model {trust['model']}."]


def release_trust() -> list[str]:
    """The real release read back: DFT cross-check and flags per table (standalone.json)."""
    data = _load("standalone")
    lines = [
        "| table | rows | DFT status ok | in training | rows | K MAE (signed) | "
        "K within u / inside the 95 % interval | G MAE (signed) | G within u / inside |",
        "|---|---:|---:|---:|---|---|---|---|---|",
    ]
    for table, t in data["tables"].items():
        for group, label in (
            ("not_in_training", "not in training"),
            ("in_training", "in training"),
        ):
            vs = t["vs_dft"].get(group)
            if not vs:
                continue
            cells = [
                f"{vs[s]['mae']:.4f} ({vs[s]['mean_signed']:+.3f}) | "
                f"{_pct(vs[s]['within_u'])} / {_pct(vs[s]['within_interval'])}"
                for s in ("B", "G")
            ]
            lines.append(
                f"| {table} | {t['rows']:,} | {t['dft_status'].get('ok', 0):,} | "
                f"{t['in_training']:,} | {label}, n = {vs['B']['n']} | {cells[0]} | {cells[1]} |"
            )
    lines += ["", "| table | rows | " + " | ".join(_flag_names(data)) + " |",
              "|---|---:|" + "---:|" * len(_flag_names(data))]  # fmt: skip
    for table, t in data["tables"].items():
        counts = [f"{t['flags'][f]:,} ({100 * t['flags'][f] / t['rows']:.0f} %)"
                  for f in _flag_names(data)]  # fmt: skip
        lines.append(f"| {table} | {t['rows']:,} | " + " | ".join(counts) + " |")
    return [*lines, "", _source(data)]


def _flag_names(data: dict[str, Any]) -> list[str]:
    return list(next(iter(data["tables"].values()))["flags"])


def release_speed() -> list[str]:
    """Stage costs per accepted structure, one core (release_speed.json, bench_release.py)."""
    data = _load("release_speed")
    stages = list(next(iter(data["stages"].values()))["ms"])
    former = all("former_ms" in s for s in data["stages"].values())
    lines = [
        "| table | atoms | " + " | ".join(stages) + " | total | CGCNN, plain basis | ratio"
        + (" | former CGCNN (2 × 3 members) | ratio |" if former else " |"),
        "|---|---:|" + "---:|" * (len(stages) + 3 + (2 if former else 0)),
    ]  # fmt: skip
    for table, s in data["stages"].items():
        model = s["ms"]["CGCNN"]
        row = (
            f"| {table} | {s['atoms']:.1f} | " + " | ".join(f"{s['ms'][x]:.2f}" for x in stages)
            + f" | **{s['total_ms']:.2f}** | {s['plain_basis_ms']:.2f} | "
            f"**{model / s['plain_basis_ms']:.2f}** |"
        )  # fmt: skip
        if former:
            row += f" {s['former_ms']:.2f} | **{model / s['former_ms']:.2f}** |"
        lines.append(row)
    lines += ["", _source(data) + f" {data['sample']:,} random candidates per table."]
    end = data.get("end_to_end")
    if end:
        lines += [
            "",
            f"End to end, same run: `elastic-atlas release --config build/release.toml` "
            f"**{end['seconds']:.0f} s for {end['inputs']:,} inputs = "
            f"{end['inputs_per_second']:.0f} inputs/s**, peak {end['peak_rss_mib']:,.0f} MiB RSS / "
            f"{end['peak_pss_mib']:,.0f} MiB PSS, exit {end['exit']}.",
        ]
    return lines


def symmetry() -> list[str]:
    """The symmetry step three ways (symmetry.json, bench_symmetry.py)."""
    data = _load("symmetry")
    lines = [
        "| structures | n | SpacegroupAnalyzer | spglib directly | agrees | moyopy | agrees | "
        "moyopy differs, e.g. (analyzer vs moyopy) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, s in data["sets"].items():
        examples = ", ".join(
            f"{d['member'].rsplit('.', 1)[0]} ({d['analyzer']} vs {d['moyopy']})"
            for d in s["moyopy_differs"][:2]
        )
        lines.append(
            f"| {label} | {s['n']} | {s['analyzer_ms']:.2f} | {s['spglib_ms']:.2f} | "
            f"{s['spglib_agrees']} | {s['moyopy_ms']:.2f} | {s['moyopy_agrees']} | {examples} |"
        )
    return [*lines, "", _source(data) + f" symprec {data['symprec']}, ms per structure."]


STAGE_KEYS = ("parse_ms", "graph_ms", "inference_ms")


def predict_stages() -> list[str]:
    """Parse, graph and inference per structure by cell size (predict.json, bench_predict.py)."""
    data = _load("predict")
    lines = [
        "| atoms per cell | structures | parse (ms) | graph (ms) | inference (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for bucket, c in data["by_atoms"].items():
        lines.append(
            f"| {bucket} | {c['structures']} | {c['parse_ms']:.2f} | {c['graph_ms']:.2f} | "
            f"{c['inference_ms']:.2f} |"
        )
    a = data["all"]
    lines.append(
        f"| all (mean {a['mean_atoms']:.1f} atoms) | {a['structures']} | "
        + " | ".join(f"{a[k]:.2f} ({1e3 / a[k]:.0f}/s)" for k in STAGE_KEYS)
        + " |"
    )  # fmt: skip
    sweep = data["batch_sweep"]
    sizes = list(next(iter(sweep.values())))
    lines += [
        "",
        "| inference, structures/s | " + " | ".join(f"batch {n}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    lines += [f"| {label} | " + " | ".join(f"{r[n]:.0f}" for n in sizes) + " |"
              for label, r in sweep.items()]  # fmt: skip
    end = data.get("end_to_end")
    lines += ["", _source(data) + f" Random sample of {data['sample']:,} structures."]
    if end:
        lines += [
            "",
            f"End to end (`elastic-atlas predict`, 2 worker processes): {end['structures']:,} "
            f"structures in {end['seconds']:.1f} s = **{end['per_second']:.0f} structures/s**, "
            f"peak **{end['peak_rss_mib']:,.0f} MiB RSS / {end['peak_pss_mib']:,.0f} MiB PSS**, "
            f"exit {end['exit']}.",
        ]
    return lines


def validate() -> list[str]:
    """elastic-atlas validate vs frictionless validate (validate.json, bench_validate.py)."""
    data = _load("validate")
    lines = ["| command | wall time (s) | exit |", "|---|---:|---:|"]
    lines += [f"| `{c['command']}` | {c['seconds']:.2f} | {c['exit']} |" for c in data["commands"]]
    return [*lines, "", _source(data) + f" {data['rows']:,} rows × {data['columns']} columns."]


def standalone() -> list[str]:
    """A real release checked as a downloader would (standalone.json, bench_standalone.py)."""
    data = _load("standalone")
    lines = ["| check | result |", "|---|---|"]
    lines += [f"| build | `{line}` |" for line in data["build"]]
    for name, f in data["frictionless"].items():
        label = "`frictionless validate datapackage.json`" if name == "package" else (
            f"frictionless with the checklist, `{name}`")  # fmt: skip
        lines.append(f"| {label} | {'VALID' if f['valid'] else 'INVALID'}, {f['seconds']:.0f} s |")
    lines += [
        f"| mlcroissant records of `{t}` | {n:,} |" for t, n in data["croissant_records"].items()
    ]
    lines.append(
        f"| DataCite 4.3 schema, upload records | valid ({', '.join(data['datacite_licences'])}) |"
    )
    v = data["validate"]
    lines.append(
        f"| `elastic-atlas validate datapackage.json` | {v['verdict']} ({v['counts']}), exit "
        f"{v['exit']}, {v['seconds']:.0f} s |"
    )
    for table, t in data["tables"].items():
        status = ", ".join(f"{k} {n:,}" for k, n in t["dft_status"].items())
        lines.append(f"| `{table}` dft_status | {status or 'null (no DFT table)'} |")
        lines.append(
            f"| `{table}` rows without band gap | {t['rows_without_band_gap']:,} of {t['rows']:,} |"
        )
    svg = data["largest_svg"]
    lines.append(f"| largest SVG | {svg['name']}, {svg['bytes'] / 1000:.0f} kB |")
    if "spglib_lines" in data:
        lines.append(f"| spglib lines on the build's stderr | {data['spglib_lines']} |")
    return [*lines, "", _source(data)]


def heldout() -> list[str]:
    """Held-out MAE per run of the committed out-of-fold files (heldout.json)."""
    data = _load("heldout")
    card = _adopted_card()["metrics"]["targets"]
    lines = [
        "| runs | run | entries | K | G | K / adopted test | G / adopted test |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, f in data["files"].items():
        label = name.replace("_", " ") + f" (`{f['file']}`)"
        for run, r in [*f["runs"].items(), ("**all**", f["all"])]:
            ratios = [r[t] / card[t]["test"]["mae"] for t in (K, G)]
            lines.append(
                f"| {label} | {run} | {r['n']:,} | {r[K]:.4f} | {r[G]:.4f} | "
                f"{ratios[0]:.2f} | {ratios[1]:.2f} |"
            )
            label = ""
    return [*lines, "", _source(data)]


def plan() -> list[str]:
    """The plan of a zip vs zipfile's member list (plan.json, bench_plan.py)."""
    data = _load("plan")
    lines = [
        "| archive | members | `infolist()` s | `infolist()` RSS rise | plan → Parquet s | "
        "plan RSS rise |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a in data["archives"]:
        i, p = a["infolist"], a["plan"]
        lines.append(
            f"| {a['archive']} | {i['members']:,} | {i['seconds']:.2f} | "
            f"{i['peak_above_start_mib']:.0f} MiB | {p['seconds']:.2f} | "
            f"{p['peak_above_start_mib']:.0f} MiB |"
        )
    return [*lines, "", _source(data)]


def merge() -> list[str]:
    """The streaming merge vs writing the whole table (merge.json, bench_merge.py)."""
    data = _load("merge")
    lines = [
        "| rows + rejects | parts | merge s | merge RSS rise | whole table s | whole RSS rise | "
        "CSV and rejects identical |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in data["runs"]:
        m, w = r["merge"], r["whole"]
        lines.append(
            f"| {r['rows']:,} + {r['rejects']:,} | {r['row_parts']} + {r['reject_parts']} | "
            f"{m['seconds']:.1f} | {m['peak_above_start_mib']:,.0f} MiB | {w['seconds']:.1f} | "
            f"{w['peak_above_start_mib']:,.0f} MiB | {r['csv_and_rejects_identical']} |"
        )
    return [*lines, "", _source(data)]


def validate_memory() -> list[str]:
    """`validate`'s peak RSS as the table grows (validate_memory.json)."""
    data = _load("validate_memory")
    lines = ["| rows | format | file | wall s | exit | peak RSS |",
             "|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in data["runs"]:
        lines.append(
            f"| {r['rows']:,} | {r['format']} | {r['bytes'] / 2**20:,.0f} MiB | "
            f"{r['seconds']:.1f} | {r['exit']} | {r['peak_rss_mib']:,.0f} MiB |"
        )
    return [*lines, "", _source(data)]


def engines() -> list[str]:
    """Local vs Dask engine on a real recipe: pairs, resume, a killed worker (engines.json)."""
    data = _load("engines")
    lines = [
        "| pair | engine | wall s | plan · shards · merge s | inputs/s | dask ÷ local | client "
        "peak RSS | worker peak RSS | shards | same bytes as the first local build |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, pair in enumerate(data["pairs"], start=1):
        for name in ("local", "dask"):
            r = pair[name]
            ratio = f"{pair['dask_over_local']:.2f}" if name == "dask" else ""
            steps = r["shards"].get("seconds")  # summary.json says so since 2026-12-02
            split = " · ".join(f"{v:.1f}" for v in steps.values()) if steps else ""
            lines.append(
                f"| {i} | {name} | {r['wall_s']:.1f} | {split} | {r['inputs_per_s']:,.0f} | "
                f"{ratio} | {r['client_peak_rss_mib']:,.0f} MiB | "
                f"{r['worker_peak_rss_mib']:,.0f} MiB | {r['shards']['shards']} | "
                f"{r['same_bytes']} |"
            )
    lines += ["", "| interrupted run | parts when killed | rerun s | shards reused | same bytes |",
              "|---|---:|---:|---:|---|"]  # fmt: skip
    for r in data["resume"]:
        lines.append(
            f"| `kill -9` of the {r['engine']} command | {r['parts_at_kill']} | "
            f"{r['rerun_s']:.1f} | {r['shards']['reused']} of {r['shards']['shards']} | "
            f"{r['same_bytes']} |"
        )
    k = data["worker_killed"]
    lines.append(
        f"| SIGKILL of one dask worker mid-run | {k['parts_at_kill']} | (same run, exit "
        f"{k['exit']}) | | {k['same_bytes']} |"
    )
    trim = data["trim"]
    (plain, plain_s), (trimmed, trimmed_s) = trim["seconds"].items()
    lines += ["", "| four MP shards in one process | seconds per shard | total s |",
              "|---|---|---:|"]  # fmt: skip
    for name, seconds in ((plain, plain_s), (trimmed, trimmed_s)):
        shown = ", ".join(f"{v:.2f}" for v in seconds)
        lines.append(f"| {name} | {shown} | {sum(seconds):.1f} |")
    lines += ["", f"With Dask's trim threshold a shard takes {trim['ratio']:.2f}× as long."]
    monitors = data.get("monitors")  # measured since 2026-12-02's third run
    if monitors:
        lines += ["", f"| {monitors['shards']} MP shards on a 2-worker local cluster | wall s, "
                  "each round | shard seconds, each round |", "|---|---|---|"]  # fmt: skip
        names = {"quiet": "Dask's monitors quiet (the package's)", "defaults": "Dask's defaults"}
        for name, runs in monitors["runs"].items():
            walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
            tasks = ", ".join(f"{r['task_seconds']:.1f}" for r in runs)
            lines.append(f"| {names[name]} | {walls} | {tasks} |")
        lines += ["", f"With Dask's default monitors the same shards take {monitors['ratio']:.2f}× "
                  "as long (wall, all rounds)."]  # fmt: skip
    load = ", ".join(f"{v:.2f}" for v in data["load_average"])
    return [*lines, "", f"Load average at the end: {load} ({data['workers']} workers, recipe "
            f"`build/{data['recipe']}`).", "", _source(data)]  # fmt: skip


def engines_release() -> list[str]:
    """The shared-data release on each engine, pairs in alternating order (engines_release.json)."""
    data = _load("engines_release")
    lines = [
        "| pair | engine (order) | wall s | inputs | inputs/s | dask ÷ local | client peak RSS | "
        "process tree peak PSS | same table files as the first local release |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, pair in enumerate(data["pairs"], start=1):
        for name in pair["order"]:
            r = pair[name]
            ratio = f"**{pair['dask_over_local']:.2f}**" if name == "dask" else ""
            position = "first" if name == pair["order"][0] else "second"
            inputs = sum(r["inputs"].values())
            lines.append(
                f"| {i} | {name} ({position}) | {r['wall_s']:.1f} | {inputs:,} | "
                f"{r['inputs_per_s']:,.0f} | {ratio} | {r['client_peak_rss_mib']:,} MiB | "
                f"{r['tree_peak_pss_mib']:,} MiB | {r['same_bytes']} |"
            )
    tables = ", ".join(f"{t} {n:,}" for t, n in data["pairs"][0]["local"]["inputs"].items())
    ratios = [pair["dask_over_local"] for pair in data["pairs"]]
    load = ", ".join(f"{v:.2f}" for v in data["load_average"])
    return [*lines, "", f"Inputs per table: {tables}. Dask ÷ local: lowest {min(ratios):.2f}, "
            f"highest {max(ratios):.2f} ({data['workers']} workers). Load average at the end: "
            f"{load}.", "", _source(data)]  # fmt: skip


def scale() -> list[str]:
    """Client and worker memory as the inputs grow, both engines (scale.json)."""
    data = _load("scale")
    lines = [
        "| inputs | engine | rows | wall s | inputs/s | client peak RSS | worker peak RSS | "
        "process tree peak PSS | parts on disk | shards | code | same files as the other "
        "engine |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    files = {(r["size"], r["engine"]): r.get("sha256") for r in data["runs"]}
    for r in data["runs"]:
        other = files.get((r["size"], "local" if r["engine"] == "dask" else "dask"))
        same = "—" if other is None or r.get("sha256") is None else str(other == r["sha256"])
        lines.append(
            f"| {r['inputs']:,} | {r['engine']} | {r['accepted']:,} | {r['wall_s']:,.1f} | "
            f"{r['inputs_per_s']:,.0f} | {r['client_peak_rss_mib']:,.0f} MiB | "
            f"{r['worker_peak_rss_mib']:,.0f} MiB | {r['tree_peak_pss_mib']:,.0f} MiB | "
            f"{r['parts_mib']:,.0f} MiB | {r['shards']:,} | "
            f"{r.get('code_sha256', '—')} | {same} |"
        )
    return [*lines, "", *_alexandria(data["runs"]), "", _source(data)]


def client_steps() -> list[str]:
    """The client's peak split by step, each step in its own process (client_steps.json)."""
    data = _load("client_steps")
    lines = [
        "| inputs | step | RSS when ready | peak | rise | peak after the rows · rejects · "
        "structures merges |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in data["runs"]:
        after = r.get("peak_after_mib") or {}
        merges = " · ".join(f"{v:,.0f}" for v in after.values()) + " MiB" if after else ""
        lines.append(
            f"| {r['size']:,} | {r['step']} | {r['ready_rss_mib']:,.0f} MiB | "
            f"{r['peak_mib']:,.0f} MiB | +{r['peak_mib'] - r['ready_rss_mib']:,.0f} MiB | "
            f"{merges} |"
        )
    return [*lines, "", _source(data)]


ALEXANDRIA = 4_500_000  # inputs of Alexandria's PBE set, the largest source in view


def _alexandria(runs: list[dict]) -> list[str]:
    """Each engine's largest run extrapolated linearly to Alexandria's 4.5 million inputs
    (wall time and parts at that run's rate; the client's peak along the line through its
    smallest and largest runs)."""
    lines = [
        f"| extrapolated to {ALEXANDRIA:,} inputs, 2 workers | wall | parts on disk | "
        "client peak RSS |",
        "|---|---:|---:|---:|",
    ]
    for engine in sorted({r["engine"] for r in runs}):
        mine = sorted((r for r in runs if r["engine"] == engine), key=lambda r: r["inputs"])
        small, large = mine[0], mine[-1]
        if large["inputs"] == small["inputs"]:
            continue
        grows = (large["client_peak_rss_mib"] - small["client_peak_rss_mib"]) / (
            large["inputs"] - small["inputs"]
        )
        client = large["client_peak_rss_mib"] + grows * (ALEXANDRIA - large["inputs"])
        scale = ALEXANDRIA / large["inputs"]
        lines.append(
            f"| {engine} (from {large['inputs']:,}) | {large['wall_s'] * scale / 3600:.1f} h | "
            f"{large['parts_mib'] * scale / 1024:.1f} GiB | {client:,.0f} MiB |"
        )
    return lines


RENDERERS: dict[str, Callable[[], list[str]]] = {
    "scale": scale,
    "client_steps": client_steps,
    "engines": engines,
    "engines_release": engines_release,
    "page": page,
    "install_use": install_use,
    "reliability": reliability,
    "folds": folds,
    "install": install,
    "ood_calibration": ood_calibration,
    "adopted": adopted,
    "trials": trials,
    "baselines": baselines,
    "reference": reference,
    "calibration": calibration,
    "uncertainty_limit": uncertainty_limit,
    "flags": flags,
    "release_trust": release_trust,
    "release_speed": release_speed,
    "symmetry": symmetry,
    "predict_stages": predict_stages,
    "validate": validate,
    "standalone": standalone,
    "heldout": heldout,
    "table_evidence": table_evidence,
    "plan": plan,
    "merge": merge,
    "validate_memory": validate_memory,
}


def render(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in RENDERERS:
            raise SystemExit(f"BENCHMARKS.md asks for an unknown generated table {name!r}")
        return match.group(1) + "\n".join(RENDERERS[name]()) + "\n" + match.group(4)

    return BLOCK.sub(replace, text)


HISTORY = "\n## History"


def hand_written_tables(text: str) -> list[str]:
    """Table lines outside the generated blocks, above the History section (which keeps earlier
    measurements as printed): each would be a figure that no results file backs."""
    current = BLOCK.sub("", text.split(HISTORY, 1)[0])
    return [line for line in current.splitlines() if line.startswith("|")]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is stale")
    args = parser.parse_args()
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    fresh = render(text)
    if args.check:
        loose = hand_written_tables(text)
        if loose:
            print(f"BENCHMARKS.md has {len(loose)} table line(s) outside generated blocks, e.g.")
            print(loose[0])
            return 1
        if fresh != text:
            print("BENCHMARKS.md differs from benchmarks/results: run benchmarks/render.py")
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
