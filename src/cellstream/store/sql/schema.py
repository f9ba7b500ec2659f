"""The database schema, defined once. Alembic migrations (store/migrations) create it; a test checks the
migrated database matches this MetaData exactly.

Types are portable (SQLite now, PostgreSQL later): BigInteger becomes INTEGER on SQLite where it must be
the rowid alias (`events.position`), so a position lookup is a B-tree search of the table itself.

Indexes on `events`, each chosen for a query (an append updates every one of them per row):

- `uq_events_org_id` UNIQUE(org_id, id): duplicate detection, the default sort, keyset on id, deep OFFSET
  skips (an index walk that never touches the table: SQLite keeps the rowid in every index entry).
- `ix_events_org_ts` (org_id, ts_ms, id): `from`/`until`/`timestamp` ranges and the timestamp sort. `id`
  is included (a plain (org_id, ts_ms) orders ties by position, not id) so `ORDER BY ts_ms, id` is the
  index order and a deep OFFSET on a timestamp sort stays index-only; it costs nothing measurable more.
- `ix_events_org_type` (org_id, type_id, id): `type:` filters (the commonest) with the default order.
- partial (endpoint_id, id), (sim_id, id), (user_id, id) WHERE … IS NOT NULL: the per-endpoint, per-SIM,
  per-user lists. Partial, so events without that object cost nothing.

Measured ingest (plain executemany of prepared rows, 5,000-row transactions into 1.12 M stored events of
~900 bytes from 4 organisations and 10,000 endpoints; WAL, synchronous=NORMAL, default autocheckpoint;
median of 3 runs, this machine): all six ~10,000 rows/s; rowid only ~29,800; without the three scope
indexes ~25,000; without the endpoint index ~12,500, without the SIM index ~11,700; dropping any one of the
organisation-prefixed indexes or the user index changes nothing beyond noise (±5%). The organisation
indexes grow at a few places (ids and times increase), but an endpoint or SIM index takes each new row at
a random leaf: a 5,000-row commit dirties ~3,400 of each one's ~6,200 pages (WAL per commit 7.8 MB
without them, 37.9 MB with), and the checkpoint's fsync of those pages is most of the cost. They stay:
the per-endpoint and per-SIM event lists need them. Other filters (text `contains`, iccid, imsi …) scan
the organisation's rows: an index cannot serve a substring match, and these are rare enough not to justify
slowing every append further.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# INTEGER PRIMARY KEY is SQLite's rowid alias; elsewhere a 64-bit integer.
RowId = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("position", RowId, primary_key=True, autoincrement=False),
    Column("stored_ms", BigInteger, nullable=False),
    Column("id", BigInteger, nullable=False),
    Column("org_id", BigInteger, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("type_id", Integer, nullable=False),
    Column("source_id", Integer, nullable=False),
    Column("severity_id", Integer, nullable=False),
    Column("alert", Boolean(create_constraint=False), nullable=False),
    Column("description", Text, nullable=False),
    Column("org_name", Text),
    Column("user_id", BigInteger),
    Column("user_text", Text),
    Column("endpoint_id", BigInteger),
    Column("endpoint_name", Text),
    Column("tags", Text),
    Column("ip_address", Text),
    Column("imei", Text),
    Column("sim_id", BigInteger),
    Column("iccid", Text),
    Column("imsi", Text),
    Column("network", Text),
    Column("country", Text),
    Column("rat", Integer),
    Column("body", LargeBinary, nullable=False),
)
Index("uq_events_org_id", events.c.org_id, events.c.id, unique=True)
Index("ix_events_org_ts", events.c.org_id, events.c.ts_ms, events.c.id)
Index("ix_events_org_type", events.c.org_id, events.c.type_id, events.c.id)
for _scope in ("endpoint_id", "sim_id", "user_id"):
    Index(f"ix_events_{_scope.removesuffix('_id')}", events.c[_scope], events.c.id,
          sqlite_where=events.c[_scope].isnot(None), postgresql_where=events.c[_scope].isnot(None))

# The log's bookkeeping, one row per key; written in the same transaction as the change it records.
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
META_KEYS = ("last_position", "last_generated_id", "deletion_epoch", "event_count", "last_stored_ms")

organisations = Table(
    "organisations",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("org_id", BigInteger, ForeignKey("organisations.id"), nullable=False),
    Column("username", Text, nullable=False),
    Column("username_key", Text, nullable=False, unique=True),  # username.lower(): unique in any case
    Column("name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("roles", Text, nullable=False),  # comma-separated role ids, e.g. "1,2"
    Column("status", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until_ms", BigInteger, nullable=False),
)

application_tokens = Table(
    "application_tokens",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("org_id", BigInteger, ForeignKey("organisations.id"), nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("expiry_ms", BigInteger),
    Column("ip", Text),
    Column("creator_user_id", BigInteger),  # no foreign key: the memory store does not require the user
)

service_tokens = Table(
    "service_tokens",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("description", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked", Boolean(create_constraint=False), nullable=False),
)

NULLABLE_EVENT_COLUMNS = frozenset(c.name for c in events.columns if c.nullable)
