"""The one root of the library's errors, each carrying the exit code the command line gives it.

An error says what is wrong in one line a user can act on; its class says what kind of wrong
it is, and that decides the exit status: 2 for bad input or usage (a file that cannot be read,
a recipe or config that cannot be used, an output that would destroy something), 1 when a
release cannot be made from valid input (its tables fail validation, an existing version
differs). Anything that is not an AtlasError is a bug of elastic-atlas (exit 3).

This module imports nothing heavy, so the command line maps errors without loading torch.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


class AtlasError(Exception):
    """An error of elastic-atlas with a one-line message for the user."""

    exit_code: ClassVar[int] = EXIT_USAGE

    def user_message(self) -> str:
        return " ".join(str(self).split())


class InputError(AtlasError):
    """Input or usage that cannot be used: exit 2."""


class SourceError(InputError):
    """A whole source cannot be read completely (missing path, broken zip, a read error).

    A build stops on it (exit 2): a partial source would publish a partial table.
    """


class RecipeError(InputError):
    """A recipe or release config that cannot be used: unreadable TOML, an unknown key, a wrong
    type. The message names the file and the key."""


class CheckpointError(InputError):
    """A checkpoint that cannot be used, with what to do about it."""


class OutputError(InputError):
    """An output path that would destroy an input, a release file or anything not the
    command's own output, or that cannot be written."""


class EnvironmentSetupError(InputError):
    """The environment of a run is unusable (e.g. an invalid SOURCE_DATE_EPOCH)."""


class TrainingError(InputError):
    """A training run that cannot start (e.g. a run folder holding another run)."""


class PackageError(InputError):
    """A data package descriptor that cannot be checked (unreadable, or a form this validator
    does not read: inline data, multipart paths, unknown hash algorithms)."""


class TableReadError(InputError):
    """The file is not a readable CSV or Parquet table."""


class EngineError(InputError):
    """A scaled-out run that cannot start or go on: a scheduler that cannot be reached, a run
    folder the workers cannot see, a worker that died on a shard."""


class ReleaseError(AtlasError):
    """The release cannot be made from valid input (validation errors, 0 rows, an existing
    version that differs): exit 1."""

    exit_code: ClassVar[int] = EXIT_FINDINGS
