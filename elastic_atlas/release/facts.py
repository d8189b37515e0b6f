"""What one table of a release is, in words generated from what its build applied.

Every statement a release makes about a table (its resource description, card section,
RELEASE.md section, Croissant record set, DataCite abstract and methods) comes from here: the
recipe that was run (sources, snapshot, screen settings, checkpoint, DFT table) and the build's
accounting (rows, inputs, counts per reason, rows without band gap, DFT statuses). Nothing is
written that could be false for some recipe.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from elastic_atlas import __version__
from elastic_atlas.contract import study
from elastic_atlas.contract.columns import Column
from elastic_atlas.contract.targets import Target
from elastic_atlas.inputs.recipe import RADIOACTIVE, Recipe
from elastic_atlas.pipeline.records import BuildStatistics
from elastic_atlas.release.context import TABLE_TITLES, Release
from elastic_atlas.release.trust import model_card, test_metrics, test_split

SHORT = {t.value: t.symbol for t in Target}


def _n(count: int) -> str:
    return f"{count:,}"


def sources_text(recipe: Recipe) -> str:
    """'Materials Project (2018 snapshot) [snapshot 2018 ...], licence CC-BY-4.0'."""
    parts = []
    for origin in recipe.structures:
        when = f", taken {origin.snapshot}" if origin.snapshot else ""
        parts.append(f"{origin.source}{when} (licence {origin.licence})")
    return "; ".join(parts)


def band_gap_text(recipe: Recipe, stats: BuildStatistics) -> str:
    """The band-gap screen as applied, with the count of rows it could not judge."""
    screen, rows, no_gap = recipe.screen, stats.accepted, stats.band_gap_null_rows
    origin = "the summary's band_gap" if recipe.summary else "the band gap the source gives"
    window = f"band gap {screen.band_gap_min:g}-{screen.band_gap_max:g} eV ({origin})"
    if screen.gap_policy == "exclude":
        return f"{window}; inputs without a band gap excluded"
    if no_gap == rows:
        return (
            f"no band-gap screen applied: none of the {_n(rows)} rows has a band gap (the "
            "inputs carry none; gap policy include keeps them), so metals are not excluded "
            "and band_gap is null in every row"
        )
    return (
        f"{window} where there is one; {_n(no_gap)} of {_n(rows)} rows have "
        "none and were kept unscreened (gap policy include)"
    )


def element_screen_text(recipe: Recipe) -> str:
    excluded = recipe.screen.radioactive
    if not excluded:
        return "no element excluded"
    if sorted(excluded) == sorted(RADIOACTIVE):
        return "no element without a stable isotope (Tc, Pm, and Z ≥ 84)"
    return f"no element among {', '.join(sorted(excluded))}"


def screening_text(recipe: Recipe, stats: BuildStatistics) -> str:
    return f"{band_gap_text(recipe, stats)}; {element_screen_text(recipe)}"


def accounting_text(table: str, stats: BuildStatistics) -> str:
    screened = sum(stats.screened_out.values())
    rejected = sum(stats.rejected.values())
    return (
        f"{_n(stats.accepted)} rows of {_n(stats.inputs)} inputs ({_n(screened)} "
        f"screened out, {_n(rejected)} rejected, each with its reason in {table}-rejects.csv)"
    )


def test_maes(card: dict[str, Any]) -> dict[str, float]:
    return {t: m["mae"] for t, m in test_metrics(card).items()}


def checkpoint_text(stats: BuildStatistics, checkpoints: list[dict[str, Any]] | None = None) -> str:
    """The checkpoints (default: all of the build) with their origin and test MAE."""
    parts = []
    for c in stats.checkpoints if checkpoints is None else checkpoints:
        card = model_card(stats, c)
        maes = test_maes(card)
        accuracy = (
            f"; {test_split(card)} MAE "
            + ", ".join(f"{SHORT.get(t, t)} {v:.4f}" for t, v in maes.items())
            + " log10 GPa"
            if maes
            else ""
        )
        origin = "trained with elastic-atlas" if c["kind"] == "own" else "the reference CGCNN"
        name = Path(c.get("release_path", c["path"])).name
        parts.append(f"{name} ({origin}, {c['members']} member(s){accuracy})")
    return "; ".join(parts)


def dft_counts(frame: pd.DataFrame) -> Counter[str]:
    return Counter(str(s) for s in frame[Column.DFT_STATUS].dropna())


def dft_text(recipe: Recipe, frame: pd.DataFrame) -> str:
    if recipe.dft is None:
        return (
            "No DFT table was set beside the predictions: k_vrh_dft, g_vrh_dft and dft_status "
            "are null"
        )
    counts = dft_counts(frame)
    rejected = {s: n for s, n in sorted(counts.items()) if s.startswith("rejected_")}
    when = f", taken {recipe.dft.snapshot}" if recipe.dft.snapshot else ""
    listed = ", ".join(f"{s} {_n(n)}" for s, n in rejected.items()) or "none"
    return (
        f"DFT moduli beside the predictions from {recipe.dft.source}{when}: {_n(counts['ok'])} "
        f"rows with sane DFT values (dft_status ok), {_n(counts['no_entry'])} without an entry, "
        f"{_n(sum(rejected.values()))} whose entry fails the sanity rule and is published as "
        f"null ({listed}); never used to make a row"
    )


def table_description(release: Release, table: str) -> str:
    """One paragraph: what the table is, generated from its build."""
    recipe, stats = release.recipes[table], release.statistics[table]
    frame = release.built[table].columns([Column.DFT_STATUS])
    return (
        f"{TABLE_TITLES[table]}: {accounting_text(table, stats)}. Structures: "
        f"{sources_text(recipe)}. Screening applied: {screening_text(recipe, stats)}. Bulk "
        f"and shear moduli predicted by {checkpoint_text(stats)}; sound "
        "velocities, Poisson's ratio and Debye temperature derived from them and the structure "
        "(PHYSICS.md). "
        f"{dft_text(recipe, frame)}. Licence {stats.licence}."
    )


def methods_text(release: Release, table: str) -> str:
    """DataCite's Methods description: the pipeline as it ran for this table."""
    recipe, stats = release.recipes[table], release.statistics[table]
    return (
        f"Built with elastic-atlas {__version__}: every input structure read, "
        f"screened ({screening_text(recipe, stats)}), turned into a crystal graph and "
        f"predicted by {checkpoint_text(stats)}; derived columns computed with "
        "Planck's h; every row validated against the table schema and the physics (strict "
        "tolerance 1e-9) before packaging. Method of Liu et al., Acta Physica Sinica 74, "
        "120702 (2025)."
    )


