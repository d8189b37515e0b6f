"""elastic-atlas: re-runnable, validated CGCNN elastic-moduli tables (MPED / NED)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("elastic-atlas")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
