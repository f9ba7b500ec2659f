"""The connectivity domain's records (documents, their unique keys and per-kind id sequences) and the
usage log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("org_id", sa.BigInteger),
        sa.Column("doc", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_resources_org", "resources", ["kind", "org_id", "id"])
    op.create_table(
        "resource_keys",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("id", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_resource_keys_record", "resource_keys", ["kind", "id"])
    op.create_table(
        "resource_ids",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "usage_records",
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("org_id", sa.BigInteger, nullable=False),
        sa.Column("stored_ms", sa.BigInteger, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_usage_records_org", "usage_records", ["org_id", "position"])


def downgrade() -> None:
    for table in ("usage_records", "resource_ids", "resource_keys", "resources"):
        op.drop_table(table)
