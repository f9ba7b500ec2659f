"""ResourceStore on SQLite: a transaction is one job on the writer thread; views run on a reader.

The work function runs inside BEGIN IMMEDIATE … COMMIT together with the append of the events it emitted,
so the change and its events commit or roll back as one (cellstream.store.resources).

The writer keeps what it knows of the records (`RecordCache`): every record a transaction read or
committed, as JSON, and the unique keys it looked up. A signalling batch reads the same SIMs, endpoints,
network states and counters tick after tick; from the cache a read is a dict look-up and a decode instead of
a statement. The cache is exact: only this store writes the resource tables, a transaction's writes enter it
once their COMMIT succeeded (a rolled-back one changes nothing in it), and `PRAGMA data_version`, read
inside each transaction, tells when another connection (another process) committed meanwhile, which
empties it. Views run on reader connections and use no shared cache.
"""

from __future__ import annotations

import enum
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import msgspec

from cellstream.clock import Clock
from cellstream.errors import Conflict
from cellstream.events.model import Event
from cellstream.store.resources import Committed, ReadOnly, Record, StoredUsage, encode_usage, has_keys
from cellstream.store.sql.log_search import count_after, position_before
from cellstream.store.sql.sqlite_db import SqliteDatabase, transaction
from cellstream.store.sql.sqlite_events import SqliteEventStore

R = TypeVar("R", bound=Record)
T = TypeVar("T")
CACHE_BYTES = 64 * 1024 * 1024  # the writer's record cache starts afresh beyond about this much JSON
ENTRY_BYTES = 120  # what an entry costs besides its JSON (key tuple, dict slot, bytes header)

GET = "SELECT org_id, doc FROM resources WHERE kind = ? AND id = ?"
FIND = "SELECT id FROM resource_keys WHERE kind = ? AND name = ? AND value = ?"
SCAN = "SELECT doc FROM resources WHERE kind = ? AND org_id IS ? ORDER BY id"
PUT = "INSERT OR REPLACE INTO resources (kind, id, org_id, doc) VALUES (?, ?, ?, ?)"
# Many records at once, the ids (or key values) as one JSON array: one statement text whatever their number
# (CROSS JOIN: look each one up by the primary key, never scan the kind)
PRELOAD = ("SELECT r.id, r.org_id, r.doc FROM json_each(?2) AS j CROSS JOIN resources AS r "
           "WHERE r.kind = ?1 AND r.id = j.value")
PRELOAD_KEYS = ("SELECT k.value, k.id FROM json_each(?3) AS j CROSS JOIN resource_keys AS k "
                "WHERE k.kind = ?1 AND k.name = ?2 AND k.value = j.value")
UPDATE_DOC = "UPDATE resources SET doc = ? WHERE kind = ? AND id = ?"
DELETE = "DELETE FROM resources WHERE kind = ? AND id = ?"
DROP_KEYS = "DELETE FROM resource_keys WHERE kind = ? AND id = ?"
ADD_KEY = "INSERT INTO resource_keys (kind, name, value, id) VALUES (?, ?, ?, ?)"
NEXT_ID = ("INSERT INTO resource_ids (kind, last) VALUES (?, 1) "
           "ON CONFLICT (kind) DO UPDATE SET last = last + 1 RETURNING last")
LAST_USAGE = "SELECT coalesce(max(position), 0) FROM usage_records"
INSERT_USAGE = "INSERT INTO usage_records (position, org_id, stored_ms, body) VALUES (?, ?, ?, ?)"
USAGE_AFTER = ("SELECT position, org_id, body, stored_ms FROM usage_records WHERE position > ? "
               "ORDER BY position LIMIT ?")
ORG_USAGE_AFTER = ("SELECT position, org_id, body, stored_ms FROM usage_records WHERE org_id = ? AND "
                   "position > ? ORDER BY position LIMIT ?")
DATA_VERSION = "PRAGMA data_version"
RAISE_ID = ("INSERT INTO resource_ids (kind, last) VALUES (?, ?) "
            "ON CONFLICT (kind) DO UPDATE SET last = max(last, excluded.last)")


