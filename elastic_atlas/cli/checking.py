"""`validate` and `schema`: checking tables, packages and the contract files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from elastic_atlas.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    handle_errors,
    main,
    positive_tolerance,
)
from elastic_atlas.contract.tables import TABLE_IDS


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
    type=click.Choice(TABLE_IDS),
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
@click.option(
    "--keep-rows",
    type=click.IntRange(min=0),
    default=1_000,
    show_default=True,
    help="Failing rows listed per check of a table (here and in --json); further ones are "
    "counted in one finding per check. 0 lists every one (memory grows with them).",
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
    keep_rows: int,
) -> None:
    """Check a CSV/Parquet table, a datapackage.json or a release folder against schema and
    physics (and a release against itself).

    Exit status: 0 no error finding, 1 error findings, 2 unreadable input or bad usage.
    """
    from elastic_atlas.contract.schema import load_table_schema
    from elastic_atlas.contract.settings import ValidationSettings
    from elastic_atlas.validation.findings import findings_json
    from elastic_atlas.validation.package import is_package, validate_package, validate_table_file
    from elastic_atlas.validation.report import PAPER_COLUMNS, summarize

    if path.is_dir() and (path / "datapackage.json").is_file():  # a release folder
        path = path / "datapackage.json"
    if not path.is_file():
        raise click.BadParameter(f"{path} is not a file or a release folder", param_hint="PATH")
    if json_report and not json_report.parent.is_dir():
        raise click.BadParameter(f"folder {json_report.parent} does not exist", param_hint="--json")
    settings = ValidationSettings.load()
    if tolerance is None:
        tolerance = settings.strict_tolerance.value if strict else settings.tolerance.value
    rename = PAPER_COLUMNS if column_names == "paper" else None
    if is_package(path):
        findings = validate_package(path, tolerance=tolerance, settings=settings,
                                    schema_name=schema_name, keep_rows=keep_rows)  # fmt: skip
    else:
        schema = load_table_schema(schema_name) if schema_name else None
        findings = validate_table_file(
            path, tolerance=tolerance, settings=settings, schema=schema, rename=rename,
            keep_rows=keep_rows,
        )  # fmt: skip
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
