"""SqliteEventStore: the EventStore port on an embedded SQLite file.

Every operation is one job on a connection thread (writes on the writer, reads on a reader); the SQL is
compiled on the event loop from plain strings (cellstream.store.sql.compile).

Pages fetch bodies only for the rows returned: the inner query finds the page's positions (walking an
index only, when one serves the filter and sort — so a deep OFFSET skips index entries, not 1 KB rows),
the outer one reads those rows by primary key. Counts are incremental (count_cache), and a page read
again while the rows its query selects are unchanged comes from the PageCache. `health` reads the exact
event count from the `event_count` meta row, maintained in the same transactions as appends and
deletions, so it never counts 1 M rows.

Short reads of the event lists run on the event loop itself (SqliteDatabase.read_inline), bounded by a
step budget; those that turn out long are re-run on a reader thread and their shape remembered.
"""

from __future__ import annotations

import functools
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cellstream.clock import Clock
from cellstream.events.codec import event_from_body
from cellstream.events.model import Event, StoredEvent
from cellstream.events.query import EventQuery
from cellstream.ids import EventIdGenerator
from cellstream.store.protocols import AppendResult, EventPage, LogEntry
from cellstream.store.sql.compile import page_sql, where_sql
from cellstream.store.sql.count_cache import CachedCount, CountCache, CountKey, count_key
from cellstream.store.sql.log_search import count_after, position_before
from cellstream.store.sql.sqlite_append import append_batch
from cellstream.store.sql.sqlite_db import InlineBudgetSpent, SqliteDatabase, TooSlowInline, transaction

DELETE_CHUNK = 10_000
# A page this shallow, with a count already cached, is first tried on the event loop under a step budget
# (see SqliteDatabase.read_inline); a deeper one, a fresh count, or a page whose shape spent the budget
# lately goes to a reader thread. Trying costs a wasted budget once per shape and SLOW_SHAPE_TTL_MS.
INLINE_MAX_OFFSET = 1_000
INLINE_MAX_NEW_ROWS = 1_000
SLOW_SHAPE_TTL_MS = 60_000
MEMO_SIZE = 1024  # compiled statements and slow shapes kept (each memo is emptied when full)
Counter = Callable[[sqlite3.Connection, bool], CachedCount]
Compiled = tuple[str, tuple[Any, ...]]
Shape = tuple[EventQuery, int, int, bool]
PageKey = tuple[EventQuery, int, int, tuple[Any, ...] | None]
Rows = list[Any] | EventPage  # rows read, or the cached page they would have made
PAGE_CACHE_BYTES = 16 * 1024 * 1024  # bodies kept by the page cache, at most
# Past this many new rows, counting them one by one (table rows) costs more than a fresh count (index).
DELTA_LIMIT = 100_000
META = ("SELECT (SELECT value FROM meta WHERE key = 'last_position'), "
        "(SELECT value FROM meta WHERE key = 'deletion_epoch')")
HEALTH = ("SELECT (SELECT value FROM meta WHERE key = 'last_position'), "
          "(SELECT value FROM meta WHERE key = 'event_count')")
DELETE_OLD = ("DELETE FROM events WHERE position IN (SELECT position FROM events WHERE position < ? "
              "ORDER BY position LIMIT ?)")
BOUNDS = "SELECT min(position), max(position) FROM events"
AT_OR_AFTER = "SELECT position, stored_ms FROM events WHERE position >= ? ORDER BY position LIMIT 1"
AFTER_DELETE = ("UPDATE meta SET value = CASE key WHEN 'deletion_epoch' THEN value + 1 "
                "ELSE value - ? END WHERE key IN ('deletion_epoch', 'event_count')")


@dataclass(frozen=True, slots=True)
class _Page:
    epoch: int
    count: int  # of the rows the query selected when the page was read
    page: EventPage
    size: int


