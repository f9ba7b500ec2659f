"""Organisation details and billing configuration, pending user activations, MFA keys, workspace
memberships, and an index for the user list of an organisation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "organisation_details",
        sa.Column("org_id", sa.BigInteger, sa.ForeignKey("organisations.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("country_id", sa.Integer),
        sa.Column("verification_type_id", sa.Integer),
        sa.Column("verification", sa.Text),
        sa.Column("monthly_cost_limit", sa.BigInteger),
        sa.Column("currency_id", sa.Integer, nullable=False),
        sa.Column("status_id", sa.Integer, nullable=False),
        sa.Column("type_id", sa.Integer, nullable=False),
        sa.Column("charging_model_id", sa.Integer, nullable=False),
        sa.Column("payment_term_id", sa.Integer, nullable=False),
        sa.Column("vatin", sa.Text),
    )
    op.create_table(
        "user_activations",
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), primary_key=True, autoincrement=False),
        sa.Column("digest", sa.Text, nullable=False, unique=True),
    )
    op.create_table(
        "mfa_keys",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("type_id", sa.Integer, nullable=False),
        sa.Column("status_id", sa.Integer, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("activated_ms", sa.BigInteger),
    )
    op.create_index("ix_mfa_keys_user_id", "mfa_keys", ["user_id"])
    op.create_table(
        "workspace_members",
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), primary_key=True, autoincrement=False),
        sa.Column("org_id", sa.BigInteger, sa.ForeignKey("organisations.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("roles", sa.Text, nullable=False),
    )
    op.create_index("ix_users_org_id", "users", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_users_org_id", "users")
    for table in ("workspace_members", "mfa_keys", "user_activations", "organisation_details"):
        op.drop_table(table)