def differences(release: Release, tables: list[str]) -> list[str]:
    """Markdown: how this release differs from the study's published dataset, per table."""
    lines = [
        "## How this release differs from the study's dataset",
        "",
        "This is not the study's published dataset (doi:10.57760/sciencedb.j00213.00104); it "
        "regenerates tables of the same kind by the same method, from the inputs and checkpoint "
        "below.",
        "",
        "| | this release | the study |",
        "|---|---|---|",
    ]
    for table in tables:
        recipe, stats = release.recipes[table], release.statistics[table]
        name = table.upper()
        lines += [
            f"| {name} rows | {_n(stats.accepted)} | {_n(study.ROWS[table])} |",
            f"| {name} inputs | {sources_text(recipe)} | {study.INPUTS[table]} |",
            f"| {name} screening | {screening_text(recipe, stats)} | {study.SCREEN} |",
        ]
    checkpoints = {
        c["path"]: (release.statistics[t], c)
        for t in tables
        for c in release.statistics[t].checkpoints
    }
    study_mae = ", ".join(f"{SHORT[t]} {v:.4f}" for t, v in study.TEST_MAE.items())
    for stats, c in checkpoints.values():
        lines.append(
            f"| models | {checkpoint_text(stats, [c])} | {study.MODELS}; test MAE "
            f"{study_mae} log10 GPa on the study's own split |"
        )
    ours = {
        test_split(model_card(s, c)) for s, c in checkpoints.values() if test_maes(model_card(s, c))
    }
    lines += [
        "| Debye temperature | Planck's h | ħ as printed in eq. (5) |",
        "",
        f"The Debye temperature: {study.DEBYE}."
        + (
            f" The MAEs are on different test sets ({', '.join(sorted(ours))} here, the study's "
            "own split there), so they compare the models only roughly."
            if ours
            else ""
        ),
        "",
    ]
    return lines
