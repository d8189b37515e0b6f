from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from elastic_atlas.paths import repo_root, shared_data

REPO = repo_root()
SHARED = shared_data()


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared/data, or a skip with the reason when this checkout has none."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the real data in {SHARED} (absent on a fresh clone)")
    return SHARED


@pytest.fixture(scope="session")
def released(tmp_path_factory) -> Path:
    """A folder holding `releases/` with the embedded-sample release, built once per session.
    Tests that change it work on a copy."""
    from elastic_atlas.cli import main

    root = tmp_path_factory.mktemp("release")
    result = CliRunner().invoke(
        main, ["release", "--releases", str(root / "releases"), "--quiet", "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    return root
