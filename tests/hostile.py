"""Hostile inputs, generated small: damaged zips, malicious pickles, tampered packages.

Shared by the tests (tests/test_hardening.py) and the replay script
(benchmarks/reliability.py), so the corpus the script counts is the one the tests assert on.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import torch

CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"


def stored_zip(path: Path, entries: dict[str, str | bytes]) -> Path:
    """A zip without compression, so the entry bytes can be found and damaged."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _patch(path: Path, signature: bytes, offset: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    start = data.index(signature)
    data[start + offset : start + offset + len(value)] = value
    path.write_bytes(bytes(data))


def bad_crc_zip(path: Path, text: str) -> Path:
    stored_zip(path, {"mp-1.cif": text})
    data = bytearray(path.read_bytes())
    at = data.index(text.encode()[:40]) + 10
    data[at] ^= 0x01  # one flipped bit inside the entry's data
    path.write_bytes(bytes(data))
    return path


def unsupported_compression_zip(path: Path, text: str) -> Path:
    stored_zip(path, {"mp-1.cif": text})
    method = (99).to_bytes(2, "little")  # AE-x: not a method zipfile can read
    _patch(path, LOCAL, 8, method)
    _patch(path, CENTRAL, 10, method)
    return path


def encrypted_zip(path: Path, text: str) -> Path:
    stored_zip(path, {"mp-1.cif": text})
    _patch(path, LOCAL, 6, b"\x01\x00")  # general purpose flag bit 0: encrypted
    _patch(path, CENTRAL, 8, b"\x01\x00")
    return path


def zip_bomb(path: Path, size: int = 64 * 1024 * 1024) -> Path:
    """One CIF entry of `size` bytes that compresses to a few tens of kB."""
    block = b" " * (1 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("mp-1.cif", "w", force_zip64=True) as entry,
    ):
        for _ in range(size // len(block)):
            entry.write(block)
    return path


class _WritesAFile:
    """Unpickling this runs `os.system`: what a hostile checkpoint would do."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"echo pwned > '{self.sentinel}'",))


def malicious_checkpoint(path: Path, sentinel: Path) -> Path:
    """A .pth.tar in the reference layout whose `args` run a shell command when unpickled."""
    buffer = io.BytesIO()
    torch.save(
        {"state_dict": {}, "normalizer": {"mean": 0.0, "std": 1.0}, "args": _WritesAFile(sentinel)},
        buffer,
    )
    path.write_bytes(buffer.getvalue())
    return path


def tampered_package(release: Path, folder: Path, change) -> Path:
    """A copy of a release's datapackage.json (same data files, by symlink-free copy) with
    `change(descriptor, folder)` applied; returns the descriptor path."""
    import shutil

    shutil.copytree(release, folder)
    path = folder / "datapackage.json"
    descriptor = json.loads(path.read_text())
    change(descriptor, folder)
    path.write_text(json.dumps(descriptor))
    return path


def rehash(folder: Path) -> None:
    """What a forger does after editing a release's files: every declared hash and size in
    datapackage.json, and CHECKSUMS.sha256, made true again (so only cross-checks can tell)."""
    from elastic_atlas.digest import file_digest
    from elastic_atlas.release.descriptor import write_checksums

    path = folder / "datapackage.json"
    descriptor = json.loads(path.read_text())
    for resource in descriptor["resources"]:
        file = folder / resource["path"]
        if file.is_file():
            resource["hash"] = f"sha256:{file_digest(file)}"
            if "bytes" in resource:
                resource["bytes"] = file.stat().st_size
    path.write_text(json.dumps(descriptor, indent=2))
    write_checksums(folder)
