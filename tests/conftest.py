"""Shared fixtures: paths to the shared reference data and the bundled cTAKES type systems."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only reference data folder that CI places beside the repository."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: the suite needs the shared reference data beside the repo")
    return SHARED
