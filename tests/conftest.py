from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "kalshi" / "fixtures_demo_2026-06-11"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"recorded Kalshi fixtures not found at {FIXTURES} (../shared must sit beside the repo)")
    return FIXTURES
