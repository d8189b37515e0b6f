"""The command group and the one map from library errors to exit codes."""

from __future__ import annotations

import functools
import math
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from elastic_atlas import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


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
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own usage errors: click prints them and exits 2
        except Exception as error:
            if isinstance(error, _usage_errors()):
                click.echo(f"error: {_one_line(error)}", err=True)
                sys.exit(EXIT_USAGE)
            # Not a verdict on the input: a failure of elastic-atlas itself, said as such and
            # with its own exit code, so no script mistakes it for findings (1) or usage (2).
            if os.environ.get("ELASTIC_ATLAS_TRACEBACK"):
                traceback.print_exc()
            click.echo(
                f"internal error (a bug of elastic-atlas {__version__}, please report it): "
                f"{type(error).__name__}: {_one_line(error)} "
                "(ELASTIC_ATLAS_TRACEBACK=1 shows the traceback)",
                err=True,
            )
            sys.exit(EXIT_BUG)

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
