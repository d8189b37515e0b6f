"""The `elastic-atlas` command line: one sub-command per user-facing stage."""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from elastic_atlas import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _usage_errors() -> tuple[type[Exception], ...]:
    """Library errors that mean bad input or usage: one line, exit 2, never a traceback."""
    from elastic_atlas.contract.licences import LicenceError
    from elastic_atlas.inputs.recipe import RecipeError
    from elastic_atlas.inputs.sources import SourceError
    from elastic_atlas.model.checkpoint import CheckpointError
    from elastic_atlas.validation.package import PackageError
    from elastic_atlas.validation.tableio import TableReadError

    return (
        SourceError, CheckpointError, PackageError, TableReadError, LicenceError, RecipeError,
        OSError,  # unwritable or read-only folders, a full disk: the message names the path
    )  # fmt: skip


def handle_errors(command: Callable[..., None]) -> Callable[..., None]:
    """The one map from library errors to exit codes, shared by every command."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from elastic_atlas.release.assemble import ReleaseError

        try:
            command(*args, **kwargs)
        except ReleaseError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_FINDINGS)
        except Exception as error:
            if not isinstance(error, _usage_errors()):
                raise
            click.echo(f"error: {_one_line(error)}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return " ".join(str(error).split())


def positive_tolerance(
    ctx: click.Context, param: click.Parameter, value: float | None
) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} is not a finite positive number")
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="elastic-atlas")
def main() -> None:
    """Regenerate, validate and publish the MPED / NED elastic-moduli tables."""


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    type=float,
    default=None,
    metavar="REL",
    callback=positive_tolerance,
    help="Relative tolerance of the consistency rules [default: validate/settings.json].",
)
@click.option(
    "--strict", is_flag=True, help="Tolerance 1e-9, for the project's own unrounded output."
)
@click.option(
    "--columns",
    "column_names",
    type=click.Choice(["project", "paper"]),
    default="project",
    show_default=True,
    help="'paper' reads the study's appendix headers (ID-number, N, rho, B, G, nu, ...).",
)
@click.option(
    "--schema",
    "schema_name",
    type=click.Choice(["mped", "ned"]),
    default=None,
    help="Check a bare table (or every table of a package) against this table's contract.",
)
@click.option(
    "--json",
    "json_report",
    type=click.Path(path_type=Path),
    default=None,
    metavar="REPORT",
    help="Also write all findings as JSON to REPORT.",
)
@click.option(
    "--examples",
    type=int,
    default=5,
    show_default=True,
    help="Offending rows shown per check in the summary.",
)
@handle_errors
def validate(
    path: Path,
    tolerance: float | None,
    strict: bool,
    column_names: str,
    schema_name: str | None,
    json_report: Path | None,
    examples: int,
) -> None:
    """Check a CSV/Parquet table or a datapackage.json against schema and physics.

    Exit status: 0 no error finding, 1 error findings, 2 unreadable input or bad usage.
    """
    from elastic_atlas.contract.schema import load_table_schema
    from elastic_atlas.validation.package import (
        PAPER_COLUMNS,
        is_package,
        summarize,
        validate_package,
        validate_table_file,
    )
    from elastic_atlas.validation.rules import ValidationSettings, findings_json

    if not path.is_file():
        raise click.BadParameter(f"{path} is not a file", param_hint="PATH")
    if json_report and not json_report.parent.is_dir():
        raise click.BadParameter(f"folder {json_report.parent} does not exist", param_hint="--json")
    settings = ValidationSettings.load()
    if tolerance is None:
        tolerance = settings.strict_tolerance.value if strict else settings.tolerance.value
    rename = PAPER_COLUMNS if column_names == "paper" else None
    if is_package(path):
        findings = validate_package(
            path, tolerance=tolerance, settings=settings, schema_name=schema_name
        )
    else:
        schema = load_table_schema(schema_name) if schema_name else None
        findings = validate_table_file(
            path, tolerance=tolerance, settings=settings, schema=schema, rename=rename
        )
    click.echo(f"{path}: checked with relative tolerance {tolerance:g}")
    click.echo(summarize(findings, examples), nl=False)
    if json_report:
        json_report.write_text(findings_json(findings), encoding="utf-8")
    errors = any(f.severity == "error" for f in findings)
    click.echo("INVALID" if errors else "VALID")
    sys.exit(EXIT_FINDINGS if errors else EXIT_OK)


@main.command("schema")
@click.option(
    "--write",
    is_flag=True,
    help="Rewrite schema/<table>.schema.json from fields.json and validate/checklist.json.",
)
@handle_errors
def schema_command(write: bool) -> None:
    """Check (or rewrite) the composed table schemas and the frictionless checklist."""
    from elastic_atlas.contract.checklist import checklist_is_stale, write_checklist
    from elastic_atlas.contract.schema import stale_table_schemas, write_table_schemas
    from elastic_atlas.paths import is_source_checkout

    if write and not is_source_checkout():
        raise click.UsageError("--write regenerates the repository's files: run it in a clone")
    if write:
        for path in [*write_table_schemas(), write_checklist()]:
            click.echo(f"wrote {path}")
        return
    stale = stale_table_schemas() + (["validate/checklist.json"] if checklist_is_stale() else [])
    if stale:
        click.echo(f"stale: {', '.join(stale)} (run `elastic-atlas schema --write`)", err=True)
        sys.exit(EXIT_FINDINGS)
    click.echo("schemas and checklist are in step with schema/fields.json and physics.py")


@main.command()
@click.option(
    "--checkpoint",
    "checkpoint_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A reference CGCNN .pth.tar or an own model folder; repeat for several "
    "[default: the packaged bulk and shear checkpoints].",
)
@click.option(
    "--atom-init",
    type=click.Path(path_type=Path),
    default=None,
    help="atom_init.json of a reference checkpoint.",
)
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="OUT.csv; rejected structures go to OUT.rejects.csv.",
)
@click.option(
    "--workers",
    type=int,
    default=2,
    show_default=True,
    help="Processes that parse CIFs, build graphs and (on CPU) run the model (0: in this process).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Structures per inference batch [default: 32 on CPU, 256 on a GPU].",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def predict(
    checkpoint_paths: tuple[Path, ...],
    atom_init: Path | None,
    source: Path,
    output: Path,
    workers: int,
    batch_size: int | None,
    quiet: bool,
) -> None:
    """Predict with CGCNN checkpoints for SOURCE: a CIF file, a folder or a zip of CIFs."""
    from elastic_atlas.inputs.recipe import default_models
    from elastic_atlas.model.checkpoint import default_device, load_checkpoint
    from elastic_atlas.pipeline.predict_job import PredictOptions, check_output, run_predict

    check_output(source, output)
    paths = list(checkpoint_paths) or list(default_models().values())
    checkpoints = [load_checkpoint(p, atom_init).to(default_device()) for p in paths]
    targets = [t for c in checkpoints for t in c.target_names]
    if len(set(targets)) != len(targets):
        raise click.UsageError(f"the checkpoints predict the same target twice: {targets}")
    counts = run_predict(checkpoints, source, output, PredictOptions(workers, batch_size, quiet))
    click.echo(
        f"{counts['inputs']} inputs = {counts['predicted']} predicted + "
        f"{counts['rejected']} rejected -> {output}"
    )


@main.command()
@click.argument(
    "recipe_path",
    metavar="[RECIPE.toml]",
    required=False,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
)
@click.option(
    "--structures",
    type=click.Path(path_type=Path),
    default=None,
    help="CIF file, folder or zip; replaces the recipe's structure sources.",
)
@click.option(
    "--summary",
    type=click.Path(path_type=Path),
    default=None,
    help="Summary CSV (Materials Project or GNoME columns) joined on the id.",
)
@click.option("--no-summary", is_flag=True, help="Ignore the recipe's summary CSV.")
@click.option("--bulk-checkpoint", type=click.Path(path_type=Path), default=None)
@click.option("--shear-checkpoint", type=click.Path(path_type=Path), default=None)
@click.option(
    "--atom-init",
    type=click.Path(path_type=Path),
    default=None,
    help="atom_init.json, for reference CGCNN checkpoints.",
)
@click.option(
    "--gap-policy",
    type=click.Choice(["exclude", "include"]),
    default=None,
    help="What to do with a structure whose band gap is unknown.",
)
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--quiet", is_flag=True)
@handle_errors
def build(
    recipe_path: Path | None,
    structures: Path | None,
    summary: Path | None,
    no_summary: bool,
    bulk_checkpoint: Path | None,
    shear_checkpoint: Path | None,
    atom_init: Path | None,
    gap_policy: str | None,
    workers: int,
    output: Path,
    quiet: bool,
) -> None:
    """Build one table (MPED or NED) from a recipe [default: build/sample.toml].

    Writes OUT/<table>.csv, OUT/<table>.parquet, OUT/rejects.csv and OUT/summary.json.
    """
    from elastic_atlas.inputs.recipe import StructureSource, SummarySource, load_recipe
    from elastic_atlas.paths import contract_root
    from elastic_atlas.pipeline.run import (
        RunOptions,
        build_table,
        check_build_output,
        literature_comparison,
    )

    check_build_output(output)
    recipe = load_recipe(recipe_path or contract_root() / "build" / "sample.toml")
    if structures:
        licence = recipe.structures[0].licence if recipe.structures else "unknown"
        recipe.structures = [
            StructureSource(path=structures, source=structures.name, licence=licence)
        ]
    if summary:
        recipe.summary = SummarySource(path=summary)
    if no_summary:
        recipe.summary = None
    if bulk_checkpoint:
        recipe.models.bulk = bulk_checkpoint
    if shear_checkpoint:
        recipe.models.shear = shear_checkpoint
    if atom_init:
        recipe.models.atom_init = atom_init
    if gap_policy:
        recipe.screen.gap_policy = gap_policy  # type: ignore[assignment]
    built = build_table(recipe, output, RunOptions(workers=workers, quiet=quiet))
    result = built.summary
    click.echo(
        f"{result['table']}: {result['inputs']} inputs = {result['accepted']} accepted + "
        f"{sum(result['screened_out'].values())} screened out + "
        f"{sum(result['rejected'].values())} rejected in {result['seconds']} s"
    )
    click.echo(f"  screened out: {result['screened_out'] or 'none'}")
    click.echo(f"  rejected:     {result['rejected'] or 'none'}")
    symmetry = result["symmetry_check"]
    if symmetry["checked"]:
        click.echo(
            f"  symmetry: {symmetry['checked']} summary space groups checked against the "
            f"structure, {symmetry['disagree']} disagree"
            + (f" (e.g. {', '.join(symmetry['examples'])})" if symmetry["disagree"] else "")
        )
    if result["gap_policy"] == "include":
        click.echo(f"  gap policy include: {result['band_gap_null_rows']} rows have no band gap")
    if recipe.literature and recipe.literature.exists():
        import pandas as pd

        comparison = literature_comparison(built.frame, pd.read_csv(recipe.literature))
        click.echo("  predicted vs literature (GPa):")
        click.echo(comparison.to_string(index=False, float_format=lambda v: f"{v:.1f}"))


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write [default: build/sample of the clone].",
)
@handle_errors
def sample(output: Path | None) -> None:
    """(Re)generate the embedded sample crystals from their crystallographic facts."""
    from elastic_atlas.inputs.sample import write_sample
    from elastic_atlas.paths import is_source_checkout, repo_root

    if output is None and not is_source_checkout():
        raise click.UsageError("give the folder to write with -o DIR (this is not a clone)")
    written = write_sample(output or repo_root() / "build" / "sample")
    click.echo(f"wrote {len(written)} files")


@main.command()
@click.option(
    "--version",
    "version",
    default=None,
    help="Release version X.Y.Z[-pre][+build] [default: 0.1.0+sample for the sample].",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="ELASTIC_ATLAS_RELEASE",
    help="Release config [default: $ELASTIC_ATLAS_RELEASE or build/release-sample.toml].",
)
@click.option(
    "--releases",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of releases [default: releases/ of the clone, else of the current folder].",
)
@click.option("--force", is_flag=True, help="Rebuild an existing draft (pre-release) version.")
@click.option("--workers", type=int, default=2, show_default=True)
@click.option("--quiet", is_flag=True)
@handle_errors
def release(
    version: str | None,
    config_path: Path | None,
    releases: Path | None,
    force: bool,
    workers: int,
    quiet: bool,
) -> None:
    """Build, validate and package releases/<version>/ (atomic; never overwrites a version)."""
    from elastic_atlas.paths import contract_root, default_releases, is_source_checkout
    from elastic_atlas.release.assemble import build_release, load_config

    config_path = config_path or contract_root() / "build" / "release-sample.toml"
    config, _ = load_config(config_path)
    version = version or ("0.1.0+sample" if config.sample else None)
    if version is None:
        click.echo("error: --version is required for a real release", err=True)
        sys.exit(EXIT_USAGE)
    target = build_release(
        config_path,
        version,
        releases or default_releases(),
        force=force,
        workers=workers,
        quiet=quiet,
        # the root datapackage.json beside releases/ belongs to a clone's own releases folder
        root_descriptor=releases is None and is_source_checkout(),
    )
    click.echo(f"release {version}: {target}")


TARGET_FILES = {"log10_k_vrh": "kvrh", "log10_g_vrh": "gvrh"}


@main.command()
@click.option("--target", type=click.Choice(sorted(TARGET_FILES)), required=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fold", type=int, default=0, show_default=True, help="Official Matbench fold.")
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Where checkpoints and the log go; an existing run there is resumed.",
)
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    default=None,
    help="Matbench-layout dataset [default: ../shared/data/matbench subset].",
)
@click.option(
    "--folds",
    type=click.Path(path_type=Path),
    default=None,
    help="matbench_v0.1 folds JSON [default: ../shared/data/matbench].",
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
@click.option("--quiet", is_flag=True)
@handle_errors
def train(
    target: str,
    seed: int,
    fold: int,
    run_dir: Path,
    dataset: Path | None,
    folds: Path | None,
    max_epochs: int,
    patience: int,
    threads: int,
    quiet: bool,
) -> None:
    """Train one CGCNN run on Matbench (resumable; a checkpoint every epoch)."""
    from elastic_atlas.paths import shared_data
    from elastic_atlas.training.train import TrainConfig, train_run

    matbench = shared_data() / "matbench"
    dataset = dataset or matbench / f"matbench_log_{TARGET_FILES[target]}_mp2018_subset.json.gz"
    folds = folds or matbench / "matbench_v0.1_elastic_folds.json.gz"
    for path in (dataset, folds):
        if not path.exists():
            click.echo(f"error: {path} does not exist", err=True)
            sys.exit(EXIT_USAGE)
    config = TrainConfig(
        target=target,
        seed=seed,
        fold=fold,
        dataset=dataset,
        folds=folds,
        max_epochs=max_epochs,
        patience=patience,
        threads=threads,
    )
    best = train_run(config, run_dir, quiet=quiet)
    click.echo(f"best weights: {best}")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Model folder to write, e.g. models/cgcnn3x64-matbench-2026-11-25-kvrh.",
)
@click.option(
    "--oof",
    type=click.Path(path_type=Path),
    default=None,
    help="Matbench CGCNN v2019 out-of-fold predictions to compare with.",
)
@handle_errors
def freeze(runs: tuple[Path, ...], output: Path, oof: Path | None) -> None:
    """Freeze training runs (seeds of one target) into an own-format ensemble checkpoint."""
    from elastic_atlas.paths import shared_data
    from elastic_atlas.training.freeze import freeze_runs

    default_oof = shared_data() / "matbench" / "cgcnn_v2019_oof_predictions.json.gz"
    oof = oof or (default_oof if default_oof.exists() else None)
    result = freeze_runs(list(runs), output, oof)
    for split in ("train", "validation", "test"):
        m = result[split]
        click.echo(f"{split:<10} MAE {m['mae']:.4f} R2 {m['r2']:.3f} n={m['n']}")
    if "cgcnn_v2019_same_test_entries" in result:
        click.echo(
            f"CGCNN v2019 on the same test entries: MAE "
            f"{result['cgcnn_v2019_same_test_entries']['mae']:.4f}"
        )
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
        tables.append(run_baselines(TrainConfig(target=target, dataset=dataset, folds=folds)))
    for folder in model_dirs:
        card = json.loads((folder / "model.json").read_text())
        for split in ("train", "validation", "test"):
            m = card["metrics"][split]
            tables.append(
                pd.DataFrame(
                    [
                        {
                            "target": card["targets"][0]["name"],
                            "model": f"CGCNN ({folder.name})",
                            "split": split,
                            "mae": m["mae"],
                            "r2": m["r2"],
                            "n": m["n"],
                        }
                    ]
                )
            )
    table = pd.concat(tables, ignore_index=True)
    output.mkdir(parents=True, exist_ok=True)
    table.to_csv(output / "baselines.csv", index=False, float_format="%.4f")
    plot_baselines(table, output / "baselines.png")
    click.echo(
        table.pivot_table(index=["target", "model"], columns="split", values="mae").to_string(
            float_format=lambda v: f"{v:.4f}"
        )
    )


if __name__ == "__main__":
    main()
