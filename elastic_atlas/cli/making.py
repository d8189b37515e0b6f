"""`predict`, `build` and `sample`: from structures to predictions and tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from elastic_atlas.pipeline.records import BuildStatistics

from elastic_atlas.cli.app import engine_options, handle_errors, main, run_options


@main.command()
@click.option(
    "--checkpoint",
    "checkpoint_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A reference CGCNN .pth.tar or an own model folder; repeat for several "
    "[default: the packaged checkpoint, one network for K and G].",
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
    help="OUT.csv; rejected structures go to OUT.rejects.csv. `-`: predictions to standard "
    "output, rejects (CSV) to standard error. Never a link, a FIFO, an input or a release file.",
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
    from elastic_atlas.inputs.recipe import default_checkpoint
    from elastic_atlas.model.checkpoint import default_device
    from elastic_atlas.model.loading import load_checkpoint
    from elastic_atlas.pipeline.driver import RunOptions
    from elastic_atlas.pipeline.predict_job import check_output, run_predict

    paths = list(checkpoint_paths) or [default_checkpoint()]
    check_output(output, [source, *paths, *([atom_init] if atom_init else [])])
    checkpoints = [load_checkpoint(p, atom_init).to(default_device()) for p in paths]
    targets = [t for c in checkpoints for t in c.target_names]
    if len(set(targets)) != len(targets):
        raise click.UsageError(f"the checkpoints predict the same target twice: {targets}")
    counts = run_predict(checkpoints, source, output, RunOptions(workers, batch_size, quiet))
    click.echo(
        f"{counts['inputs']} inputs = {counts['predicted']} predicted + "
        f"{counts['rejected']} rejected -> {'standard output' if str(output) == '-' else output}",
        err=str(output) == "-",  # standard output holds the predictions alone
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
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    default=None,
    help="One checkpoint predicting both moduli (instead of the recipe's).",
)
@click.option(
    "--bulk-checkpoint",
    type=click.Path(path_type=Path),
    default=None,
    help="With --shear-checkpoint: one checkpoint per modulus (reference CGCNN).",
)
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
@engine_options
@handle_errors
def build(
    recipe_path: Path | None,
    structures: Path | None,
    summary: Path | None,
    no_summary: bool,
    checkpoint: Path | None,
    bulk_checkpoint: Path | None,
    shear_checkpoint: Path | None,
    atom_init: Path | None,
    gap_policy: str | None,
    workers: int,
    output: Path,
    quiet: bool,
    engine: str,
    scheduler: str | None,
    scheduler_file: Path | None,
    shard_size: int,
) -> None:
    """Build one table (MPED or NED) from a recipe [default: build/sample.toml].

    Writes OUT/<table>.csv, OUT/<table>.parquet, OUT/<table>-structures.parquet, OUT/rejects.csv
    and OUT/summary.json; OUT/parts/ keeps the plan and one part per shard, so a stopped build
    resumes when run again (delete it to free the disk).
    """
    options = run_options(workers, quiet, engine, scheduler, scheduler_file, shard_size)
    from elastic_atlas.inputs.recipe import StructureSource, SummarySource, load_recipe
    from elastic_atlas.paths import contract_root
    from elastic_atlas.pipeline.run import (
        COMPARED_COLUMNS,
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
    if checkpoint or bulk_checkpoint or shear_checkpoint or atom_init:
        recipe.models = checkpoints_of(
            recipe, checkpoint, bulk_checkpoint, shear_checkpoint, atom_init
        )
    if gap_policy:
        recipe.screen.gap_policy = gap_policy  # type: ignore[assignment]
    built = build_table(recipe, output, options)
    print_build_statistics(built.statistics)
    if built.literature is not None:
        comparison = literature_comparison(built.columns(COMPARED_COLUMNS), built.literature)
        click.echo("  predicted vs literature (GPa):")
        click.echo(comparison.to_string(index=False, float_format=lambda v: f"{v:.1f}"))


def print_build_statistics(result: BuildStatistics) -> None:
    """The build's accounting, symmetry check and band-gap nulls, a few lines."""
    click.echo(
        f"{result.table}: {result.inputs} inputs = {result.accepted} accepted + "
        f"{sum(result.screened_out.values())} screened out + "
        f"{sum(result.rejected.values())} rejected in {result.seconds} s"
    )
    click.echo(f"  screened out: {result.screened_out or 'none'}")
    click.echo(f"  rejected:     {result.rejected or 'none'}")
    symmetry = result.symmetry_check
    if symmetry["checked"]:
        click.echo(
            f"  symmetry: {symmetry['checked']} summary space groups checked against the "
            f"structure, {symmetry['disagree']} disagree"
            + (f" (e.g. {', '.join(symmetry['examples'])})" if symmetry["disagree"] else "")
        )
    if result.gap_policy == "include":
        click.echo(f"  gap policy include: {result.band_gap_null_rows} rows have no band gap")


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


def checkpoints_of(
    recipe: Any,
    checkpoint: Path | None,
    bulk: Path | None,
    shear: Path | None,
    atom_init: Path | None,
) -> Any:
    """The recipe's [models] with the command line's checkpoints in place of its own."""
    from pydantic import ValidationError

    from elastic_atlas.inputs.recipe import Models

    old = recipe.models
    if not (checkpoint or bulk or shear):  # only --atom-init
        return old.model_copy(update={"atom_init": atom_init})
    try:
        return Models(
            checkpoint=checkpoint, bulk=bulk, shear=shear, atom_init=atom_init or old.atom_init
        )
    except ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise click.UsageError(f"checkpoints: {message}") from None
