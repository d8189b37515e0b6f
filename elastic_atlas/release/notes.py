"""RELEASE.md: what a release holds, how it was made, how to check it, what changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from elastic_atlas.contract.columns import Column
from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.paths import display_path
from elastic_atlas.pipeline.run import literature_comparison
from elastic_atlas.release.changes import changes_lines
from elastic_atlas.release.context import TABLE_TITLES, Release
from elastic_atlas.release.facts import (
    dft_counts,
    differences,
    screening_text,
    table_description,
)
from elastic_atlas.release.trust import TRUST_COLUMNS, accuracy_text, model_card, trust_section


def input_hashes(recipe: Recipe) -> list[dict[str, str]]:
    """sha256 of every input file (a folder: of its sorted 'name digest' lines)."""
    paths = [s.path for s in recipe.structures if s.kind == "cif"]
    paths += [recipe.summary.path] if recipe.summary else []
    out = []
    for path in paths:
        if path.is_dir():
            lines = "".join(
                f"{p.name} {file_digest(p)}\n" for p in sorted(path.iterdir()) if p.is_file()
            )
            digest = hashlib.sha256(lines.encode()).hexdigest()
        else:
            digest = file_digest(path) if path.exists() else "missing"
        out.append({"path": display_path(path), "sha256": digest})
    return out


def release_notes(release: Release, tables: list[str] | None = None) -> str:
    """RELEASE.md of the release, or of some of its tables (an upload record's own notes)."""
    config, recipes, version = release.config, release.recipes, release.version
    created, validation = release.created, release.validation
    tables = tables or list(release.built)
    lines = [f"# {config.title}", "", f"Version {version}, {created[:10]}.", ""]
    if config.sample:
        lines += ["**This is the embedded sample, not the study's dataset.**", ""]
    lines += [config.description, ""]
    for table in tables:
        stats, recipe = release.statistics[table], recipes[table]
        frame = release.built[table].columns((Column.MATERIAL_ID, Column.FORMULA,
                                              Column.DFT_STATUS, *TRUST_COLUMNS))  # fmt: skip
        lines += [
            f"## {TABLE_TITLES[table]}",
            "",
            table_description(release, table),
            "",
            f"- rows: {stats.accepted} of {stats.inputs} inputs",
            f"- screened out: {stats.screened_out or 'none'}",
            f"- rejected: {stats.rejected or 'none'}",
            f"- screening applied: {screening_text(recipe, stats)}",
            f"- DFT status of the rows: {dict(sorted(dft_counts(frame).items())) or 'no table'}",
            *[f"- build warning: {w}" for w in stats.warnings],
            f"- validation (strict, 1e-9): no errors; warnings {validation[table]['csv']}",
            "- inputs:",
        ]
        lines += [f"  - `{i['path']}` sha256 `{i['sha256']}`" for i in input_hashes(recipe)]
        lines += ["- checkpoints:"]
        for c in stats.checkpoints:
            where = c.get("release_path", c["path"])
            lines += [
                f"  - `{where}` ({c['kind']}, {c['members']} member(s), targets {c['targets']})"
                + accuracy_text(model_card(stats, c))
            ]
            lines += [f"    - `{name}` sha256 `{digest}`" for name, digest in c["sha256"].items()]
        lines.append("")
        lines += trust_section(frame, stats, recipe.dft.source if recipe.dft else "")
        literature = release.built[table].literature
        if literature is not None:
            comparison = literature_comparison(frame, literature)
            lines += literature_section(comparison, len(literature))
    lines += differences(release, tables)
    lines += how_to_check(tables)
    lines += [
        "## Changes since the previous version",
        "",
        *changes_lines({t: c for t, c in release.changes.items() if t in tables}),
        "",
    ]
    return "\n".join(lines)


def how_to_check(tables: list[str]) -> list[str]:
    """Commands with which anyone can verify a copy of this release folder."""
    checklist = [
        f"frictionless validate --checklist checklist.json --resource-name {table}-{suffix} "
        "datapackage.json"
        for table in tables
        for suffix in ("csv", "parquet")
    ]
    return [
        "## How to check this release",
        "",
        "```bash",
        "# each file's bytes against its line in CHECKSUMS.sha256:",
        "sha256sum -c CHECKSUMS.sha256",
        "# each resource against datapackage.json: table schema (types, constraints, required,",
        "# unique ids), sha256, bytes and row count (bytes and rows of CSV; sha256 of all):",
        "frictionless validate datapackage.json",
        "# per table resource, each derived column recomputed from B, G, N, V and M:",
        *checklist,
        "# all of that, plus: Parquet stored types and hashes, NaN, physical bounds, risk flags,",
        "# DFT status vs values, and the release against itself: CSV vs Parquet row by row,",
        "# CHECKSUMS.sha256 vs the files and datapackage.json, every checkpoint vs its model.json",
        "# (and it loads), croissant.json's hashes, units and licences, Parquet field and file",
        "# metadata vs the contract, duplicate resource names, tables declared as plain files:",
        "elastic-atlas validate datapackage.json",
        "```",
        "",
    ]


def literature_section(comparison: pd.DataFrame, n_literature: int) -> list[str]:
    """Predicted vs measured moduli as a Markdown table, with the errors in log10 GPa."""
    if comparison.empty:
        return []
    log_error = {
        name: np.log10(comparison[name]) - np.log10(comparison[f"{name}_literature"])
        for name in ("k_vrh", "g_vrh")
    }
    lines = [
        "### Predicted vs literature (GPa)",
        "",
        "| material_id | formula | B predicted | B literature | G predicted | G literature |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in comparison.sort_values("material_id").itertuples():
        lines.append(
            f"| {row.material_id} | {row.formula} | {row.k_vrh:.1f} | {row.k_vrh_literature:.1f} "
            f"| {row.g_vrh:.1f} | {row.g_vrh_literature:.1f} |"
        )
    lines += [
        "",
        f"{len(comparison)} of the {n_literature} materials with literature moduli are in the "
        "table (the others are screened out); mean absolute (signed) error in log10 GPa: "
        f"B {np.abs(log_error['k_vrh']).mean():.3f} ({log_error['k_vrh'].mean():+.3f}), "
        f"G {np.abs(log_error['g_vrh']).mean():.3f} ({log_error['g_vrh'].mean():+.3f}). "
        "The checkpoints learned PBE elastic constants (Materials Project), which tend to "
        "underestimate measured moduli, so a negative signed error is expected. Literature: "
        f"{'; '.join(sorted(set(comparison['source'])))}.",
        "",
    ]
    return lines


def append_changes(target: Path, changes_file: Path) -> None:
    notes = (target / "RELEASE.md").read_text().split("## Changes since the previous version")
    text = changes_file.read_text() if changes_file.exists() else "# Changes\n"
    heading = f"## {target.name}"
    if heading not in text:
        text += f"\n{heading}\n{notes[-1].strip()}\n"
        changes_file.write_text(text)
