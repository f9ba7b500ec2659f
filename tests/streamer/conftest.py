"""Services for the tests whose data streams deliver to a receiver on 127.0.0.1, which the platform refuses
unless private destinations are allowed: the delivery engine's here, and the API's data stream tests, which
import `services` from this module so both open the platform the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cellstream.clock import ManualClock
from cellstream.services import Services
from tests.api.conftest import open_test_services, settings_for


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def services(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Services]:
    opened = await open_test_services(settings_for(tmp_path, allow_private_destinations=True), clock)
    yield opened
    await opened.close()
