"""Fixtures more than one sink's tests use: the session's moto server and the brokers a test starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.streamer.sinks.moto_server import moto_endpoint
from tests.streamer.sinks.servers import Servers


@pytest.fixture(scope="session")
def moto_url() -> str:
    return moto_endpoint()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Start a broker of the test's own with `servers.start(Mosquitto, …)`; it is stopped after the test."""
    started = Servers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
