"""Shared test helpers: where the reference material lives, and a requirement helper for services."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "reference" / "fixtures"
IN_CI = os.environ.get("CI") == "true"


def need_fixtures() -> Path:
    """The documented example fixtures beside the repo; skip (fail under CI) when absent."""
    if not FIXTURES.is_dir():
        if IN_CI:
            pytest.fail(f"reference fixtures missing at {FIXTURES}")
        pytest.skip(f"reference fixtures not found at {FIXTURES}")
    return FIXTURES
