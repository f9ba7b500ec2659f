"""The organisation domain service on both account-store backends: events 31 and 32 built as documented,
stored with their change, subscribers woken after the commit, stale reads decided again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cellstream.clock import ManualClock
from cellstream.domain.organisations import Organisations, changed_data
from cellstream.domain.principal import Principal
from cellstream.errors import Forbidden, Unprocessable
from cellstream.events.codec import decode_json
from cellstream.events.model import Event, StoredEvent
from cellstream.ingest.notifier import Notifier
from cellstream.settings import Settings
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore
from cellstream.store.protocols import AccountStore, AppendResult, EventStore, Organisation
from cellstream.store.sql.sqlite import open_sqlite_stores

ADMIN_TOKEN = Principal(1, None, 9, ())
OBSERVER = Principal(1, 5, None, (3,))


@pytest.fixture(params=["memory", "sqlite"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path,
                 clock: ManualClock) -> AsyncIterator[tuple[AccountStore, EventStore]]:
    if request.param == "memory":
        events = MemoryEventStore(clock)
        yield MemoryAccountStore(events), events
        return
    url = f"sqlite:///{tmp_path / 'cellstream.db'}"
    sqlite_events, accounts = await open_sqlite_stores(url, Settings(sqlite_cache_mb=16), clock)
    try:
        yield accounts, sqlite_events
    finally:
        await sqlite_events.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def docs(stored: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    return [decode_json(s.body) for s in stored]


def test_changed_data_lists_changed_fields_in_order_with_nulls_as_text() -> None:
    old = Organisation(1, "Sample Corp", 0)
    new = replace(old, name="Sample Corp Ltd.", verification_type_id=1, verification="DE123456789",
                  vatin="ignored here")
    assert changed_data(old, new) == [
        {"name": {"old": "Sample Corp", "new": "Sample Corp Ltd."}},
        {"verification_type_id": {"old": "null", "new": "1"}},
        {"verification": {"old": "null", "new": "DE123456789"}},
    ]
    assert changed_data(new, replace(new, verification=None)) == [
        {"verification": {"old": "DE123456789", "new": "null"}}]


async def test_changes_are_stored_with_their_events_and_then_announced(
        stores: tuple[AccountStore, EventStore], clock: ManualClock) -> None:
    accounts, events = stores
    await accounts.create_organisation("Acme", org_id=1, now_ms=clock.now_ms())
    notifier = Notifier()
    announced: list[list[int]] = []

    async def subscriber(batch: Sequence[StoredEvent]) -> None:
        announced.append([s.position for s in batch])
        assert await events.last_position() >= batch[-1].position  # committed before the wake-up

    notifier.subscribe(subscriber)
    service = Organisations(accounts, notifier, clock)
    clock.advance(1000)
    org = await service.update(ADMIN_TOKEN, {"name": "Acme Ltd", "country": {"id": 74}})
    assert org == await accounts.get_organisation(1)
    assert (org.name, org.country_id) == ("Acme Ltd", 74)
    billing = await service.update_billing(ADMIN_TOKEN, {"charging_model": {"id": 1}, "vatin": "DE1"})
    assert (billing.charging_model_id, billing.vatin, billing.name) == (1, "DE1", "Acme Ltd")
    stored = await events.read_after(0, 10)
    assert announced == [[1], [2]]
    first, second = docs(stored)
    assert first["event_type"] == {"id": 31, "description": "Organisation updated"}
    assert first["event_source"] == {"id": 2, "description": "API"}
    assert first["event_severity"] == {"id": 0, "description": "Info"}
    assert first["timestamp"] == "2026-01-01T00:00:01.000Z"
    assert first["organisation"] == {"id": 1, "name": "Acme"}
    assert "user" not in first
    assert first["detail"] == {"changed_data": [{"name": {"old": "Acme", "new": "Acme Ltd"}},
                                                {"country_id": {"old": "null", "new": "74"}}]}
    assert second["event_type"]["id"] == 32
    assert second["event_severity"] == {"id": 1, "description": "Warn"}
    assert second["detail"] == {"billing_config": {"charging_model": {"id": 1}, "payment_term": {"id": 0},
                                                   "vatin": "DE1"}}
    # Nothing to change: no write, no event, no wake-up.
    await service.update(ADMIN_TOKEN, {"name": "Acme Ltd"})
    assert await events.last_position() == 2
    assert announced == [[1], [2]]


async def test_refusals_change_nothing(stores: tuple[AccountStore, EventStore], clock: ManualClock) -> None:
    accounts, events = stores
    before = await accounts.create_organisation("Acme", org_id=1, now_ms=0)
    service = Organisations(accounts, Notifier(), clock)
    with pytest.raises(Forbidden):
        await service.update(OBSERVER, {"name": "x"})
    with pytest.raises(Forbidden):
        await service.update_billing(OBSERVER, {"vatin": "x"})
    with pytest.raises(Unprocessable):
        await service.update(ADMIN_TOKEN, {"name": "ok", "country": {"id": 123456}})
    assert await accounts.get_organisation(1) == before
    assert await events.last_position() == 0


class Interfering(MemoryAccountStore):
    """Someone else renames the organisation right before our first write lands."""

    def __init__(self, events: MemoryEventStore) -> None:
        super().__init__(events)
        self.interfered = False

    async def update_organisation(self, org_id: int, changes: Mapping[str, Any], *,
                                  events: Sequence[Event],
                                  expected: Organisation | None = None) -> AppendResult:
        if not self.interfered:
            self.interfered = True
            await super().update_organisation(org_id, {"name": "Renamed meanwhile"}, events=[])
        return await super().update_organisation(org_id, changes, events=events, expected=expected)


async def test_a_change_read_stale_is_decided_again(clock: ManualClock) -> None:
    events = MemoryEventStore(clock)
    accounts = Interfering(events)
    await accounts.create_organisation("Acme", org_id=1, now_ms=0)
    await Organisations(accounts, Notifier(), clock).update(ADMIN_TOKEN, {"name": "Ours"})
    [stored] = docs(await events.read_after(0, 10))
    assert stored["detail"] == {"changed_data": [{"name": {"old": "Renamed meanwhile", "new": "Ours"}}]}
    assert stored["organisation"] == {"id": 1, "name": "Renamed meanwhile"}
