"""The model card's human half: README.md and the parity plots of a frozen checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from elastic_atlas.training.metrics import SPLITS, metrics


def plot_parity(path: Path, points: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]) -> None:
    """Predicted vs DFT: one row per target, one column per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(target for target, _ in points))
    fig, axes = plt.subplots(
        len(targets), len(SPLITS), figsize=(12, 4 * len(targets)), squeeze=False
    )
    for (target, name), (observed, predicted) in points.items():
        ax = axes[targets.index(target), SPLITS.index(name)]
        ax.scatter(observed, predicted, s=4, alpha=0.4, rasterized=True)
        low = float(min(observed.min(), predicted.min()))
        high = float(max(observed.max(), predicted.max()))
        ax.plot([low, high], [low, high], color="black", lw=0.8)
        m = metrics(predicted, observed)
        ax.set_title(f"{name}: MAE {m['mae']:.4f}, R² {m['r2']:.3f} (n={m['n']})", fontsize=10)
        ax.set_xlabel(f"DFT {target} (log10 GPa)")
        ax.set_ylabel(f"CGCNN {target} (log10 GPa)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def write_model_readme(folder: Path, card: dict[str, Any]) -> None:
    """README.md of a checkpoint folder: the model card in prose and tables, one section each."""
    names = [target["name"] for target in card["targets"]]
    sections = [
        _overview(folder, card, names),
        _metrics(card["metrics"], names),
        _five_folds(card["metrics"]),
        _heldout(card["metrics"], names),
        _uncertainty(card),
        _risk_flags(card["metrics"], names),
        _files(folder, card),
    ]
    (folder / "README.md").write_text("\n".join(line for s in sections for line in s) + "\n")


def _overview(folder: Path, card: dict[str, Any], names: list[str]) -> list[str]:
    t = card["training"]
    return [
        f"# {folder.name}",
        "",
        f"CGCNN ensemble of {len(card['members'])} member(s); one network predicts "
        + " and ".join(f"`{name}`" for name in names)
        + f" ({card['targets'][0]['unit']}). Trained by elastic-atlas {card['code_version']} "
        f"on {card['created']}.",
        "",
        "## Training data",
        f"- {', '.join(f'`{d}`' for d in t['datasets'])}: {t['dataset_description']}; "
        f"tasks {', '.join(f'`{x}`' for x in t['tasks'])} (the same entries, joined by row).",
        f"- Official Matbench fold {t['fold']} (`{t['folds']}`): trained only on the fold's "
        f"training entries; validation = {t['validation']}.",
        f"- Split sizes: train {t['split_sizes']['train']}, validation "
        f"{t['split_sizes']['validation']}, test {t['split_sizes']['test']}; every entry with "
        f"its Materials Project id and split in `{t['ids']['file']}`.",
        f"- {t['optimizer']}; loss {t['loss']} with target weights {t['target_weights']}; "
        f"batch {t['batch_size']}.",
        "- Members: "
        + "; ".join(
            f"seed {x['seed']} best epoch {x['best_epoch']} of {x['epochs_run']} "
            f"(val MAE {x['best_validation_mae']:.4f})"
            for x in t["members"]
        ),
    ]


def _metrics(m: dict[str, Any], names: list[str]) -> list[str]:
    lines = [
        "",
        "## Metrics (log10 GPa)",
        "",
        "| target | split | MAE | R² | n |",
        "|---|---|---:|---:|---:|",
    ]
    for name in names:
        mt = m["targets"][name]
        lines += [f"| {name} | {s} | {mt[s]['mae']:.4f} | {mt[s]['r2']:.3f} | {mt[s]['n']} |"
                  for s in SPLITS]  # fmt: skip
        clean = mt["test_without_duplicate_materials"]
        lines.append(
            f"| {name} | test without the {len(clean['left_out'])} materials also in training | "
            f"{clean['mae']:.4f} | {clean['r2']:.3f} | {clean['n']} |"
        )
        if "members_test_mae" in mt:
            lines.append(
                f"| {name} | test, each member alone | "
                + ", ".join(f"{v:.4f}" for v in mt["members_test_mae"])
                + " | | |"
            )
        if "cgcnn_v2019_same_test_entries" in mt:
            ref = mt["cgcnn_v2019_same_test_entries"]
            lines.append(
                f"| {name} | Matbench CGCNN v2019, same test entries | {ref['mae']:.4f} | "
                f"{ref['r2']:.3f} | {ref['n']} |"
            )
    return lines


def _five_folds(m: dict[str, Any]) -> list[str]:
    if "five_fold" not in m:
        return []
    lines = ["", "## Five folds (one seed per official Matbench fold, same architecture)", ""]
    lines += [
        f"- {target}: mean test MAE {v['test_mae']:.4f}"
        + (f" (Matbench CGCNN v2019 on the same entries {v['cgcnn_v2019_mae']:.4f})"
           if "cgcnn_v2019_mae" in v else "")
        for target, v in m["five_fold"]["mean"].items()
    ]  # fmt: skip
    return lines


def _heldout(m: dict[str, Any], names: list[str]) -> list[str]:
    if "heldout" not in m:
        return []
    h = m["heldout"]
    lines = ["", f"## Never seen: {h['source']}", ""]
    lines += ["| target | n | MAE | mean signed error | within σ | within 2σ | "
              "within the 95 % interval |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name in names:
        v, c = h[name], h[name].get("coverage", {})
        lines.append(
            f"| {name} | {v['n']} | {v['mae']:.4f} | {v['mean_signed']:+.4f} | "
            + " | ".join(f"{c[k]:.1%}" if k in c else "" for k in
                         ("within_1_sigma", "within_2_sigma", "within_k95_sigma"))
            + " |"
        )  # fmt: skip
    return lines


def _uncertainty(card: dict[str, Any]) -> list[str]:
    m = card["metrics"]
    lines = [
        "",
        "## Uncertainty",
        "",
        "The standard uncertainty of a prediction starts from σ = √(a² + (b·s)²) in log10 GPa, "
        "with s the members' standard deviation; a and b were fitted on the validation entries "
        "(which no member trained on) so that 68.27 % of their |errors| are ≤ σ, with b bringing "
        "the share within 2σ as close to 95.45 % as it goes. The errors have heavier tails than "
        "a normal distribution, so 2σ covers less than 95 %: ±k95·σ is the 95 % interval. The "
        "test entries measure it. The 2σ ceiling is the most 2σ could hold were σ stretched "
        "until it holds 73 % (the top of 68 ± 5 %): below 92 %, no rescaling of σ meets "
        "68 ± 5 % and 95 ± 3 % together on those entries.",
        *_groups_text(card),
        "",
        "| target | a | b | k95 | split | within σ | within 2σ | within the 95 % interval | "
        "2σ ceiling | n |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for target in card["targets"]:
        c = target["calibration"]
        for split, cov in m["targets"][target["name"]]["uncertainty_coverage"].items():
            lines.append(
                f"| {target['name']} | {c['a']:.4f} | {c['b']:.2f} | {c['k95']:.2f} | {split} | "
                f"{cov['within_1_sigma']:.1%} | {cov['within_2_sigma']:.1%} | "
                f"{cov['within_k95_sigma']:.1%} | "
                f"{cov.get('two_sigma_ceiling', float('nan')):.1%} | {cov['n']} |"
            )
    return lines + _conditional_lines(card)


def _conditional_lines(card: dict[str, Any]) -> list[str]:
    """Per target and split: within σ per tercile of σ and Spearman(σ, |error|), where the
    card has them (checkpoints evaluated since issue 20)."""
    rows = [(target, split, cov) for target, m in card["metrics"]["targets"].items()
            for split, cov in m.get("uncertainty_coverage", {}).items()
            if "within_1_sigma_per_tercile" in cov]  # fmt: skip
    if not rows:
        return []
    lines = ["", "| target | split | within σ, terciles of σ (low / mid / high) | "
             "Spearman(σ, \\|error\\|) |", "|---|---|---|---:|"]  # fmt: skip
    for target, split, cov in rows:
        shares = " / ".join("–" if x is None else f"{x:.1%}"
                            for x in cov["within_1_sigma_per_tercile"])  # fmt: skip
        rho = cov["spearman_sigma_abs_error"]
        lines.append(f"| {target} | {split} | {shares} | {'–' if rho is None else f'{rho:.3f}'} |")
    return lines


def _scale_text(source: dict[str, Any]) -> str:
    """How the leave-out errors were scaled, where they were (issue 20)."""
    scale = source.get("leave_out_error_scale")
    if not scale:
        return ""
    shown = ", ".join(f"{name} {value:.3f}" for name, value in scale.items())
    return (
        " A leave-out error is one network's, while the checkpoint publishes its members' mean: "
        "each was multiplied by the ensemble-to-member ratio of the 68.27th-percentile |error| "
        f"on the validation entries ({shown}) before the quantiles were taken."
    )


def _groups_text(card: dict[str, Any]) -> list[str]:
    """The grouped (Mondrian) calibration, where the card has one: how it was fitted and each
    group's multiplier and 95 % factor."""
    grouped = [t for t in card["targets"] if t.get("calibration", {}).get("groups")]
    if not grouped:
        return []
    source = card.get("training", {}).get("calibration", {})
    weight = grouped[0]["calibration"]["groups"]["leave_out_weight"]
    lines = [
        "",
        "This checkpoint's σ is that base σ times a multiplier per group of rows — the tercile "
        "band of the base σ on the validation entries, crossed with a predicted bulk modulus "
        "below the soft threshold — and each group has its own 95 % factor k "
        "(`model/calibration.py`). Both are the group's weighted 68.27 % and 95.45 % quantiles of "
        "|error| / base σ over a mixture of the validation entries' errors and of "
        f"leave-chemical-system-out errors of the training entries (weight {weight:.0%}; "
        f"{source.get('leave_out_entries', '?')} entries predicted by "
        f"{len(source.get('leave_out_runs', []))} runs that never saw their chemical system), so "
        "that the coverage holds per group and for crystals of new chemical systems. The k95 "
        "column below is the one factor that would hold 95.45 % of that mixture; the release's "
        "95 % interval columns use each row's group factor." + _scale_text(source),
        "",
        "| target | base σ band (log10 GPa) | predicted soft | multiplier | 95 % factor |",
        "|---|---|---|---:|---:|",
    ]
    for target in grouped:
        g = target["calibration"]["groups"]
        bounds = [0.0, *g["edges"], float("inf")]
        soft = [False, True] if g["soft_bulk_modulus"] is not None else [False]
        for index, (m, k) in enumerate(zip(g["multipliers"], g["coverage_factors"], strict=True)):
            band = index // len(soft)
            low, high = bounds[band], bounds[band + 1]
            shown = f"{low:.4f}–{high:.4f}"
            if band == 0:
                shown = f"< {high:.4f}"
            elif high == float("inf"):
                shown = f"≥ {low:.4f}"
            lines.append(
                f"| {target['name']} | {shown} | {'yes' if soft[index % len(soft)] else 'no'} | "
                f"{m:.3f} | {k:.2f} |"
            )
    return lines


def _risk_flags(m: dict[str, Any], names: list[str]) -> list[str]:
    if "risk_flags_test" not in m:
        return []
    caught = " | ".join(f"worst 5 % of {n} caught" for n in names)
    lines = [
        "",
        "## Risk flags on the test entries (rules: `elastic_atlas/contract/risk.py`)",
        "",
        f"| flag | rows marked | {caught} |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for flag, r in m["risk_flags_test"].items():
        lines.append(
            f"| `{flag}` | {r['rows_marked']:.1%} | "
            + " | ".join(f"{r[f'{n} worst 5% caught']:.0%}" for n in names) + " |"
        )  # fmt: skip
    return lines


def _files(folder: Path, card: dict[str, Any]) -> list[str]:
    t = card["training"]
    return [
        "",
        "## Files",
        *[f"- `{e['file']}` sha256 `{e['sha256']}`" for e in card["members"]],
        f"- `{card['atom_features']['file']}` sha256 `{card['atom_features']['sha256']}` "
        f"({card['atom_features']['source']})",
        f"- `{t['ids']['file']}` sha256 `{t['ids']['sha256']}`: mbid, material_id, split.",
        "- `model.json`: the model card (architecture, graph parameters, normalisers, "
        "calibration, provenance, metrics).",
        "- `parity.png`: predicted vs DFT on train, validation and test, per target.",
        "- `training-log-seed<k>.csv`: per-epoch losses, validation MAE, learning rate.",
        "",
        f"Use: `elastic-atlas predict --checkpoint models/{folder.name} SOURCE -o OUT.csv`.",
        "Weights: CC-BY-4.0 (trained on Materials Project data via Matbench).",
    ]
