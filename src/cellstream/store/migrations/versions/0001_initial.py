"""Initial schema: the event log with its lean indexes, the log's meta rows, accounts and tokens.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Written out explicitly (a migration is a frozen snapshot; cellstream.store.sql.schema evolves) — a test
checks the migrated database and schema.py agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SCOPES = ("endpoint_id", "sim_id", "user_id")


def upgrade() -> None:
    events = op.create_table(
        "events",
        sa.Column("position", RowId, primary_key=True, autoincrement=False),
        sa.Column("stored_ms", sa.BigInteger, nullable=False),
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("org_id", sa.BigInteger, nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("type_id", sa.Integer, nullable=False),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("severity_id", sa.Integer, nullable=False),
        sa.Column("alert", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("org_name", sa.Text),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("user_text", sa.Text),
        sa.Column("endpoint_id", sa.BigInteger),
        sa.Column("endpoint_name", sa.Text),
        sa.Column("tags", sa.Text),
        sa.Column("ip_address", sa.Text),
        sa.Column("imei", sa.Text),
        sa.Column("sim_id", sa.BigInteger),
        sa.Column("iccid", sa.Text),
        sa.Column("imsi", sa.Text),
        sa.Column("network", sa.Text),
        sa.Column("country", sa.Text),
        sa.Column("rat", sa.Integer),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    if events is None:
        raise AssertionError("op.create_table returned no table")
    op.create_index("uq_events_org_id", "events", ["org_id", "id"], unique=True)
    op.create_index("ix_events_org_ts", "events", ["org_id", "ts_ms", "id"])
    op.create_index("ix_events_org_type", "events", ["org_id", "type_id", "id"])
    for scope in SCOPES:
        where = events.c[scope].isnot(None)
        op.create_index(f"ix_events_{scope.removesuffix('_id')}", "events", [scope, "id"],
                        sqlite_where=where, postgresql_where=where)

    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    if meta is None:
        raise AssertionError("op.create_table returned no table")
    keys = ("last_position", "last_generated_id", "deletion_epoch", "event_count", "last_stored_ms")
    op.bulk_insert(meta, [{"key": key, "value": 0} for key in keys])

    op.create_table(
        "organisations",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.BigInteger, sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("username_key", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "application_tokens",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.BigInteger, sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expiry_ms", sa.BigInteger),
        sa.Column("ip", sa.Text),
        sa.Column("creator_user_id", sa.BigInteger),
    )
    op.create_index("ix_application_tokens_org_id", "application_tokens", ["org_id"])
    op.create_table(
        "service_tokens",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Boolean(create_constraint=False), nullable=False),
    )


def downgrade() -> None:
    for table in ("service_tokens", "application_tokens", "users", "organisations", "meta", "events"):
        op.drop_table(table)
