"""The `elastic-atlas` command line: one sub-command per user-facing stage.

`app` holds the group and the error map; each module registers its commands on import.
"""

from elastic_atlas.cli import checking, making, releasing, training  # noqa: F401 (registers)
from elastic_atlas.cli.app import main

__all__ = ["main"]
