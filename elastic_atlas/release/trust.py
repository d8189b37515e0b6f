"""How far to trust the rows of a built table: predicted vs DFT on rows the checkpoints did
not train on, the coverage of the calibrated uncertainty there, and the rows each risk flag
marks. One source for RELEASE.md and the dataset card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas.contract.columns import Column
from elastic_atlas.contract.physics import MAX_DFT_MODULUS
from elastic_atlas.contract.risk import FLAG_COLUMNS
from elastic_atlas.contract.targets import Target
from elastic_atlas.model.calibration import coverage
from elastic_atlas.pipeline.records import BuildStatistics

TRUST_COLUMNS = (  # every column the trust section reads, so a release reads only these
    Column.IN_TRAINING,
    *(getattr(t, name) for t in Target for name in ("column", "uncertainty_column",
                                                     "lower_column", "upper_column",
                                                     "dft_column")),
    *FLAG_COLUMNS,
)  # fmt: skip


def model_card(stats: BuildStatistics, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The model card of a checkpoint of a build ({} for one without a card)."""
    return stats.cards.get(checkpoint["path"], {})


def test_split(card: dict[str, Any]) -> str:
    """ "Matbench fold-0 test": the card's own fold, never assumed."""
    fold = card.get("training", {}).get("fold")
    return f"Matbench fold-{fold} test" if fold is not None else "test"


def k95_of(stats: BuildStatistics) -> dict[str, float]:
    """Target -> the calibration's 95 % multiple of σ, from the model cards."""
    out = {}
    for checkpoint in stats.checkpoints:
        for target in model_card(stats, checkpoint).get("targets", []):
            if "calibration" in target:
                out[target["name"]] = target["calibration"]["k95"]
    return out


def dft_comparison(frame: pd.DataFrame) -> dict[str, Any]:
    """Predicted vs DFT (log10 GPa) on rows with DFT moduli in (0, 1000) GPa, apart for rows in
    and not in training; with the share of |error| within u and 2u, and the share of DFT values
    inside the row's own published 95 % interval."""
    out: dict[str, Any] = {}
    if Column.K_VRH_DFT not in frame:
        return out
    known = frame[Column.IN_TRAINING].notna().to_numpy(dtype=bool)
    trained = frame[Column.IN_TRAINING].fillna(False).to_numpy(dtype=bool)
    for group, rows in (("not_in_training", known & ~trained), ("in_training", trained)):
        per_modulus = {}
        for target in Target:
            values = frame[target.dft_column].to_numpy(dtype=float)
            have = rows & (values > 0) & (values < MAX_DFT_MODULUS)  # sane DFT values only
            if have.any():
                per_modulus[target.symbol] = _versus_dft(frame, target, have)
        if per_modulus:
            out[group] = per_modulus
    return out


def _versus_dft(frame: pd.DataFrame, target: Target, have: np.ndarray) -> dict[str, Any]:
    """One modulus on the chosen rows: MAE, signed error, and the uncertainty's coverage."""
    dft = frame[target.dft_column].to_numpy(dtype=float)[have]
    error = np.log10(frame[target.column].to_numpy(dtype=float)[have]) - np.log10(dft)
    entry = {"n": int(have.sum()), "mae": float(np.mean(np.abs(error))),
             "mean_signed": float(np.mean(error))}  # fmt: skip
    u = frame[target.uncertainty_column].to_numpy(dtype=float)[have]
    if np.isfinite(u).all():
        c = coverage(error, u)
        entry.update(within_u=c["within_1_sigma"], within_2u=c["within_2_sigma"])
        if target.lower_column in frame and target.upper_column in frame:
            lower = frame[target.lower_column].to_numpy(dtype=float)[have]
            upper = frame[target.upper_column].to_numpy(dtype=float)[have]
            entry["within_interval"] = float(np.mean((lower <= dft) & (dft <= upper)))
    return entry


def flag_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(name): int(frame[name].fillna(False).astype(bool).sum()) for name in FLAG_COLUMNS}


