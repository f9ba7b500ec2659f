"""The platform the simulator drives in these tests: memory stores on a manual clock (simulated time
starts at its now), one organisation, cheap argon2 for the tokens the HTTP tests need."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from argon2 import PasswordHasher

from cellstream.clock import ManualClock
from cellstream.domain.auth import AuthService
from cellstream.events.query import EventQuery
from cellstream.runtime import open_services
from cellstream.services import Services
from cellstream.settings import Settings
from cellstream.simulator import Counters, Simulation

ORG = 7
SIGNING_KEY = "simulator-tests-signing-key-" + "k" * 40
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


async def open_platform(tmp_path: Path) -> Services:
    settings = Settings(database_url="memory://", data_dir=tmp_path, jwt_secret=SIGNING_KEY,
                        rate_limits="off")
    clock = ManualClock()
    services = await open_services(settings, clock)
    services.auth = AuthService(services.accounts, services.ingestor, clock, settings, SIGNING_KEY,
                                hasher=FAST_HASHER)
    await services.auth.ensure_organisation(ORG, "Fleet Org")
    return services


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Services]:
    services = await open_platform(tmp_path)
    yield services
    await services.close()


async def simulate(services: Services, scenario: str, *, devices: int = 20, duration_s: float = 300,
                   seed: int = 1, batch_size: int = 500) -> Counters:
    return await Simulation.in_process(services, org_id=ORG, devices=devices, speed=None, seed=seed,
                                       scenario=scenario, duration_s=duration_s,
                                       batch_size=batch_size).run()


async def stored(services: Services, org_id: int = ORG) -> list[dict[str, Any]]:
    page = await services.events.page(EventQuery(org_id), limit=1_000_000)
    events = [msgspec.json.decode(body) for body in page.bodies]
    return sorted(events, key=lambda e: e["id"])  # in the order they were stored


async def usage(services: Services) -> list[dict[str, Any]]:
    return [msgspec.json.decode(u.body) for u in await services.network.resources.usage_after(0, 1_000_000)]


def types(events: list[dict[str, Any]]) -> Counter[tuple[int, str]]:
    return Counter((e["event_type"]["id"], e["event_severity"]["description"]) for e in events)


def of_type(events: list[dict[str, Any]], type_id: int) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"]["id"] == type_id]
