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


def integer_bins(values: np.ndarray, most: int = 100) -> np.ndarray:
    """Bin edges at half-integers, each bin a whole number of atoms wide (1 when the range
    allows), so no bin holds a fractional count of atoms or splits one integer in two."""
    high = max(int(values.max()) if len(values) else 1, 1)
    width = max(1, int(np.ceil(high / most)))
    return np.arange(0.5, high + width + 0.5, width)


def atoms_per_cell(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    fig, ax = plt.subplots(figsize=(7, 4))
    n = frame["nsites"].to_numpy()
    bins = integer_bins(n)
    ax.hist(n, bins=bins, color="tab:blue")
    width = int(bins[1] - bins[0])
    ax.set_xlabel("atoms per cell N" + (f" (bins of {width})" if width > 1 else ""))
    ax.set_ylabel("materials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    low, high = (int(n.min()), int(n.max())) if len(n) else (0, 0)
    ax.set_title(f"{title}: atoms per cell (range {low}-{high})")
    fig.tight_layout()
    return _save(fig, folder, "atoms_per_cell")


def periodic_position(symbol: str) -> tuple[int, int]:
    """(row, column) of an element in the 18-column periodic table; lanthanides and actinides
    in two rows below (8 and 9), as printed tables show them."""
    from pymatgen.core import Element

    element = Element(symbol)
    if element.is_lanthanoid or element.is_actinoid:
        return (8 if element.is_lanthanoid else 9), element.Z - (
            57 if element.is_lanthanoid else 89
        ) + 3
    return element.row, element.group


def element_frequency(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    """How many materials contain each element, as a periodic-table heat map (log colour
    scale: O is in most rows, many elements in a few); elements in no row stay blank."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter, NullFormatter
    from pymatgen.core import Element

    counts = Counter(e for row in frame["elements"] for e in row.split())
    grid = np.full((9, 18), np.nan)
    for symbol, count in counts.items():
        row, column = periodic_position(symbol)
        grid[row - 1, column - 1] = count
    fig, ax = plt.subplots(figsize=(12, 6))
    top = max(counts.values()) if counts else 1
    low = min(counts.values()) if counts else 1
    image = ax.imshow(grid, cmap="viridis", norm=LogNorm(vmin=low, vmax=max(top, low + 1)))
    for z in range(1, 104):  # every element to Lr: the table's shape, blank where no row has it
        symbol = Element.from_Z(z).symbol
        row, column = periodic_position(symbol)
        ax.add_patch(Rectangle((column - 1.5, row - 1.5), 1, 1, fill=False, lw=0.4, ec="0.8"))
        count = counts.get(symbol, 0)
        if not count:
            ax.text(column - 1, row - 1, symbol, ha="center", va="center", fontsize=7, color="0.7")
            continue
        shade = image.cmap(image.norm(count))
        ink = "black" if 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.5 else "white"
        ax.text(column - 1, row - 1.15, symbol, ha="center", va="center", fontsize=8, color=ink,
                weight="bold")  # fmt: skip
        ax.text(column - 1, row - 0.75, f"{count:,}", ha="center", va="center", fontsize=5.5,
                color=ink)  # fmt: skip
    ax.set_xlim(-0.5, 17.5)
    ax.set_ylim(8.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.6, label="materials containing the element")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    bar.ax.yaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels collide
    ax.set_title(f"{title}: element frequency ({len(counts)} elements)")
    fig.tight_layout()
    return _save(fig, folder, "element_frequency")


def _pugh_lines(ax: plt.Axes, g_max: float) -> None:
    """The Pugh-ratio lines, each labelled at its far end, just below it: the crystals crowd
    the middle of the lines, the ends stay clear, and the label never sits on its line."""
    g = np.array([0.0, g_max])
    for ratio in PUGH_LINES:
        ax.plot(g, ratio * g, ls="--", lw=0.8, color="grey")
        ax.annotate(
            f"B/G = {ratio:g}", (g_max, ratio * g_max), xytext=(-2, -12),
            textcoords="offset points", ha="right", fontsize=7, color="dimgrey",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        )  # fmt: skip


def moduli_scatter(frame: pd.DataFrame, title: str, folder: Path) -> list[Path]:
    fig = plt.figure(figsize=(7, 7))
    grid = fig.add_gridspec(4, 4, hspace=0.05, wspace=0.05)
    ax = fig.add_subplot(grid[1:, :3])
    top = fig.add_subplot(grid[0, :3], sharex=ax)
    right = fig.add_subplot(grid[1:, 3], sharey=ax)
    g_max = float(frame["g_vrh"].max()) if len(frame) else 1.0
    # One scatter in a fixed random order: drawn system by system, the last system would
    # cover the others wherever they overlap; shuffled, each shows in proportion to its rows.
    order = np.random.default_rng(0).permutation(len(frame))
    shuffled = frame.iloc[order]
    ax.scatter(
        shuffled["g_vrh"], shuffled["k_vrh"], s=6, alpha=0.6,
        color=[COLOURS[s] for s in shuffled["crystal_system"]],
        rasterized=True,  # tens of thousands of points: pixels inside the SVG
    )  # fmt: skip
    for system in SYSTEMS:  # legend entries only
        count = int((frame["crystal_system"] == system).sum())
        if count:
            ax.scatter([], [], s=6, color=COLOURS[system], label=f"{system} ({count:,})")
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
