from __future__ import annotations

from pathlib import Path

import pytest

from elastic_atlas.paths import repo_root, shared_data

REPO = repo_root()
SHARED = shared_data()


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared/data, or a skip with the reason when this checkout has none."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the real data in {SHARED} (absent on a fresh clone)")
    return SHARED
