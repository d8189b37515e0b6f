"""elastic-atlas: re-runnable, validated CGCNN elastic-moduli tables (MPED / NED).

The Python API (elastic_atlas.api) is imported on first use, so `import elastic_atlas` stays
light: `load`, `load_arrow`, `lookup`, `structures`, `tables`, `validate`.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("elastic-atlas")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "load", "load_arrow", "lookup", "structures", "tables", "validate"]
_API = {"load", "load_arrow", "lookup", "structures", "tables", "validate"}


def __getattr__(name: str) -> Any:
    # Lazy, for start-up time: the CLI imports this package and needs none of the API.
    if name in _API:
        return getattr(import_module("elastic_atlas.api"), name)
    raise AttributeError(f"module 'elastic_atlas' has no attribute {name!r}")
