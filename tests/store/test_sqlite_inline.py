"""Event-list reads on the event loop under a step budget, and the page cache: both must only ever change
where and how often SQL runs, never what a page holds."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cellstream.clock import ManualClock
from cellstream.events.codec import decode_event
from cellstream.events.model import Event
from cellstream.events.query import EventQuery, parse_q, parse_sort
from cellstream.settings import Settings
from cellstream.store.protocols import EventPage
from cellstream.store.sql import sqlite_events
from cellstream.store.sql.count_cache import CachedCount
from cellstream.store.sql.sqlite import open_sqlite_stores
from cellstream.store.sql.sqlite_db import INLINE_STEP_CHECK, InlineBudgetSpent
from cellstream.store.sql.sqlite_events import SqliteEventStore


def event(org: int = 1, *, type: int = 3, severity: int = 0, source: int = 0, ts: int = 0) -> Event:
    return decode_event({"event_type": {"id": type}, "event_severity": {"id": severity},
                         "event_source": {"id": source},
                         "organisation": {"id": org}, "timestamp": f"2026-01-01T00:00:{ts:02d}Z"})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(tmp_path: Path, clock: ManualClock) -> AsyncIterator[SqliteEventStore]:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    events, _ = await open_sqlite_stores(url, Settings(sqlite_cache_mb=16), clock)
    yield events
    await events.close()


class Reads:
    """Which reads went to a reader thread, and which page statements ran at all."""

    def __init__(self, store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threaded = 0
        self.statements: list[str] = []
        db = store.database
        real_read = db.read
        real_inline = db.read_inline

        async def read(job: Any) -> Any:
            self.threaded += 1
            return await real_read(lambda conn: self._traced(conn, job))

        def read_inline(job: Any) -> Any:
            return real_inline(lambda conn: self._traced(conn, job))

        monkeypatch.setattr(db, "read", read)
        monkeypatch.setattr(db, "read_inline", read_inline)

    def _traced(self, conn: sqlite3.Connection, job: Any) -> Any:
        conn.set_trace_callback(self.statements.append)
        try:
            return job(conn)
        finally:
            conn.set_trace_callback(None)

    @property
    def pages_read(self) -> int:
        return sum(1 for s in self.statements if s.startswith("SELECT body"))


async def test_a_read_over_the_budget_moves_to_a_reader_thread_and_its_shape_is_remembered(
        store: SqliteEventStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.append([event(source=1 if i == 390 else 0) for i in range(400)])
    rare = EventQuery(1, parse_q("source:1"))  # no index serves it: the page scans
    await store.count(rare)  # cached: the page itself decides where it runs
    reads = Reads(store, monkeypatch)
    store.database.inline_budget_steps = INLINE_STEP_CHECK  # far less than a 400-row scan
    first = await store.page(rare, limit=5, with_total=True)
    assert (len(first.bodies), first.total, reads.threaded) == (1, 1, 1)
    await store.page(rare, limit=6, with_total=True)  # another shape: tried inline again, then threaded
    assert reads.threaded == 2
    pages = reads.pages_read
    again = await store.page(rare, limit=5, with_total=True)  # remembered: straight to a thread
    assert (again, reads.threaded, reads.pages_read) == (first, 3, pages)  # where the cached page answers
    clock.advance(sqlite_events.SLOW_SHAPE_TTL_MS + 1)
    store.database.inline_budget_steps = 10**6
    assert await store.page(rare, limit=6, with_total=True) == first  # tried again after the TTL: inline
    assert reads.threaded == 3


async def test_an_interrupted_inline_read_leaves_the_connection_usable_and_up_to_date(
        store: SqliteEventStore) -> None:
    await store.append([event() for _ in range(300)])
    db = store.database
    db.inline_budget_steps = INLINE_STEP_CHECK
    scan = "SELECT count(*) FROM events WHERE description LIKE '%x%'"

    def job(conn: sqlite3.Connection) -> int:
        conn.execute("BEGIN")
        return int(conn.execute(scan).fetchone()[0])

    with pytest.raises(InlineBudgetSpent):
        db.read_inline(job)
    db.inline_budget_steps = 10**6
    await store.append([event()])
    in_transaction, total = db.read_inline(
        lambda conn: (conn.in_transaction, conn.execute("SELECT count(*) FROM events").fetchone()[0]))
    assert (in_transaction, total) == (False, 301)


async def test_a_cached_page_is_served_while_the_rows_its_query_selects_stay_the_same(
        store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.append([event(type=3 if i % 3 else 5) for i in range(30)])
    typed = EventQuery(1, parse_q("type:3"), parse_sort("-id"))
    first = await store.page(typed, limit=4, with_total=True)
    reads = Reads(store, monkeypatch)
    assert await store.page(typed, limit=4, with_total=True) == first
    assert reads.pages_read == 0
    await store.append([event(type=5), event(org=2, type=3)])  # nothing this query selects
    assert await store.page(typed, limit=4, with_total=True) == first
    assert reads.pages_read == 0
    await store.append([event(type=3)])  # a new first row
    newer = await store.page(typed, limit=4, with_total=True)
    assert reads.pages_read == 1
    assert newer.total == first.total + 1 == 21
    assert newer.bodies[1:] == first.bodies[:3]
    cursor = await store.page(typed, limit=4, after=newer.last_key, with_total=True)
    assert await store.page(typed, limit=4, after=newer.last_key, with_total=True) == cursor
    assert reads.pages_read == 2


async def test_deleting_rows_invalidates_every_cached_page(
        store: SqliteEventStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.append([event() for _ in range(5)])
    clock.advance(10_000)
    await store.append([event() for _ in range(5)])
    everything = EventQuery(1)
    before = await store.page(everything, limit=20, with_total=True)
    assert before.total == 10
    assert await store.delete_stored_before(clock.now_ms() - 5_000) == 5
    after = await store.page(everything, limit=20, with_total=True)
    assert (after.total, after.bodies) == (5, before.bodies[5:])


def test_the_page_cache_keeps_to_its_byte_budget() -> None:
    cache = sqlite_events.PageCache(max_bytes=80_000)  # room for 10 pages of ~7.9 KB
    counted = CachedCount(1, 1, 0)
    queries = [EventQuery(1, parse_q(f"type:{t}")) for t in range(1, 13)]
    for query in queries:
        cache.put((query, 5, 0, None), counted, EventPage([b"x" * 1_500] * 5, (1,)))
    assert cache.get((queries[0], 5, 0, None)) is None  # the oldest went
    assert cache.get((queries[-1], 5, 0, None)) is not None
    cache.put((queries[0], 5, 0, None), counted, EventPage([b"x" * 11_000], (1,)))  # over an eighth
    assert cache.get((queries[0], 5, 0, None)) is None