class PageCache:
    """Pages recently read, each with the count it was read with, LRU within a byte budget.

    Events are never changed in place, rows are only added (each commit moves the log position) or
    deleted (retention, which moves the deletion epoch), so the rows a query selects are the same as long
    as their count is the same under the same epoch: a cached page is then exactly what the page
    statement would return. The count is read anyway, for X-Total-Count, in the same snapshot, so the
    check costs nothing. Appends that the query does not select leave its pages valid. Used from the
    event loop only."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[PageKey, _Page] = OrderedDict()
        self._bytes = 0

    def get(self, key: PageKey) -> _Page | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def put(self, key: PageKey, counted: CachedCount, page: EventPage) -> None:
        size = sum(map(len, page.bodies)) + 64 * (len(page.bodies) + 1)
        if size > self.max_bytes // 8:
            return  # a few huge pages would push out many ordinary ones
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._pages[key] = _Page(counted.epoch, counted.count, page, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._bytes -= self._pages.popitem(last=False)[1].size

    def clear(self) -> None:
        self._pages.clear()
        self._bytes = 0


class SqliteEventStore:
    def __init__(self, db: SqliteDatabase, clock: Clock, *, count_cache_size: int = 4096,
                 page_cache_bytes: int = PAGE_CACHE_BYTES) -> None:
        self._db = db
        self._clock = clock
        self._ids = EventIdGenerator(clock)  # used on the writer thread only
        self._counts = CountCache(count_cache_size)
        # Lists are asked for again and again with the same query; compiling it costs more than the
        # statement's own bookkeeping. Keyed by the query itself (immutable), so nothing can go stale.
        self._compiled: dict[tuple[EventQuery, int, int], Compiled] = {}
        self._wheres: dict[CountKey, Compiled] = {}
        self._slow: dict[Shape, int] = {}  # shape → until when (clock ms) it goes straight to a thread
        self._page_cache = PageCache(page_cache_bytes)

    @property
    def path(self) -> str:
        return str(self._db.path)

    @property
    def database(self) -> SqliteDatabase:
        """The shared database (for diagnostics, tests and benchmarks)."""
        return self._db

    async def append(self, events: Sequence[Event]) -> AppendResult:
        if not events:
            return AppendResult([], 0)
        batch = list(events)
        now_ms = self._clock.now_ms()
        return await self._db.write(lambda conn: append_batch(conn, self._ids, batch, now_ms))

    def append_on_writer(self, conn: sqlite3.Connection, events: Sequence[Event],
                         now_ms: int) -> AppendResult:
        """`append` for a job already on the writer thread, inside its transaction (a domain change and
        its events commit together)."""
        return append_batch(conn, self._ids, list(events), now_ms) if events else AppendResult([], 0)

    async def page(self, query: EventQuery, *, limit: int, offset: int = 0,
                   after: tuple[Any, ...] | None = None, with_total: bool = False) -> EventPage:
        if limit <= 0 and not with_total:
            return EventPage([], None)
        # One row more than asked says whether more follow, without a second query.
        sql, params = self._page_sql(query, limit + 1, offset, after)
        key, cached, counter = self._counter(query) if with_total else (None, None, None)
        page_key: PageKey = (query, limit, offset, after)
        known = self._page_cache.get(page_key) if counter is not None and limit > 0 else None

        def job(conn: sqlite3.Connection, inline: bool = False) -> tuple[CachedCount | None, Rows]:
            with transaction(conn, write=False):  # one snapshot: the count and the page agree
                counted = counter(conn, inline) if counter else None
                if limit <= 0 or (counted is not None and after is None and offset >= counted.count):
                    return counted, []  # past the end: spare the database a deep OFFSET
                if known is not None and counted is not None and known.epoch == counted.epoch and \
                        known.count == counted.count:
                    return counted, known.page
                return counted, conn.execute(sql, params).fetchall()

        counted: CachedCount | None
        shape: Shape = (query, limit, offset, after is None)
        try:
            # A cached page is checked by the count alone: short, however deep the page, unless it turns
            # out stale (then the budget stops the deep read, and the shape is remembered).
            if (offset > INLINE_MAX_OFFSET and known is None) or not self._may_inline(shape):
                raise TooSlowInline
            counted, rows = self._db.read_inline(lambda conn: job(conn, True))
        except TooSlowInline as exc:
            if isinstance(exc, InlineBudgetSpent):
                self._remember_slow(shape)
            counted, rows = await self._db.read(job)
        if key is not None and counted is not None and counted is not cached:
            self._counts.put(key, counted)
        if isinstance(rows, EventPage):
            return rows  # the same rows, so the same count: the very page returned before
        total = counted.count if counted is not None else None
        more = len(rows) > limit
        rows = rows[:limit]
        if not rows:
            return EventPage([], None, more, total)
        alert = [k.column == "alert" for k in query.sort]
        last_key = tuple(bool(v) if is_alert else v for v, is_alert in zip(rows[-1][1:], alert, strict=True))
        result = EventPage([row[0] for row in rows], last_key, more, total)
        if counted is not None:
            self._page_cache.put(page_key, counted, result)
        return result

    def _may_inline(self, shape: Shape) -> bool:
        until = self._slow.get(shape)
        if until is None:
            return True
        if until > self._clock.now_ms():
            return False
        del self._slow[shape]  # time to find out again: the data may have changed
        return True

    def _remember_slow(self, shape: Shape) -> None:
        if len(self._slow) >= MEMO_SIZE:
            self._slow.clear()
        self._slow[shape] = self._clock.now_ms() + SLOW_SHAPE_TTL_MS

    def _page_sql(self, query: EventQuery, limit: int, offset: int,
                  after: tuple[Any, ...] | None) -> Compiled:
        if after is not None:  # the cursor's values are parameters: nothing worth keeping
            sql, params = page_sql(query, limit, offset, after)
            return sql, tuple(params)
        memo_key = (query, limit, offset)
        compiled = self._compiled.get(memo_key)
        if compiled is None:
            if len(self._compiled) >= MEMO_SIZE:
                self._compiled.clear()
            sql, params = page_sql(query, limit, offset)
            compiled = self._compiled[memo_key] = (sql, tuple(params))
        return compiled

    def _where(self, key: CountKey, query: EventQuery) -> Compiled:
        compiled = self._wheres.get(key)
        if compiled is None:
            if len(self._wheres) >= MEMO_SIZE:
                self._wheres.clear()
            params: list[Any] = []
            where = where_sql(query, params)
            compiled = self._wheres[key] = (where, tuple(params))
        return compiled

    async def count(self, query: EventQuery) -> int:
        key, _, counter = self._counter(query)

        def job(conn: sqlite3.Connection) -> CachedCount:
            with transaction(conn, write=False):  # one snapshot for the meta rows and the count
                return counter(conn, False)

        fresh = await self._db.read(job)
        self._counts.put(key, fresh)
        return fresh.count

    def _counter(self, query: EventQuery) -> tuple[CountKey, CachedCount | None, Counter]:
        """The cache key, the cached count, and a job (run inside a read transaction) that brings the
        count up to date (returning the cached count itself when nothing changed)."""
        key = count_key(query)
        where, params = self._where(key, query)
        cached = self._counts.get(key)

        def counter(conn: sqlite3.Connection, inline: bool) -> CachedCount:
            position, epoch = conn.execute(META).fetchone()
            usable = cached is not None and cached.epoch == epoch
            new_rows = position - cached.position if cached is not None and usable else None
            if inline and (new_rows is None or not 0 <= new_rows <= INLINE_MAX_NEW_ROWS):
                raise TooSlowInline  # a fresh count, or many new rows to add: not a short read
            if cached is not None and usable and 0 <= position - cached.position <= DELTA_LIMIT:
                if position == cached.position:
                    return cached
                sql = f"SELECT count(*) FROM events NOT INDEXED WHERE position > ? AND {where}"
                (added,) = conn.execute(sql, [cached.position, *params]).fetchone()
                return CachedCount(cached.count + added, position, epoch)
            (total,) = conn.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()
            return CachedCount(total, position, epoch)

        return key, cached, counter

    async def read_after(self, position: int, limit: int, *, org_id: int | None = None) -> list[StoredEvent]:
        if limit <= 0:
            return []
        if org_id is None:
            sql = "SELECT position, body, stored_ms FROM events WHERE position > ? ORDER BY position LIMIT ?"
            params = [position, limit]
        else:
            # NOT INDEXED: walk the log from `position` (the org_id indexes would sort the whole org).
            sql = ("SELECT position, body, stored_ms FROM events NOT INDEXED "
                   "WHERE position > ? AND org_id = ? ORDER BY position LIMIT ?")
            params = [position, org_id, limit]

        def job(conn: sqlite3.Connection) -> list[StoredEvent]:
            return [StoredEvent(pos, event_from_body(body), body, stored)
                    for pos, body, stored in conn.execute(sql, params)]

        return await self._db.read(job)

    async def bodies_after(self, position: int, limit: int, *, org_id: int) -> list[LogEntry]:
        sql = ("SELECT position, org_id, body, stored_ms FROM events NOT INDEXED "
               "WHERE position > ? AND org_id = ? ORDER BY position LIMIT ?")

        def job(conn: sqlite3.Connection) -> list[LogEntry]:
            return [LogEntry(*row) for row in conn.execute(sql, (position, org_id, limit))]

        return await self._db.read(job)

    async def last_position(self) -> int:
        row = await self._db.read(lambda conn: conn.execute(META).fetchone())
        return int(row[0])

    async def position_before(self, stored_ms: int) -> int:
        return await self._db.read(lambda conn: position_before(conn, "events", stored_ms))

    async def count_after(self, position: int, *, org_id: int) -> int:
        return await self._db.read(lambda conn: count_after(conn, "events", position, org_id))

    async def delete_stored_before(self, ts_ms: int) -> int:
        """Stored times grow with positions, so the old events are a prefix of the log: find its end
        with the primary key, then delete it in transactions of at most DELETE_CHUNK rows, each its own
        job on the writer, so appends queued meanwhile run between them."""
        total = 0
        while True:
            deleted = await self._db.write(functools.partial(_delete_chunk, ts_ms=ts_ms, budget=DELETE_CHUNK))
            total += deleted
            if deleted < DELETE_CHUNK:
                break
        if total:
            self._counts.clear()  # the epoch already makes every entry stale; free the memory
            self._page_cache.clear()
        return total

    async def health(self) -> dict[str, Any]:
        last, events = await self._db.read(lambda conn: conn.execute(HEALTH).fetchone())
        return {"backend": "sqlite", "path": self.path, "events": events, "last_position": last}

    async def close(self) -> None:
        await self._db.close()


def _first_kept(conn: sqlite3.Connection, ts_ms: int) -> int:
    """The smallest position stored at or after `ts_ms` (max + 1 when every row is older): a binary
    search over the primary key, valid because stored times never decrease along positions."""
    lo, hi = conn.execute(BOUNDS).fetchone()
    if lo is None:
        return 0
    answer = hi + 1
    while lo <= hi:
        mid = (lo + hi) // 2
        row = conn.execute(AT_OR_AFTER, (mid,)).fetchone()
        if row is None or row[0] > hi:  # no row in [mid, hi]
            hi = mid - 1
        elif row[1] < ts_ms:
            lo = row[0] + 1
        else:
            answer, hi = row[0], mid - 1
    return int(answer)


def _delete_chunk(conn: sqlite3.Connection, *, ts_ms: int, budget: int) -> int:
    with transaction(conn):
        deleted = conn.execute(DELETE_OLD, (_first_kept(conn, ts_ms), budget)).rowcount
        if deleted:
            conn.execute(AFTER_DELETE, (deleted,))
    return int(deleted)
