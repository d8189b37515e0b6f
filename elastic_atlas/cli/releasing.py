"""`release`: build, validate and package a versioned release."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from elastic_atlas.pipeline.records import BuildStatistics

from elastic_atlas.cli.app import EXIT_USAGE, engine_options, handle_errors, main, run_options


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
@engine_options
@handle_errors
def release(
    version: str | None,
    config_path: Path | None,
    releases: Path | None,
    force: bool,
    workers: int,
    quiet: bool,
    engine: str,
    scheduler: str | None,
    scheduler_file: Path | None,
    shard_size: int,
) -> None:
    """Build, validate and package releases/<version>/ (atomic; never overwrites a version).

    Each table's shards are kept in RELEASES/.parts-<version>/ until the release stands, so a
    stopped release resumes when run again.
    """
    options = run_options(workers, quiet, engine, scheduler, scheduler_file, shard_size)
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
        options=options,
        # the root datapackage.json beside releases/ belongs to a clone's own releases folder
        root_descriptor=releases is None and is_source_checkout(),
        report=print_table_statistics,
    )
    click.echo(f"release {version}: {target}")


def print_table_statistics(statistics: dict[str, BuildStatistics]) -> None:
    """One line per table: rows, screened out, rejected and seconds."""
    for table, s in statistics.items():
        click.echo(
            f"  {table}: {s.accepted} rows of {s.inputs} inputs, "
            f"{sum(s.screened_out.values())} screened out, "
            f"{sum(s.rejected.values())} rejected, {s.seconds} s"
        )
