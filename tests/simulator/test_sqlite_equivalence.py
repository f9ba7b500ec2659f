"""The embedded SQLite store runs a fleet exactly as the in-memory reference does: same seed, same events,
usage records and resources, for every scenario. (The SQLite store keeps records in a writer-side cache and
writes them behind, once per transaction; the memory store writes through: they must never disagree.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from cellstream.clock import ManualClock
from cellstream.domain.auth import AuthService
from cellstream.domain.principal import Principal
from cellstream.runtime import open_services
from cellstream.services import Services
from cellstream.settings import Settings

from .conftest import ORG, SIGNING_KEY, simulate, stored, usage

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ADMIN = Principal(ORG, None, app_token_id=0)


async def open_on(tmp_path: Path, database_url: str) -> Services:
    settings = Settings(database_url=database_url, data_dir=tmp_path, jwt_secret=SIGNING_KEY,
                        rate_limits="off")
    clock = ManualClock()
    services = await open_services(settings, clock)
    services.auth = AuthService(services.accounts, services.ingestor, clock, settings, SIGNING_KEY,
                                hasher=FAST_HASHER)
    await services.auth.ensure_organisation(ORG, "Fleet Org")
    return services


async def history(tmp_path: Path, database_url: str, scenario: str) -> list[Any]:
    services = await open_on(tmp_path, database_url)
    try:
        await simulate(services, scenario, devices=30, duration_s=400, seed=5, batch_size=64)
        events = [{k: v for k, v in e.items() if k != "id"} for e in await stored(services)]
        records = [{k: v for k, v in r.items() if k != "position"} for r in await usage(services)]
        connectivity = services.connectivity
        endpoints = await connectivity.list_endpoints(ADMIN)
        network = [await services.network.connectivity(ADMIN, d.endpoint.id) for d in endpoints]
        sims = await connectivity.list_sims(ADMIN)
        return [events, records, network, sims, [d.endpoint for d in endpoints]]
    finally:
        await services.close()


@pytest.mark.parametrize("scenario", ["normal-day", "roaming-trip", "quota-exhaustion", "auth-storm",
                                      "outage-reattach"])
async def test_sqlite_and_memory_store_the_same_history(tmp_path: Path, scenario: str) -> None:
    memory = await history(tmp_path / "memory", "memory://", scenario)
    path = tmp_path / "sqlite"
    path.mkdir()
    sqlite = await history(path, f"sqlite:///{path / 'cellstream.db'}", scenario)
    assert len(memory[0]) > 50
    assert len(memory[1]) > 5
    for got, expected in zip(sqlite, memory, strict=True):
        assert got == expected
