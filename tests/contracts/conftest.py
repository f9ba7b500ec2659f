"""The store contract suite's fixtures: every test here runs against each implementation of the port."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cellstream.clock import ManualClock
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore
from cellstream.store.memory_resources import MemoryResourceStore
from cellstream.store.protocols import AccountStore, EventStore
from cellstream.store.resources import ResourceStore
from cellstream.store.sql.sqlite import migrate, open_sqlite_stores
from cellstream.store.sql.sqlite_resources import SqliteResourceStore

from .factory import settings_for

BACKENDS = ["memory", "sqlite"]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated database file, created once; each test starts from a copy (creating the schema
    costs tens of milliseconds, copying a 100 KB file almost nothing; opening still runs the migration
    check, which finds the file at head)."""
    path = tmp_path_factory.mktemp("template") / "cellstream.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_template: Path) -> str:
    path = tmp_path / "db" / "cellstream.db"
    path.parent.mkdir()
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=BACKENDS)
async def event_store(request: pytest.FixtureRequest, sqlite_url: str,
                      clock: ManualClock) -> AsyncIterator[EventStore]:
    if request.param == "memory":
        yield MemoryEventStore(clock)
        return
    events, _ = await open_sqlite_stores(sqlite_url, settings_for(sqlite_url), clock)
    try:
        yield events
    finally:
        await events.close()


@pytest.fixture(params=BACKENDS)
async def account_store(request: pytest.FixtureRequest, sqlite_url: str,
                        clock: ManualClock) -> AsyncIterator[AccountStore]:
    if request.param == "memory":
        yield MemoryAccountStore()
        return
    events, accounts = await open_sqlite_stores(sqlite_url, settings_for(sqlite_url), clock)
    try:
        yield accounts
    finally:
        await events.close()


@pytest.fixture(params=BACKENDS)
async def resource_store(request: pytest.FixtureRequest, sqlite_url: str,
                         clock: ManualClock) -> AsyncIterator[tuple[ResourceStore, EventStore]]:
    """A ResourceStore and the EventStore its transactions append to."""
    if request.param == "memory":
        memory = MemoryEventStore(clock)
        yield MemoryResourceStore(memory, clock), memory
        return
    events, _ = await open_sqlite_stores(sqlite_url, settings_for(sqlite_url), clock)
    try:
        yield SqliteResourceStore(events, clock), events
    finally:
        await events.close()


@pytest.fixture(params=BACKENDS)
async def accounts_with_events(request: pytest.FixtureRequest, sqlite_url: str,
                               clock: ManualClock) -> AsyncIterator[tuple[AccountStore, EventStore]]:
    """An AccountStore wired to the EventStore its changes append their events to (as the runtime wires
    them), and that EventStore."""
    if request.param == "memory":
        memory = MemoryEventStore(clock)
        yield MemoryAccountStore(memory), memory
        return
    events, accounts = await open_sqlite_stores(sqlite_url, settings_for(sqlite_url), clock)
    try:
        yield accounts, events
    finally:
        await events.close()
