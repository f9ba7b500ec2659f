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
- `ix_events_org_severity` (org_id, severity_id, id): `severity:` filters (alert dashboards); without it a
  page of 50 Warn events walked ~1,800 rows (230 µs of SQL against ~50 µs for an indexed filter).
- partial (stored_day, endpoint_id, id), (stored_day, sim_id, id), (stored_day, user_id, id) WHERE … IS NOT
  NULL: the per-endpoint, per-SIM, per-user lists. Partial, so events without that object cost nothing.

Why the scope indexes lead with the day the event was stored: keyed (endpoint_id, id), every new row lands
at a random leaf of the whole index. Measured (executemany of 100,000 rows onto 1,000,000 stored ones, 4
organisations, 10,000 endpoints, WAL, synchronous=NORMAL): a 5,000-row commit dirtied ~3,400 of each such
index's ~6,200 pages (WAL 37.9 MB per commit against 7.8 MB without them), and the schema took 17,100 rows/s
at 5,000-row batches, 31,200 at 20,000. Led by the store day, a batch only touches today's part of each
index, which holds today's rows alone: 34,000 and 46,400 rows/s on the same rows. (For scale, rows without
the text columns: rowid alone 94,000 and 117,000; with the organisation indexes 57,000 and 64,000.) A scoped
query pays with one index seek per stored day (retention bounds them: 30 by default) and a sort of that one
endpoint's, SIM's or user's matching rows, which are few: ~40 µs for a page. Other filters (text `contains`,
iccid, imsi …) scan the organisation's rows: an index cannot serve a substring match, and these are rare
enough not to justify slowing every append further.
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
    text,
)

metadata = MetaData()
DAY_MS = 86_400_000
SCOPE_COLUMNS = ("endpoint_id", "sim_id", "user_id")

# INTEGER PRIMARY KEY is SQLite's rowid alias; elsewhere a 64-bit integer.
RowId = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("position", RowId, primary_key=True, autoincrement=False),
    Column("stored_ms", BigInteger, nullable=False),
    # stored_ms // DAY_MS: leads the per-endpoint/SIM/user indexes (see the module docstring).
    Column("stored_day", Integer, nullable=False, server_default=text("0")),
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
Index("ix_events_org_severity", events.c.org_id, events.c.severity_id, events.c.id)
for _scope in SCOPE_COLUMNS:
    Index(f"ix_events_{_scope.removesuffix('_id')}", events.c.stored_day, events.c[_scope], events.c.id,
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

# The connectivity domain's records (cellstream.store.resources): one JSON document per record, the values
# that identify a record across organisations in `resource_keys`, and each kind's id sequence.
resources = Table(
    "resources",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("org_id", BigInteger),
    Column("doc", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
Index("ix_resources_org", resources.c.kind, resources.c.org_id, resources.c.id)

resource_keys = Table(
    "resource_keys",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("value", Text, primary_key=True),
    Column("id", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
Index("ix_resource_keys_record", resource_keys.c.kind, resource_keys.c.id)

resource_ids = Table(
    "resource_ids",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("last", BigInteger, nullable=False),
)

# The usage log (data and SMS usage records, facts §E.5): like the event log, positions in commit order,
# which are also the records' ids; written in the transaction of the network change that produced them.
usage_records = Table(
    "usage_records",
    metadata,
    Column("position", RowId, primary_key=True, autoincrement=False),
    Column("org_id", BigInteger, nullable=False),
    Column("stored_ms", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
)
Index("ix_usage_records_org", usage_records.c.org_id, usage_records.c.position)

# Organisation details (facts §H.5) and billing configuration (§A.2 row 32): one row per organisation that
# has been given any; an organisation without a row has the defaults of store.protocols.Organisation.
organisation_details = Table(
    "organisation_details",
    metadata,
    Column("org_id", BigInteger, ForeignKey("organisations.id"), primary_key=True, autoincrement=False),
    Column("country_id", Integer),
    Column("verification_type_id", Integer),
    Column("verification", Text),
    Column("monthly_cost_limit", BigInteger),
    Column("currency_id", Integer, nullable=False),
    Column("status_id", Integer, nullable=False),
    Column("type_id", Integer, nullable=False),
    Column("charging_model_id", Integer, nullable=False),
    Column("payment_term_id", Integer, nullable=False),
    Column("vatin", Text),
)

# A user created through the API waits here for activation: the SHA-256 hex digest of the activation key
# handed out on creation (the key is random, so an unsalted digest is enough and can be looked up).
user_activations = Table(
    "user_activations",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True, autoincrement=False),
    Column("digest", Text, nullable=False, unique=True),
)

# Users' MFA keys (facts §D): type 0 TOTP; status 0 Activation Pending, 1 Active.
mfa_keys = Table(
    "mfa_keys",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False, index=True),
    Column("type_id", Integer, nullable=False),
    Column("status_id", Integer, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("activated_ms", BigInteger),
)

# Workspaces a user belongs to besides its own organisation, with the roles it has there.
workspace_members = Table(
    "workspace_members",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id"), primary_key=True, autoincrement=False),
    Column("org_id", BigInteger, ForeignKey("organisations.id"), primary_key=True, autoincrement=False),
    Column("roles", Text, nullable=False),  # comma-separated role ids, as users.roles
)
Index("ix_users_org_id", users.c.org_id)  # the user list of an organisation
