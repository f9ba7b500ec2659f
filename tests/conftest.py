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


def need_service(name: str, host: str, port: int) -> None:
    """A real server the test talks to; skip (fail under CI) when nothing listens at host:port."""
    import socket

    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        if IN_CI:
            pytest.fail(f"{name} is required under CI but {host}:{port} is not reachable: {exc}")
        pytest.skip(f"{name} not reachable at {host}:{port}: {exc}")
