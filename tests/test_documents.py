"""Documents that exist: no file of the repository or of a release points at a document outside
them, every relative Markdown link resolves, and no file names a folder of the machine that
wrote it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from elastic_atlas.paths import repo_root

ROOT = repo_root()
TEXT = {".md", ".py", ".toml", ".json", ".cff", ".csv", ".txt", ".cfg", ".yaml", ".yml", ""}
# Spelled in pieces so that this file does not match itself.
MACHINE_PATHS = re.compile(
    "|".join(["/" + "work/", "/" + "root/", "/" + "home/[a-z]", "/" + "Users/"])
)
OUTSIDE_DOCUMENTS = re.compile(
    "|".join(["DESIGN" + r"\.md", "shared/" + "README", "shared/" + "docs"])
)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked_files() -> list[Path]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed files are unknown")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def text_of(path: Path) -> str | None:
    if path.suffix not in TEXT or not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def offending(files: list[Path], base: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in files:
        text = text_of(path)
        if text is None:
            continue
        hits = MACHINE_PATHS.findall(text) + OUTSIDE_DOCUMENTS.findall(text)
        if hits:
            found[path.relative_to(base).as_posix()] = sorted(set(hits))
    return found


def test_no_committed_file_names_a_machine_folder_or_an_outside_document():
    assert offending(tracked_files(), ROOT) == {}


def test_every_relative_link_of_the_repository_documents_resolves():
    broken = []
    for path in tracked_files():
        if path.suffix != ".md":
            continue
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_a_release_names_no_machine_folder_and_carries_its_physics(released):
    folder = released / "releases" / "0.1.0+sample"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert offending(files, folder) == {}
    machine = [str(ROOT), str(Path.home()), str(released)]
    for path in files:
        text = text_of(path)
        if text is not None:
            assert not any(m in text for m in machine), path
    card = (folder / "README.md").read_text()
    assert "`PHYSICS.md` in this folder" in card and (folder / "PHYSICS.md").is_file()
    assert (folder / "PHYSICS.md").read_bytes() == (ROOT / "docs" / "PHYSICS.md").read_bytes()