def checkpoint_facts(checkpoint: dict[str, Any], card: dict[str, Any]) -> list[str]:
    """Markdown bullets of a checkpoint's held-out figures, from its model card."""
    metrics = card.get("metrics", {})
    targets = metrics.get("targets", {})
    if not targets:
        return []
    short = {t.value: t.symbol for t in Target}

    def listed(values: dict[str, float]) -> str:
        return ", ".join(f"{short.get(t, t)} {v:.4f}" for t, v in values.items())

    lines = [
        f"- `{Path(checkpoint['path']).name}`, {test_split(card)} MAE (log10 GPa): "
        + listed({t: m["test"]["mae"] for t, m in targets.items()})
        + "; without the materials also in training: "
        + listed({t: m["test_without_duplicate_materials"]["mae"] for t, m in targets.items()})
    ]
    if "five_fold" in metrics:
        mean = metrics["five_fold"]["mean"]
        lines.append(
            "- 5-fold mean test MAE (one seed per official fold): "
            + listed({t: v["test_mae"] for t, v in mean.items()})
            + "; Matbench's CGCNN v2019 on the same entries: "
            + listed({t: v["cgcnn_v2019_mae"] for t, v in mean.items() if "cgcnn_v2019_mae" in v})
        )
    if "heldout" in metrics:
        held = metrics["heldout"]
        lines.append(
            f"- Never-seen Materials Project 2023 entries ({len(held['ids'])}): MAE "
            + listed({t: held[t]["mae"] for t in targets if t in held})
            + held_coverage(held, targets, short)
        )
    coverage = {t: m["uncertainty_coverage"]["test"] for t, m in targets.items()
                if "uncertainty_coverage" in m}  # fmt: skip
    if coverage:
        lines.append(
            f"- Uncertainty on the {test_split(card)}, share within u / 2u / the 95 % interval: "
            + "; ".join(
                f"{short.get(t, t)} {c['within_1_sigma']:.0%} / {c['within_2_sigma']:.0%} / "
                f"{c['within_k95_sigma']:.0%}"
                for t, c in coverage.items()
            )
        )
    return lines


def held_coverage(held: dict[str, Any], targets: dict[str, Any], short: dict[str, str]) -> str:
    """ "; within u / the 95 % interval: …" for the never-seen entries, where the card has it."""
    shares = [
        f"{short.get(t, t)} {held[t]['coverage']['within_1_sigma']:.0%} / "
        f"{held[t]['coverage']['within_k95_sigma']:.0%}"
        for t in targets
        if t in held and "coverage" in held[t]
    ]
    return "; within u / the 95 % interval: " + ", ".join(shares) if shares else ""


def trust_section(frame: pd.DataFrame, stats: BuildStatistics, dft_source: str) -> list[str]:
    """Markdown: the checkpoints' held-out figures, predicted vs DFT and the risk flags of one
    table."""
    comparison = dft_comparison(frame)
    lines = ["### How far to trust the rows", ""]
    facts = [line for c in stats.checkpoints
             for line in checkpoint_facts(c, model_card(stats, c))]  # fmt: skip
    if facts:
        lines += [*facts, ""]
    unseen = comparison.get("not_in_training")
    if unseen:
        lines += [
            f"Predicted vs DFT ({dft_source}) on rows whose material was **not** in the "
            "checkpoints' training data, in log10 GPa; u is the row's calibrated uncertainty:",
            "",
            "| modulus | rows | MAE | mean signed error | within u | within 2u | "
            "inside the 95 % interval |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for symbol, m in unseen.items():
            shares = [
                f"{m[k]:.1%}" if k in m else ""
                for k in ("within_u", "within_2u", "within_interval")
            ]
            lines.append(
                f"| {symbol} | {m['n']} | {m['mae']:.4f} | {m['mean_signed']:+.4f} | "
                + " | ".join(shares)
                + " |"
            )
        seen = comparison.get("in_training", {})
        if seen:
            lines += [
                "",
                "On rows in training (fitted labels, not predictions) the MAE is "
                + ", ".join(f"{s} {m['mae']:.4f} (n={m['n']})" for s, m in seen.items())
                + ": `in_training` tells them apart.",
            ]
        lines.append("")
    counts = flag_counts(frame)
    lines += [
        f"Risk flags (rules in the schema's descriptions) mark, of {len(frame)} rows: "
        + ", ".join(f"`{name}` {n}" for name, n in counts.items())
        + ".",
        "",
    ]
    return lines


def test_metrics(card: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Target -> the test-split metrics of a model card ({} without one)."""
    targets = card.get("metrics", {}).get("targets", {})
    return {name: m["test"] for name, m in targets.items() if "test" in m}


def accuracy_text(card: dict[str, Any]) -> str:
    """ "; Matbench fold-0 test MAE log10_k_vrh 0.0540, log10_g_vrh 0.0760 log10 GPa"."""
    test = test_metrics(card)
    if not test:
        return ""
    listed = ", ".join(f"{name} {m['mae']:.4f}" for name, m in test.items())
    return f"; {test_split(card)} MAE {listed} log10 GPa"
