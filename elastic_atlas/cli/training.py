"""`train`, `freeze` and `baselines`: the checkpoints and their comparison."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from elastic_atlas.cli.app import EXIT_USAGE, handle_errors, main
from elastic_atlas.contract.targets import TARGET_NAMES, Target

TARGET_FILES = {t.value: t.stem for t in Target}  # Matbench file stems
OOF = "cgcnn_v2019_oof_predictions.json.gz"  # Matbench's CGCNN v2019 out-of-fold predictions
PROVENANCE = "matbench_elastic_subset_provenance.csv"  # Matbench id -> Materials Project id


def shared_file(*parts: str) -> Path | None:
    """A file or folder of ../shared/data when this machine has it, else None (optional)."""
    from elastic_atlas.paths import shared_data

    path = shared_data().joinpath(*parts)
    return path if path.exists() else None


@main.command()
@click.option(
    "--target",
    "targets",
    type=click.Choice(sorted(TARGET_FILES)),
    multiple=True,
    help="Target(s) of the one network; repeat for several [default: log10_k_vrh and "
    "log10_g_vrh together].",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fold", type=int, default=0, show_default=True, help="Official Matbench fold.")
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Where checkpoints and the log go; an existing run there is resumed.",
)
@click.option(
    "--matbench",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder with matbench_log_{kvrh,gvrh}_mp2018_subset.json.gz and the folds "
    "[default: ../shared/data/matbench].",
)
@click.option(
    "--width",
    type=int,
    default=64,
    show_default=True,
    help="Hidden atom features (atom_fea_len).",
)
@click.option("--n-conv", type=int, default=3, show_default=True, help="Convolution layers.")
@click.option(
    "--target-weights",
    type=str,
    default=None,
    help="Loss weight per target, comma-separated, e.g. 1,1.5 [default: equal].",
)
@click.option(
    "--loss",
    type=click.Choice(["l1", "mse"]),
    default="l1",
    show_default=True,
    help="Per normalised target: l1 (Matbench's metric is the MAE) or mse.",
)
@click.option("--max-epochs", type=int, default=300, show_default=True)
@click.option("--patience", type=int, default=40, show_default=True)
@click.option(
    "--threads",
    type=int,
    default=1,
    show_default=True,
    help="Torch threads (two 1-thread runs side by side beat one 2-thread run).",
)
@click.option(
    "--inner-fold",
    type=click.IntRange(0, 4),
    default=None,
    help="Nested cross-validation: hold out part N of 5 of the fold's training entries as the "
    "run's test (the fold's test entries are left out): honest errors on training entries, "
    "for benchmarks/bench_uncertainty_limit.py (`make inner`).",
)
@click.option(
    "--inner-split",
    type=click.Choice(["random", "chemsys"]),
    default="random",
    show_default=True,
    help="How --inner-fold cuts the parts: random entries, or whole chemical systems "
    "(leave-cluster-out: errors on new compositions, `make loco`).",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Torch device: auto (a GPU when there is one), cpu, cuda, cuda:1, ...",
)
@click.option("--quiet", is_flag=True)
@handle_errors
def train(
    targets: tuple[str, ...],
    seed: int,
    fold: int,
    run_dir: Path,
    matbench: Path | None,
    width: int,
    n_conv: int,
    target_weights: str | None,
    loss: str,
    max_epochs: int,
    patience: int,
    threads: int,
    inner_fold: int | None,
    inner_split: str,
    device: str,
    quiet: bool,
) -> None:
    """Train one CGCNN run on Matbench (resumable; a checkpoint every epoch)."""
    from pydantic import ValidationError

    from elastic_atlas.model.cgcnn import Architecture
    from elastic_atlas.paths import shared_data
    from elastic_atlas.training.train import TrainConfig, train_run

    matbench = matbench or shared_data() / "matbench"
    targets = targets or TARGET_NAMES
    datasets = [matbench / f"matbench_log_{TARGET_FILES[t]}_mp2018_subset.json.gz" for t in targets]
    folds = matbench / "matbench_v0.1_elastic_folds.json.gz"
    for path in (*datasets, folds):
        if not path.exists():
            click.echo(f"error: {path} does not exist", err=True)
            sys.exit(EXIT_USAGE)
    try:
        weights = [float(v) for v in target_weights.split(",")] if target_weights else None
    except ValueError:
        click.echo(f"error: --target-weights {target_weights!r} is not numbers", err=True)
        sys.exit(EXIT_USAGE)
    try:
        config = TrainConfig(
            targets=list(targets),
            datasets=datasets,
            target_weights=weights,
            architecture=Architecture(atom_feature_length=91, atom_fea_len=width, n_conv=n_conv),
            seed=seed,
            fold=fold,
            inner_fold=inner_fold,
            inner_split=inner_split,
            folds=folds,
            loss=loss,
            max_epochs=max_epochs,
            patience=patience,
            threads=threads,
            device=device,
        )
    except ValidationError as error:  # e.g. --target-weights with the wrong count
        click.echo(f"error: {error.errors()[0]['msg']}", err=True)
        sys.exit(EXIT_USAGE)
    best = train_run(config, run_dir, quiet=quiet)
    click.echo(f"best weights: {best}")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Model folder to write, e.g. models/cgcnn3x64-matbench-2026-11-25-kg.",
)
@click.option(
    "--oof",
    type=click.Path(path_type=Path),
    default=None,
    help="Matbench CGCNN v2019 out-of-fold predictions to compare with.",
)
@click.option(
    "--folds-report",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="`elastic-atlas folds` output whose 5-fold figure joins the model card.",
)
@handle_errors
def freeze(
    runs: tuple[Path, ...], output: Path, oof: Path | None, folds_report: Path | None
) -> None:
    """Freeze training runs (seeds of one configuration) into an own-format ensemble checkpoint,
    with its calibrated uncertainty, metrics and model card."""
    from elastic_atlas.training.evaluate import SPLITS
    from elastic_atlas.training.freeze import freeze_runs

    heldout = shared_file("mp_elastic", "mp2023_elastic")
    result = freeze_runs(
        list(runs),
        output,
        oof or shared_file("matbench", OOF),
        shared_file("matbench", PROVENANCE),
        heldout if heldout and (heldout / "elastic.csv").exists() else None,
        folds_report,
    )
    for target, m in result["targets"].items():
        for split in SPLITS:
            click.echo(
                f"{target} {split:<10} MAE {m[split]['mae']:.4f} R2 {m[split]['r2']:.3f} "
                f"n={m[split]['n']}"
            )
        clean = m["test_without_duplicate_materials"]
        click.echo(f"{target} test without duplicate materials MAE {clean['mae']:.4f}")
        if "cgcnn_v2019_same_test_entries" in m:
            ref = m["cgcnn_v2019_same_test_entries"]
            click.echo(f"{target} CGCNN v2019 on the same test entries MAE {ref['mae']:.4f}")
        if "uncertainty_coverage" in m:
            cov = m["uncertainty_coverage"]["test"]
            click.echo(
                f"{target} test |error| within sigma {cov['within_1_sigma']:.1%}, "
                f"within 2 sigma {cov['within_2_sigma']:.1%}"
            )
    for target, m in result.get("heldout", {}).items():
        if isinstance(m, dict) and "mae" in m:
            click.echo(f"{target} never-seen MP-2023 entries MAE {m['mae']:.4f} (n={m['n']})")
    click.echo(f"wrote {output}")


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--leave-out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Leave-chemical-system-out predictions of the checkpoint's training entries "
    "(benchmarks/results/loco_heldout.csv: `make loco`, then benchmarks/export_heldout.py).",
)
@click.option(
    "--weight",
    type=float,
    default=0.35,
    show_default=True,
    help="Share of the leave-out errors in the calibration (the rest: validation errors).",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path),
    help="New model folder to write (never an existing one).",
)  # fmt: skip
@handle_errors
def calibrate(checkpoint: Path, leave_out: Path, weight: float, output: Path) -> None:
    """Re-calibrate a frozen checkpoint for new materials: same weights, σ and 95 % factor
    per group of rows, fitted on validation and leave-chemical-system-out errors."""
    from elastic_atlas.errors import OutputError, TrainingError
    from elastic_atlas.training.recalibrate import recalibrate

    if output.exists() or output.is_symlink():
        raise OutputError(f"{output} exists: give a new folder for the re-calibrated checkpoint")
    matbench = shared_file("matbench")
    if matbench is None:
        raise TrainingError("calibrate needs the Matbench files of ../shared/data/matbench")
    heldout = shared_file("mp_elastic", "mp2023_elastic")
    if heldout is not None and not (heldout / "elastic.csv").exists():
        heldout = None
    try:
        metrics = recalibrate(checkpoint, output, leave_out, weight, matbench, heldout)
    except ValueError as error:
        raise TrainingError(str(error)) from None
    for target, m in metrics["targets"].items():
        cov = m["uncertainty_coverage"]["test"]
        click.echo(
            f"{target} test |error| within sigma {cov['within_1_sigma']:.1%}, within the 95 % "
            f"interval {cov['within_k95_sigma']:.1%}"
        )
    click.echo(f"wrote {output}")


def _v2019(m: dict) -> str:
    return f", CGCNN v2019 {m['cgcnn_v2019_mae']:.4f}" if "cgcnn_v2019_mae" in m else ""


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("benchmarks/results/folds.json"),
    show_default=True,
)
@handle_errors
def folds(runs: tuple[Path, ...], output: Path) -> None:
    """The 5-fold figure: one run per Matbench fold, test MAE per fold and its mean, next to
    Matbench's CGCNN v2019 on the same entries."""
    import json

    from elastic_atlas.training.folds import fold_report

    report = fold_report(
        list(runs), shared_file("matbench", OOF), shared_file("matbench", PROVENANCE)
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    for fold, per_target in report["folds"].items():
        for target, m in per_target.items():
            click.echo(f"fold {fold} {target}: test MAE {m['test_mae']:.4f}{_v2019(m)}")
    for target, m in report["mean"].items():
        click.echo(f"{report['n_folds']}-fold mean {target}: {m['test_mae']:.4f}{_v2019(m)}")
    click.echo(f"wrote {output}")


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("benchmarks/results"),
    show_default=True,
)
@click.option(
    "--models",
    "model_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Frozen CGCNN model folders whose metrics join the table.",
)
@handle_errors
def baselines(output: Path, model_dirs: tuple[Path, ...]) -> None:
    """The study's Fig. 2 baselines on six descriptors, same fold-0 split as CGCNN."""
    import json

    import pandas as pd

    from elastic_atlas.paths import shared_data
    from elastic_atlas.training.baselines import plot_baselines, run_baselines
    from elastic_atlas.training.train import TrainConfig

    matbench = shared_data() / "matbench"
    folds = matbench / "matbench_v0.1_elastic_folds.json.gz"
    tables = []
    for target, stem in TARGET_FILES.items():
        dataset = matbench / f"matbench_log_{stem}_mp2018_subset.json.gz"
        config = TrainConfig(targets=[target], datasets=[dataset], folds=folds)
        tables.append(run_baselines(config))
    for folder in model_dirs:
        card = json.loads((folder / "model.json").read_text())
        rows = [
            {"target": target, "model": f"CGCNN ({folder.name})", "split": split,
             "mae": m[split]["mae"], "r2": m[split]["r2"], "n": m[split]["n"]}
            for target, m in card["metrics"]["targets"].items()
            for split in ("train", "validation", "test")
        ]  # fmt: skip
        tables.append(pd.DataFrame(rows))
    table = pd.concat(tables, ignore_index=True)
    output.mkdir(parents=True, exist_ok=True)
    table.to_csv(output / "baselines.csv", index=False, float_format="%.4f")
    plot_baselines(table, output / "baselines.png")
    click.echo(
        table.pivot_table(index=["target", "model"], columns="split", values="mae").to_string(
            float_format=lambda v: f"{v:.4f}"
        )
    )
