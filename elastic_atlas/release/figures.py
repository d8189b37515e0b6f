"""Figures of a released table, made from the release files themselves (the study's Figs. 4-7).

Deterministic output: no timestamps or software versions in the files, a fixed SVG hash salt,
so rebuilding a release gives byte-identical figures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from elastic_atlas.contract.physics import MAX_DFT_MODULUS
from elastic_atlas.contract.schema import crystal_systems

SYSTEMS = crystal_systems()
COLOURS = dict(zip(SYSTEMS, plt.get_cmap("tab10").colors, strict=False))
# Pugh's ratio B/G = 1.75 separates ductile (above) from brittle (below); B/G = 1 for reference.
PUGH_LINES = (1.0, 1.75)


def _save(fig: plt.Figure, folder: Path, name: str) -> list[Path]:
    paths = []
    for suffix, metadata in ((".png", {"Software": None}), (".svg", {"Date": None})):
        path = folder / f"{name}{suffix}"
        with matplotlib.rc_context({"svg.hashsalt": "elastic-atlas"}):
            # tight bounding box: no title or label is ever clipped
            fig.savefig(path, dpi=120, metadata=metadata, bbox_inches="tight", pad_inches=0.15)
        paths.append(path)
    plt.close(fig)
    return paths


def crystal_systems(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    counts = frame["crystal_system"].value_counts().reindex(SYSTEMS, fill_value=0)
    counts = counts.sort_values(ascending=False, kind="stable")
    fig, ax = plt.subplots(figsize=(7, 4))
    bars = ax.bar(counts.index, counts.values, color=[COLOURS[s] for s in counts.index])
    total = max(int(counts.sum()), 1)
    for bar, value in zip(bars, counts.values, strict=True):
        ax.annotate(
            f"{value:,}\n({100 * value / total:.1f} %)",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("materials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{title}: crystal systems (n = {total:,})")
    ax.tick_params(axis="x", rotation=30)
    ax.margins(y=0.2)
    fig.tight_layout()
    return _save(fig, folder, "crystal_systems")


def atoms_per_cell(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    fig, ax = plt.subplots(figsize=(7, 4))
    n = frame["nsites"].to_numpy()
    ax.hist(
        n,
        bins=np.arange(0.5, max(int(n.max()) if len(n) else 1, 1) + 1.5, 1)
        if len(n) and n.max() <= 100
        else 60,
        color="tab:blue",
    )
    ax.set_xlabel("atoms per cell N")
    ax.set_ylabel("materials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    low, high = (int(n.min()), int(n.max())) if len(n) else (0, 0)
    ax.set_title(f"{title}: atoms per cell (range {low}-{high})")
    fig.tight_layout()
    return _save(fig, folder, "atoms_per_cell")


def element_frequency(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    counts = Counter(e for row in frame["elements"] for e in row.split())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    fig, ax = plt.subplots(figsize=(max(7, 0.16 * len(ordered)), 4))
    ax.bar([k for k, _ in ordered], [v for _, v in ordered], color="tab:green")
    ax.set_ylabel("materials containing the element")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{title}: element frequency ({len(ordered)} elements)")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    fig.tight_layout()
    return _save(fig, folder, "element_frequency")


def _pugh_lines(ax: plt.Axes, g_max: float) -> None:
    g = np.array([0.0, g_max])
    for ratio in PUGH_LINES:
        ax.plot(g, ratio * g, ls="--", lw=0.8, color="grey")
        ax.annotate(
            f"B/G = {ratio:g}", (g_max * 0.7, ratio * g_max * 0.7), fontsize=7, color="grey"
        )


def moduli_scatter(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    fig = plt.figure(figsize=(7, 7))
    grid = fig.add_gridspec(4, 4, hspace=0.05, wspace=0.05)
    ax = fig.add_subplot(grid[1:, :3])
    top = fig.add_subplot(grid[0, :3], sharex=ax)
    right = fig.add_subplot(grid[1:, 3], sharey=ax)
    g_max = float(frame["g_vrh"].max()) if len(frame) else 1.0
    for system in SYSTEMS:
        part = frame[frame["crystal_system"] == system]
        if len(part):
            ax.scatter(
                part["g_vrh"],
                part["k_vrh"],
                s=6,
                alpha=0.6,
                color=COLOURS[system],
                label=f"{system} ({len(part):,})",
                rasterized=True,  # tens of thousands of points: pixels inside the SVG
            )
    _pugh_lines(ax, g_max)
    top.hist(frame["g_vrh"], bins=60, color="tab:grey")
    right.hist(frame["k_vrh"], bins=60, orientation="horizontal", color="tab:grey")
    top.tick_params(labelbottom=False)
    right.tick_params(labelleft=False)
    top.set_ylabel("materials")
    right.set_xlabel("materials")
    top.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    right.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
    ax.set_xlabel("G (GPa)")
    ax.set_ylabel("B (GPa)")
    # below B/G = 1 (lower right) crystals are rare: the legend hides no points there
    ax.legend(fontsize=7, markerscale=2, loc="lower right")
    top.set_title(f"{title}: bulk vs shear modulus")
    return _save(fig, folder, "bulk_vs_shear")


def moduli_by_system(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    fig, axes = plt.subplots(2, 4, figsize=(12, 6), sharex=True, sharey=True)
    g_max = float(frame["g_vrh"].max()) if len(frame) else 1.0
    for ax, system in zip(axes.flat, SYSTEMS, strict=False):
        part = frame[frame["crystal_system"] == system]
        ax.scatter(
            part["g_vrh"], part["k_vrh"], s=5, alpha=0.6, color=COLOURS[system], rasterized=True
        )
        _pugh_lines(ax, g_max)
        ax.set_title(f"{system} ({len(part):,})", fontsize=9)
    axes.flat[-1].axis("off")
    for ax in axes[1]:
        ax.set_xlabel("G (GPa)")
    for ax in axes[:, 0]:
        ax.set_ylabel("B (GPa)")
    fig.suptitle(f"{title}: B vs G per crystal system")
    fig.tight_layout()
    return _save(fig, folder, "bulk_vs_shear_by_system")


def predicted_vs_dft(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    """B and G predicted vs the DFT table's (values in (0, 1000) GPa), rows not in training
    apart from rows in it, with the ±u band of the median calibrated uncertainty; nothing when
    no row has DFT values."""
    if "k_vrh_dft" not in frame or frame["k_vrh_dft"].isna().all():
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    trained = frame["in_training"].fillna(False).astype(bool)
    for ax, (symbol, column) in zip(axes, (("B", "k_vrh"), ("G", "g_vrh")), strict=True):
        dft, predicted = frame[f"{column}_dft"], frame[column]
        usable = (dft > 0) & (dft < MAX_DFT_MODULUS) & predicted.notna()
        for rows, label, colour in ((usable & trained, "in training", "tab:grey"),
                                    (usable & ~trained, "not in training", "tab:red")):  # fmt: skip
            ax.scatter(dft[rows], predicted[rows], s=6, alpha=0.5, color=colour,
                       label=f"{label} ({int(rows.sum()):,})", rasterized=True)  # fmt: skip
        low, high = float(dft[usable].min()), float(dft[usable].max())
        line = np.geomspace(low, high, 50)
        ax.plot(line, line, color="black", lw=0.8)
        u = float(frame[f"{column}_uncertainty"].median())
        if np.isfinite(u):
            ax.fill_between(line, line * 10**-u, line * 10**u, color="tab:blue", alpha=0.15,
                            label=f"±u (median u = {u:.3f} log10 GPa)")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"{symbol} DFT (GPa)")
        ax.set_ylabel(f"{symbol} predicted (GPa)")
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{title}: predicted vs DFT")
    fig.tight_layout()
    return _save(fig, folder, "predicted_vs_dft")


def table_figures(table_path: Path, title: str, folder: Path) -> list[Path]:
    """All figures of one table file (CSV or Parquet) into `folder`."""
    frame = (
        pd.read_parquet(table_path) if table_path.suffix == ".parquet" else pd.read_csv(table_path)
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for make in (
        crystal_systems,
        atoms_per_cell,
        element_frequency,
        moduli_scatter,
        moduli_by_system,
        predicted_vs_dft,
    ):
        paths += make(frame, title, folder)
    return paths