class SqliteResourceStore:
    """`cache_bytes`: about how much JSON the writer's RecordCache holds before it starts afresh (one
    cache per database, shared by its stores: the first store's size holds)."""

    def __init__(self, events: SqliteEventStore, clock: Clock, *, cache_bytes: int = CACHE_BYTES) -> None:
        self._events = events
        self._db = events.database
        self._clock = clock
        self._cache = _writer_cache(self._db, cache_bytes)  # used on the writer thread alone

    async def transact(self, work: Callable[[SqliteTx], T]) -> Committed[T]:
        now_ms = self._clock.now_ms()
        cache = self._cache

        def job(conn: sqlite3.Connection) -> Committed[T]:
            with transaction(conn):
                cache.validate(int(conn.execute(DATA_VERSION).fetchone()[0]))
                tx = SqliteTx(conn, now_ms, writable=True, cache=cache)
                value = work(tx)
                tx.flush()
                appended = self._events.append_on_writer(conn, tx.events, now_ms)
                committed = Committed(value, appended, _append_usage(conn, tx.usage, now_ms))
            cache.committed(tx)  # only now: a failed COMMIT raised above and left the cache as it was
            return committed

        return await self._db.write(job)

    async def view(self, work: Callable[[SqliteTx], T]) -> T:
        now_ms = self._clock.now_ms()

        def job(conn: sqlite3.Connection) -> T:
            with transaction(conn, write=False):
                return work(SqliteTx(conn, now_ms, writable=False, cache=RecordCache(CACHE_BYTES)))

        return await self._db.read(job)

    async def usage_after(self, position: int, limit: int, *, org_id: int | None = None) -> list[StoredUsage]:
        def job(conn: sqlite3.Connection) -> list[StoredUsage]:
            if org_id is None:
                rows = conn.execute(USAGE_AFTER, (position, limit)).fetchall()
            else:
                rows = conn.execute(ORG_USAGE_AFTER, (org_id, position, limit)).fetchall()
            return [StoredUsage(*row) for row in rows]

        return await self._db.read(job)

    async def usage_last_position(self) -> int:
        return await self._db.read(lambda conn: int(conn.execute(LAST_USAGE).fetchone()[0]))

    async def usage_position_before(self, stored_ms: int) -> int:
        return await self._db.read(lambda conn: position_before(conn, "usage_records", stored_ms))

    async def usage_count_after(self, position: int, *, org_id: int) -> int:
        return await self._db.read(lambda conn: count_after(conn, "usage_records", position, org_id))


def _append_usage(conn: sqlite3.Connection, records: list[tuple[int, Mapping[str, Any]]],
                  now_ms: int) -> list[StoredUsage]:
    if not records:
        return []
    start = int(conn.execute(LAST_USAGE).fetchone()[0])
    stored = [StoredUsage(start + n, org, encode_usage(start + n, record), now_ms)
              for n, (org, record) in enumerate(records, start=1)]
    conn.executemany(INSERT_USAGE, [(u.position, u.org_id, u.stored_ms, u.body) for u in stored])
    return stored


class _Unknown(enum.Enum):
    UNKNOWN = "not known here"


class _Absent(enum.Enum):
    ABSENT = "the table holds no such row"


UNKNOWN: Final = _Unknown.UNKNOWN
ABSENT: Final = _Absent.ABSENT
Key = tuple[str, int]
KeyValue = tuple[str, str, str]  # (kind, key name, value)
Doc = tuple[int | None, bytes]  # (org_id, JSON) of a record
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_ENCODER = msgspec.json.Encoder()


def _json_list(values: list[Any]) -> str:
    return _ENCODER.encode(values).decode()


def _decoder(cls: type[R]) -> msgspec.json.Decoder[R]:
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = msgspec.json.Decoder(cls)
    return decoder


class RecordCache:
    """The committed records (None: known not to exist) and unique keys a connection has seen, as the
    database holds them outside any open transaction's own changes. Used by one thread only."""

    def __init__(self, max_bytes: int) -> None:
        self.docs: dict[Key, Doc | None] = {}
        self.keys: dict[KeyValue, int | None] = {}
        self.max_bytes = max_bytes
        self.bytes = 0
        self.data_version: int | None = None

    def validate(self, data_version: int) -> None:
        """At the start of a transaction: forget everything if another connection committed since the
        last one (`PRAGMA data_version` moved), or if the cache grew past its size."""
        if data_version != self.data_version or self.bytes > self.max_bytes:
            self.clear()
            self.data_version = data_version

    def clear(self) -> None:
        self.docs.clear()
        self.keys.clear()
        self.bytes = 0

    def remember(self, key: Key, doc: Doc | None) -> None:
        before = self.docs.get(key, UNKNOWN)
        if before is UNKNOWN:
            self.bytes += ENTRY_BYTES
        elif before is not None:
            self.bytes -= len(before[1])
        if doc is not None:
            self.bytes += len(doc[1])
        self.docs[key] = doc

    def committed(self, tx: SqliteTx) -> None:
        """Take in what `tx` wrote, once its COMMIT succeeded."""
        for key, doc in tx.written().items():
            self.remember(key, doc)
        if tx.wrote_keys:
            self.keys.clear()


# One cache per writer connection, however many stores share it (their commits do not move the
# connection's own data_version, so separate caches could not see each other's writes)
_WRITER_CACHES: weakref.WeakKeyDictionary[SqliteDatabase, RecordCache] = weakref.WeakKeyDictionary()


