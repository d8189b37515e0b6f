"""The command group and the one map from library errors to exit codes."""

from __future__ import annotations

import functools
import math
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from elastic_atlas import __version__
from elastic_atlas.errors import EXIT_BUG, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, AtlasError

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "handle_errors", "main"]

# Packages of the extras (pyproject.toml): a command that needs one says which extra to install.
EXTRA_OF = {
    "torch": "build", "safetensors": "build", "requests": "build", "urllib3": "build",
    "sklearn": "train", "xgboost": "train",
    "matplotlib": "release", "mlcroissant": "release", "pybtex": "release",
    "dask": "scale", "distributed": "scale",
}  # fmt: skip


def engine_options(command: Callable[..., None]) -> Callable[..., None]:
    """--engine, --scheduler, --scheduler-file and --shard-size of `build` and `release`."""
    options = [
        click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
                     show_default=True,
                     help="local: this machine's processes; dask: the workers of a Dask "
                     "cluster (needs elastic-atlas[scale]). Both give the same files."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="dask: the scheduler's address, e.g. tcp://node1:8786 [default: a "
                     "local cluster of --workers processes]."),
        click.option("--scheduler-file", type=click.Path(path_type=Path, dir_okay=False),
                     default=None, help="dask: the file `dask scheduler --scheduler-file` wrote."),
        click.option("--shard-size", type=int, default=2048, show_default=True,
                     help="Inputs per shard (a multiple of 256); finished shards are kept and "
                     "reused when the command runs again."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def run_options(
    workers: int,
    quiet: bool,
    engine: str,
    scheduler: str | None,
    scheduler_file: Path | None,
    shard_size: int,
) -> Any:
    """The RunOptions of the command line; a scheduler without the dask engine is bad usage."""
    from elastic_atlas.pipeline.driver import RunOptions

    if (scheduler or scheduler_file) and engine != "dask":
        raise click.UsageError("--scheduler and --scheduler-file go with --engine dask")
    if scheduler and scheduler_file:
        raise click.UsageError("give --scheduler or --scheduler-file, not both")
    return RunOptions(workers, None, quiet, engine, scheduler, scheduler_file, shard_size)


def handle_errors(command: Callable[..., None]) -> Callable[..., None]:
    """The one map from errors to exit codes, shared by every command: an AtlasError exits
    with its own code and one line; an OSError (an unwritable folder, a full disk) is bad
    usage; a missing optional package names its extra; anything else is a bug (exit 3)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own usage errors: click prints them and exits 2
        except AtlasError as error:
            fail(error.user_message(), error.exit_code)
        except OSError as error:
            fail(_one_line(error), EXIT_USAGE)
        except ModuleNotFoundError as error:
            package = (error.name or "").split(".")[0]
            if package not in EXTRA_OF:
                bug(error)
            fail(
                f"this command needs {package}, which the core install leaves out: "
                f"pip install 'elastic-atlas[{EXTRA_OF[package]}]'",
                EXIT_USAGE,
            )
        except Exception as error:
            bug(error)

    return wrapper


def fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def bug(error: Exception) -> None:
    """Not a verdict on the input: a failure of elastic-atlas itself, said as such and with
    its own exit code, so no script mistakes it for findings (1) or usage (2)."""
    if os.environ.get("ELASTIC_ATLAS_TRACEBACK"):
        traceback.print_exc()
    click.echo(
        f"error: internal error (a bug of elastic-atlas {__version__}, please report it): "
        f"{type(error).__name__}: {_one_line(error)} "
        "(ELASTIC_ATLAS_TRACEBACK=1 shows the traceback)",
        err=True,
    )
    sys.exit(EXIT_BUG)


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
