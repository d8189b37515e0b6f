"""Where a command may write: never over anything that is not its own output.

An output path must be a new name or an existing regular file; it must not be a symbolic link
(writing would replace or follow it), a FIFO, a device or a folder; it must not be, or lie
inside, an input of the run (the source, a checkpoint, the atom-feature table); and it must not
lie inside a published release, whose files are pinned by checksums and a DOI.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from elastic_atlas.errors import OutputError

STDOUT = Path("-")
LOCK_NAME = ".elastic-atlas.lock"  # held by the run writing a folder, removed when it ends


def release_holding(path: Path) -> Path | None:
    """The release folder (datapackage.json + CHECKSUMS.sha256) that holds `path`, if any."""
    resolved = path.resolve()
    for folder in (resolved, *resolved.parents):
        if (folder / "datapackage.json").is_file() and (folder / "CHECKSUMS.sha256").is_file():
            return folder
    return None


def check_writable(path: Path, inputs: Iterable[Path] = ()) -> None:
    """Refuse `path` as an output unless writing it can destroy nothing but a former output."""
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link; give the path of a new or regular file")
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a FIFO or a device)"
        raise OutputError(f"{path} is {kind}; give the path of a new or regular file")
    resolved = path.resolve()
    for source in inputs:
        if source is None or not source.exists():
            continue
        source = source.resolve()
        if (
            resolved == source
            or (path.exists() and path.samefile(source))
            or (
                source.is_dir() and resolved.is_relative_to(source) and _read_from(source, resolved)
            )
        ):
            raise OutputError(f"{path} is an input of this run ({source.name}); choose another")
    release = release_holding(path.parent if not path.exists() else path)
    if release is not None:
        raise OutputError(f"{path} is inside the release {release.name}; its files are published")


def _read_from(folder: Path, path: Path) -> bool:
    """Whether a run reading `folder` reads `path`: every file of a model folder (it has a
    model.json), the CIFs of a structure folder."""
    if (folder / "model.json").is_file():
        return True
    name = path.name.lower()
    return name.endswith((".cif", ".cif.gz"))


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold `folder` for one run: a second run on it is refused while this one lives.

    The lock is the kernel's (flock) on a file in the folder, so it dies with the process even
    when that is killed; the file itself is removed when the run ends, and a file left by a
    killed run is simply taken over.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        raise OutputError(f"{path}: cannot hold the output folder ({error.strerror})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
        os.close(handle)
        raise OutputError(
            f"{folder} is being written by another run (pid {holder}); wait for it to end or "
            "give another folder"
        ) from None
    try:
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)
