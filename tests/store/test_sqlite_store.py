"""What only the SQLite backend has: a file that outlives the process, migrations, PRAGMAs, several
connections (and processes) on one file, error translation and the query plans that keep it fast."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cellstream.clock import ManualClock
from cellstream.errors import InvalidInput, StoreCorrupt, StoreError, StoreUnavailable
from cellstream.events.codec import decode_event, decode_json
from cellstream.events.model import Event
from cellstream.events.query import EventQuery, parse_q, parse_sort
from cellstream.settings import Settings
from cellstream.store.sql import sqlite_db
from cellstream.store.sql.compile import page_sql
from cellstream.store.sql.count_cache import CachedCount, CountCache
from cellstream.store.sql.migrate import head_revision, migrate, sqlite_path
from cellstream.store.sql.schema import metadata
from cellstream.store.sql.sqlite import open_sqlite_stores
from cellstream.store.sql.sqlite_events import SqliteEventStore

BASE_MS = 1_767_225_600_000


def event(org: int = 1, *, id: int | None = None, ts: int = 0, type: int = 3) -> Event:
    raw: dict[str, Any] = {"event_type": {"id": type}, "organisation": {"id": org}, "id": id,
                           "timestamp": f"2026-01-01T00:00:{ts:02d}Z", "endpoint": {"id": 5, "name": "x"}}
    return decode_event(raw)


def settings() -> Settings:
    return Settings(sqlite_cache_mb=16)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'dir' / 'cellstream.db'}"


@pytest.fixture
async def store(url: str) -> AsyncIterator[SqliteEventStore]:
    events, _ = await open_sqlite_stores(url, settings(), ManualClock())
    yield events
    await events.close()


async def test_reopening_the_file_finds_everything_and_ids_keep_increasing(url: str) -> None:
    clock = ManualClock()
    events, accounts = await open_sqlite_stores(url, settings(), clock)
    first = await events.append([event(), event(id=77), event(org=2)])
    org = await accounts.create_organisation("Acme", now_ms=1)
    await accounts.create_user(org.id, "ada@example.com", "Ada", "h", (1,), now_ms=1)
    await events.close()

    clock.set(BASE_MS - 86_400_000)  # the clock stepped back while the service was down
    events, accounts = await open_sqlite_stores(url, settings(), clock)
    try:
        assert await events.last_position() == 3
        assert await events.count(EventQuery(1)) == 2
        assert [s.body for s in await events.read_after(0, 10)] == [s.body for s in first.stored]
        assert await accounts.find_user("ADA@example.com") is not None
        again = await events.append([event()])
        assert again.stored[0].position == 4
        assert (again.stored[0].event.id or 0) > max(s.event.id or 0 for s in first.stored)
        assert (await events.health())["events"] == 4
    finally:
        await events.close()


def test_migrate_creates_the_schema_of_schema_py(url: str) -> None:
    migrate(url)
    migrate(url)  # idempotent
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert differences == []
    assert version == head_revision() == "0005"


def test_migrating_from_the_first_schema_keeps_events_and_fills_their_store_day(url: str) -> None:
    migrate(url, "0001")
    engine = sa.create_engine(url)
    columns = ("position, stored_ms, id, org_id, ts_ms, type_id, source_id, severity_id, alert, "
               "description, body")
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"INSERT INTO events ({columns}) VALUES "
                                       "(1, 172800000, 5, 1, 0, 3, 0, 1, 0, 'd', x'7b7d'), "
                                       "(2, 259300000, 6, 1, 0, 3, 0, 1, 0, 'd', x'7b7d')"))
        migrate(url)
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT position, stored_day FROM events ORDER BY position"))
            assert [tuple(r) for r in rows] == [(1, 2), (2, 3)]
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.parametrize(("given", "path"), [("sqlite:///var/x.db", "var/x.db"),
                                             ("sqlite:////tmp/a/b.db", "/tmp/a/b.db")])
def test_sqlite_urls_name_relative_or_absolute_files(given: str, path: str) -> None:
    assert sqlite_path(given) == Path(path)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql://h/db", "nonsense"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        sqlite_path(url)


async def test_connections_use_the_documented_pragmas(store: SqliteEventStore) -> None:
    def pragmas(conn: sqlite3.Connection) -> list[Any]:
        names = ("journal_mode", "synchronous", "foreign_keys", "temp_store", "busy_timeout", "query_only")
        return [conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names]

    assert await store.database.read(pragmas) == ["wal", 1, 1, 2, sqlite_db.BUSY_TIMEOUT_MS, 1]
    assert await store.database.write(pragmas) == ["wal", 1, 1, 2, sqlite_db.BUSY_TIMEOUT_MS, 0]


async def test_a_locked_database_is_unavailable_then_recovers(url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_db, "BUSY_TIMEOUT_MS", 20)
    events, _ = await open_sqlite_stores(url, settings(), ManualClock())
    other = sqlite3.connect(sqlite_path(url), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(StoreUnavailable, match=r"busy|locked"):
            await events.append([event()])
        other.execute("ROLLBACK")
        assert [s.position for s in (await events.append([event()])).stored] == [1]
    finally:
        other.close()
        await events.close()


async def test_a_damaged_file_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cellstream.db"
    path.write_bytes(b"this is not a database" * 1000)
    with pytest.raises(StoreCorrupt):
        await open_sqlite_stores(f"sqlite:///{path}", settings(), ManualClock())


async def test_a_closed_store_raises_store_error(store: SqliteEventStore) -> None:
    await store.close()
    with pytest.raises(StoreError):
        await store.health()
    with pytest.raises(StoreError):
        await store.append([event()])


async def test_concurrent_appends_get_gap_free_positions(store: SqliteEventStore) -> None:
    results = await asyncio.gather(*(store.append([event(ts=i % 60) for _ in range(5)]) for i in range(20)))
    positions = sorted(s.position for r in results for s in r.stored)
    assert positions == list(range(1, 101))
    ids = [s.event.id or 0 for r in sorted(results, key=lambda r: r.stored[0].position) for s in r.stored]
    assert ids == sorted(ids)


async def test_counts_stay_exact_when_another_process_writes(url: str) -> None:
    """Two stores on one file stand for two processes: each one's count cache must notice the other's
    appends (positions) and deletions (the deletion epoch), which it only learns from the database."""
    clock = ManualClock()
    mine, _ = await open_sqlite_stores(url, settings(), clock)
    theirs, _ = await open_sqlite_stores(url, settings(), clock)
    query = EventQuery(1, parse_q("type:3"))
    try:
        await mine.append([event(ts=i) for i in range(2)])
        clock.advance(10)
        await mine.append([event(ts=i) for i in range(2, 5)])
        assert await mine.count(query) == 5
        await theirs.append([event(ts=10), event(ts=11, type=5)])
        assert await mine.count(query) == 6
        assert await theirs.delete_stored_before(clock.now_ms() - 5) == 2
        assert await mine.count(query) == 4
        again = await mine.append([event(ts=20)])
        assert again.stored[0].position == 8  # positions continue after the other process's appends
        assert await mine.count(query) == 5
    finally:
        await mine.close()
        await theirs.close()


async def test_retention_deletes_the_log_prefix_in_chunks(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cellstream.store.sql import sqlite_events

    monkeypatch.setattr(sqlite_events, "DELETE_CHUNK", 3)
    clock = ManualClock()
    store, _ = await open_sqlite_stores(url, settings(), clock)
    try:
        start = clock.now_ms()
        for ts in range(6):
            await store.append([event(org=org, ts=ts) for org in (1, 5, 9)])
            clock.advance(1000)
        assert await store.delete_stored_before(start + 4000) == 12
        remaining = [decode_json(s.body)["organisation"]["id"] for s in await store.read_after(0, 100)]
        assert remaining == [1, 5, 9, 1, 5, 9]
        assert [s.position for s in await store.read_after(0, 100)] == [13, 14, 15, 16, 17, 18]
        assert (await store.health())["events"] == 6
        assert await store.delete_stored_before(start + 100_000) == 6
        assert await store.delete_stored_before(start + 100_000) == 0
    finally:
        await store.close()


def test_the_count_cache_is_bounded_and_keeps_the_newest_entry() -> None:
    cache = CountCache(capacity=2)
    cache.put((1, None, ()), CachedCount(5, 10, 0))
    cache.put((1, None, ()), CachedCount(3, 8, 0))  # older (a slower concurrent request): ignored
    assert cache.get((1, None, ())) == CachedCount(5, 10, 0)
    cache.put((2, None, ()), CachedCount(1, 10, 0))
    cache.put((3, None, ()), CachedCount(1, 10, 0))  # evicts the least recently used
    assert cache.get((1, None, ())) is None
    assert len(cache) == 2


async def plan(store: SqliteEventStore, sql: str, params: list[Any]) -> str:
    explain = "EXPLAIN QUERY PLAN " + sql
    rows = await store.database.read(lambda conn: conn.execute(explain, params).fetchall())
    return " | ".join(row[3] for row in rows)


@pytest.mark.parametrize(("q", "sort", "index"), [
    ("", "", "COVERING INDEX uq_events_org_id"),
    ("type:3", "", "COVERING INDEX ix_events_org_type"),
    ("", "-timestamp", "COVERING INDEX ix_events_org_ts"),
    ("", "timestamp,-id", "COVERING INDEX ix_events_org_ts"),
])
async def test_deep_pages_skip_index_entries_and_read_only_the_page(store: SqliteEventStore, q: str,
                                                                    sort: str, index: str) -> None:
    query = EventQuery(1, parse_q(q), parse_sort(sort))
    for after in (None, (1,) * len(query.sort)):
        explained = await plan(store, *page_sql(query, 50, 49_950, after))
        assert index in explained
        assert "INTEGER PRIMARY KEY (rowid=?)" in explained  # bodies: by position, 50 of them
        assert "SCAN events" not in explained


async def test_a_cached_count_adds_only_the_new_rows(store: SqliteEventStore) -> None:
    explained = await plan(store, "SELECT count(*) FROM events NOT INDEXED WHERE position > ? AND org_id = ?",
                           [0, 1])
    assert "INTEGER PRIMARY KEY (rowid>?)" in explained


async def test_short_reads_run_inline_and_the_rest_on_reader_threads(
        store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.append([event(ts=i, type=3 if i % 2 else 5) for i in range(40)])
    threaded: list[str] = []
    real_read = store.database.read

    async def read(job: Any) -> Any:
        threaded.append("thread")
        return await real_read(job)

    monkeypatch.setattr(store.database, "read", read)
    typed = EventQuery(1, parse_q("type:3"))
    first = await store.page(typed, limit=5, with_total=True)  # no cached count yet: a reader thread
    assert (first.total, len(first.bodies), first.more) == (20, 5, True)
    assert threaded == ["thread"]
    again = await store.page(typed, limit=5, offset=5, with_total=True)  # cached count: inline
    assert (again.total, len(again.bodies)) == (20, 5)
    assert threaded == ["thread"]
    await store.append([event(ts=59, type=3)])  # a few new rows: still inline, and still exact
    assert (await store.page(typed, limit=5, with_total=True)).total == 21
    assert threaded == ["thread"]
    texty = EventQuery(1, parse_q("description:location"))  # a scan, but a short one here: inline
    await store.page(texty, limit=5)
    assert threaded == ["thread"]
    deep = await store.page(EventQuery(1), limit=5, offset=5_000)  # a deep OFFSET: never inline
    assert deep.bodies == []
    assert threaded == ["thread"] * 2