def _writer_cache(database: SqliteDatabase, max_bytes: int) -> RecordCache:
    cache = _WRITER_CACHES.get(database)
    if cache is None:
        cache = _WRITER_CACHES[database] = RecordCache(max_bytes)
    return cache


class SqliteTx:
    """One transaction's view: its own changes over the connection's RecordCache over the tables.

    Reads come from this transaction's changes, then the cache, then the tables (filling the cache); each
    call decodes a fresh object, so a caller can never change what another sees. `put` and `delete`
    change only this transaction's map and mark the record; `flush` writes each marked record once (one
    `executemany` per statement) before the events are appended: a batch that changes one SIM's network
    state fifty times writes it once. A record whose organisation did not change is rewritten with an
    UPDATE of its JSON, which leaves the organisation index alone. Unique keys stay write-through and exact:
    a `put` checks them against the table (which holds every key this transaction wrote) and raises
    Conflict at once, and rewrites them only when they changed; kinds without `unique_keys` never touch
    `resource_keys`. The id sequence of a kind is raised once per transaction (or before its `next_id`).
    `scan` flushes first and reads the table.
    """

    def __init__(self, conn: sqlite3.Connection, now_ms: int, *, writable: bool, cache: RecordCache) -> None:
        self._conn = conn
        self._now_ms = now_ms
        self._writable = writable
        self._cache = cache
        self.events: list[Event] = []
        self.usage: list[tuple[int, Mapping[str, Any]]] = []
        self._docs: dict[Key, Doc | None] = {}  # what this transaction wrote (None: deleted)
        self._stored: dict[Key, int | _Absent | None] = {}  # org_id of rows this transaction flushed
        self._dirty: dict[Key, None] = {}  # changed since the last flush, in change order
        self._keys: dict[Key, dict[str, str]] = {}  # the unique keys of records put or deleted here
        self._found: dict[KeyValue, int | None] = {}  # look-ups since this transaction changed keys
        self.wrote_keys = False  # then its look-ups see uncommitted keys and stay out of the cache
        self._raise: dict[str, int] = {}  # the highest id put per kind, not yet in resource_ids

    @property
    def now_ms(self) -> int:
        return self._now_ms

    def written(self) -> dict[Key, Doc | None]:
        return self._docs

    def _doc(self, kind: str, record_id: int) -> Doc | None:
        key = (kind, record_id)
        doc = self._docs.get(key, UNKNOWN)
        if doc is UNKNOWN:
            doc = self._cache.docs.get(key, UNKNOWN)
            if doc is UNKNOWN:
                row = self._conn.execute(GET, key).fetchone()
                doc = None if row is None else (row[0], row[1])
                self._cache.remember(key, doc)
        return doc

    def get(self, cls: type[R], record_id: int) -> R | None:
        doc = self._doc(cls.KIND, record_id)
        if doc is None:
            return None
        decoder: msgspec.json.Decoder[R] | None = _DECODERS.get(cls)
        return (decoder or _decoder(cls)).decode(doc[1])

    def find(self, cls: type[R], key: str, value: str) -> R | None:
        lookup = (cls.KIND, key, value)
        found = self._found if self.wrote_keys else self._cache.keys
        record_id = found.get(lookup, UNKNOWN)
        if record_id is UNKNOWN:
            row = self._conn.execute(FIND, lookup).fetchone()
            record_id = found[lookup] = None if row is None else int(row[0])
        return None if record_id is None else self.get(cls, record_id)

    def preload(self, cls: type[R], ids: Iterable[int]) -> None:
        kind, mine, cached = cls.KIND, self._docs, self._cache.docs
        wanted = [i for i in set(ids) if (kind, i) not in mine and (kind, i) not in cached]
        if not wanted:
            return
        remember = self._cache.remember
        for record_id, org_id, doc in self._conn.execute(PRELOAD, (kind, _json_list(wanted))):
            remember((kind, record_id), (org_id, doc))
        for record_id in wanted:
            if (kind, record_id) not in cached:
                remember((kind, record_id), None)

    def preload_keys(self, cls: type[R], key: str, values: Iterable[str]) -> None:
        kind, values = cls.KIND, set(values)
        found = self._found if self.wrote_keys else self._cache.keys
        wanted = [v for v in values if (kind, key, v) not in found]
        if wanted:
            for value, record_id in self._conn.execute(PRELOAD_KEYS, (kind, key, _json_list(wanted))):
                found[(kind, key, value)] = int(record_id)
            for value in wanted:
                found.setdefault((kind, key, value), None)
        ids = (found[(kind, key, v)] for v in values)
        self.preload(cls, [i for i in ids if i is not None])

    def scan(self, cls: type[R], org_id: int | None) -> list[R]:
        self.flush()
        rows = self._conn.execute(SCAN, (cls.KIND, org_id)).fetchall()
        decoder = _decoder(cls)
        return [decoder.decode(doc) for (doc,) in rows]

    def put(self, record: Record) -> None:
        self._check_writable()
        kind, record_id = record.KIND, record.id
        key = (kind, record_id)
        cls = type(record)
        if has_keys(cls):
            keys = dict(record.unique_keys())
            if keys != self._old_keys(cls, key):
                self._rewrite_keys(kind, record_id, keys)
            self._keys[key] = keys
        self._docs[key] = (record.org_id, _ENCODER.encode(record))
        self._dirty[key] = None
        if record_id > self._raise.get(kind, 0):
            self._raise[kind] = record_id

    def _old_keys(self, cls: type[Record], key: Key) -> dict[str, str] | None:
        """The unique keys the record holds now, if that is known without asking the database."""
        known = self._keys.get(key)
        if known is not None:
            return known
        doc = self._docs.get(key, UNKNOWN)
        if doc is UNKNOWN:
            doc = self._cache.docs.get(key, UNKNOWN)
            if doc is UNKNOWN:
                return None
        return {} if doc is None else dict(_decoder(cls).decode(doc[1]).unique_keys())

    def _rewrite_keys(self, kind: str, record_id: int, keys: Mapping[str, str]) -> None:
        for name, value in keys.items():
            holder = self._conn.execute(FIND, (kind, name, value)).fetchone()
            if holder is not None and int(holder[0]) != record_id:
                raise Conflict(f"{kind} {name} {value} is already in use")
        self._drop_keys(kind, record_id)
        self._conn.executemany(ADD_KEY, [(kind, name, value, record_id) for name, value in keys.items()])

    def _drop_keys(self, kind: str, record_id: int) -> None:
        self._conn.execute(DROP_KEYS, (kind, record_id))
        self.wrote_keys = True
        self._found.clear()

    def delete(self, cls: type[Record], record_id: int) -> None:
        self._check_writable()
        kind = cls.KIND
        key = (kind, record_id)
        if self._docs.get(key, self._cache.docs.get(key, UNKNOWN)) is None:
            return  # known not to exist
        if has_keys(cls):
            self._drop_keys(kind, record_id)
            self._keys[key] = {}
        self._docs[key] = None
        self._dirty[key] = None

    def next_id(self, cls: type[Record]) -> int:
        self._check_writable()
        kind = cls.KIND
        if kind in self._raise:  # an id put in this transaction may be above the sequence
            self._conn.execute(RAISE_ID, (kind, self._raise.pop(kind)))
        return int(self._conn.execute(NEXT_ID, (kind,)).fetchone()[0])

    def emit(self, event: Event) -> None:
        self._check_writable()
        self.events.append(event)

    def record_usage(self, org_id: int, record: Mapping[str, Any]) -> None:
        self._check_writable()
        self.usage.append((org_id, record))

    def _row_now(self, key: Key) -> int | _Absent | _Unknown | None:
        """The org_id of the row the table holds for `key` now (ABSENT: none), as far as known."""
        stored = self._stored.get(key, UNKNOWN)
        if stored is UNKNOWN:
            cached = self._cache.docs.get(key, UNKNOWN)
            return cached if cached is UNKNOWN else ABSENT if cached is None else cached[0]
        return stored

    def flush(self) -> None:
        """Write every record changed since the last flush (once each) and raise the id sequences."""
        if self._dirty:
            deletes: list[Key] = []
            replaces: list[tuple[str, int, int | None, bytes]] = []
            updates: list[tuple[bytes, str, int]] = []
            docs, stored = self._docs, self._stored
            for key in self._dirty:
                doc = docs[key]
                was = self._row_now(key)
                if doc is None:
                    if was is not ABSENT:
                        deletes.append(key)
                    stored[key] = ABSENT
                    continue
                org_id, body = doc
                if was is UNKNOWN or was is ABSENT or was != org_id:
                    replaces.append((key[0], key[1], org_id, body))
                else:  # same organisation: the organisation index keeps its entry
                    updates.append((body, key[0], key[1]))
                stored[key] = org_id
            self._dirty.clear()
            if deletes:
                self._conn.executemany(DELETE, deletes)
            if replaces:
                self._conn.executemany(PUT, replaces)
            if updates:
                self._conn.executemany(UPDATE_DOC, updates)
        if self._raise:
            self._conn.executemany(RAISE_ID, list(self._raise.items()))
            self._raise.clear()

    def _check_writable(self) -> None:
        if not self._writable:
            raise ReadOnly("a view cannot change resources")
