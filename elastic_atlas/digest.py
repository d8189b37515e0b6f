"""File digests, read in 1 MiB blocks (checkpoint verification, data package hashes), and the
digest of the package's own source (which code made an output, beyond its version string)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file."""
    digest = hashlib.new(algorithm)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def source_digest() -> str:
    """The digest of this package's Python sources (`tree_digest`): the same for a checkout and
    an installed wheel of the same code, different as soon as one line differs (the version
    string alone does not say that)."""
    return tree_digest(PACKAGE)


def tree_digest(folder: Path) -> str:
    """sha256 over the `*.py` files under `folder`, each as its relative path and its bytes
    (both length-prefixed, so no two trees can run together), in path order."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py"), key=lambda p: p.relative_to(folder).as_posix()):
        relative = path.relative_to(folder).as_posix().encode()
        digest.update(len(relative).to_bytes(4, "big") + relative)
        content = path.read_bytes()
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()
