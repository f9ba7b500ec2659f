"""Lead the per-endpoint, per-SIM and per-user indexes with the day the event was stored, so an append
touches only today's part of each (see cellstream.store.sql.schema).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

SCOPES = ("endpoint_id", "sim_id", "user_id")
DAY_MS = 86_400_000


def _scope_indexes(leading: list[str]) -> None:
    for scope in SCOPES:
        where = sa.column(scope).isnot(None)
        op.create_index(f"ix_events_{scope.removesuffix('_id')}", "events", [*leading, scope, "id"],
                        sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    op.add_column("events", sa.Column("stored_day", sa.Integer, nullable=False, server_default=sa.text("0")))
    op.execute(f"UPDATE events SET stored_day = stored_ms / {DAY_MS}")
    for scope in SCOPES:
        op.drop_index(f"ix_events_{scope.removesuffix('_id')}", "events")
    _scope_indexes(["stored_day"])


def downgrade() -> None:
    for scope in SCOPES:
        op.drop_index(f"ix_events_{scope.removesuffix('_id')}", "events")
    _scope_indexes([])
    op.drop_column("events", "stored_day")
