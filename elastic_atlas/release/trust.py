"""How far to trust the rows of a built table: predicted vs DFT on rows the checkpoints did
not train on, the coverage of the calibrated uncertainty there, and the rows each risk flag
marks. One source for RELEASE.md and the dataset card."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas.contract.columns import Column
from elastic_atlas.contract.physics import MAX_DFT_MODULUS
from elastic_atlas.contract.risk import FLAG_COLUMNS
from elastic_atlas.paths import contract_root

PAIRS = (
    ("B", "log10_k_vrh", Column.K_VRH, Column.K_VRH_DFT, Column.K_VRH_UNCERTAINTY),
    ("G", "log10_g_vrh", Column.G_VRH, Column.G_VRH_DFT, Column.G_VRH_UNCERTAINTY),
)


def model_card(checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """The model card of a checkpoint listed in a build summary, when it has one."""
    card = contract_root() / checkpoint["path"] / "model.json"
    return json.loads(card.read_text()) if card.is_file() else None


def k95_of(checkpoints: list[dict[str, Any]]) -> dict[str, float]:
    """Target -> the calibration's 95 % multiple of σ, from the model cards."""
    out = {}
    for checkpoint in checkpoints:
        for target in (model_card(checkpoint) or {}).get("targets", []):
            if "calibration" in target:
                out[target["name"]] = target["calibration"]["k95"]
    return out


def dft_comparison(frame: pd.DataFrame, k95: dict[str, float]) -> dict[str, Any]:
    """Predicted vs DFT (log10 GPa) on rows with DFT moduli in (0, 1000) GPa, apart for rows in
    and not in training; with the share of |error| within u, 2u and k95·u."""
    out: dict[str, Any] = {}
    if Column.K_VRH_DFT not in frame:
        return out
    known = frame[Column.IN_TRAINING].notna().to_numpy(dtype=bool)
    trained = frame[Column.IN_TRAINING].fillna(False).to_numpy(dtype=bool)
    for group, rows in (("not_in_training", known & ~trained), ("in_training", trained)):
        per_modulus = {}
        for symbol, target, column, dft, uncertainty in PAIRS:
            values = frame[dft].to_numpy(dtype=float)
            have = rows & (values > 0) & (values < MAX_DFT_MODULUS)  # sane DFT values only
            if not have.any():
                continue
            error = np.log10(frame[column].to_numpy(dtype=float)[have]) - np.log10(
                frame[dft].to_numpy(dtype=float)[have]
            )
            entry = {"n": int(have.sum()), "mae": float(np.mean(np.abs(error))),
                     "mean_signed": float(np.mean(error))}  # fmt: skip
            u = frame[uncertainty].to_numpy(dtype=float)[have]
            if np.isfinite(u).all():
                ratio = np.abs(error) / u
                entry.update(
                    within_u=float(np.mean(ratio <= 1)),
                    within_2u=float(np.mean(ratio <= 2)),
                    within_k95u=float(np.mean(ratio <= k95.get(target, 2.0))),
                )
            per_modulus[symbol] = entry
        if per_modulus:
            out[group] = per_modulus
    return out


def flag_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(name): int(frame[name].fillna(False).astype(bool).sum()) for name in FLAG_COLUMNS}


def trust_section(frame: pd.DataFrame, summary: dict[str, Any], dft_source: str) -> list[str]:
    """Markdown: predicted vs DFT and the risk flags of one table."""
    comparison = dft_comparison(frame, k95_of(summary["checkpoints"]))
    lines = ["### How far to trust the rows", ""]
    unseen = comparison.get("not_in_training")
    if unseen:
        lines += [
            f"Predicted vs DFT ({dft_source}) on rows whose material was **not** in the "
            "checkpoints' training data, in log10 GPa; u is the row's calibrated uncertainty:",
            "",
            "| modulus | rows | MAE | mean signed error | within u | within 2u | within k95·u |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for symbol, m in unseen.items():
            shares = [
                f"{m[k]:.1%}" if k in m else "" for k in ("within_u", "within_2u", "within_k95u")
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
