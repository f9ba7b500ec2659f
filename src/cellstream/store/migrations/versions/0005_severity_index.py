"""An index for `severity:` filters (Warn and Critical are what alert dashboards ask for, and without it a
page walks the organisation's rows: ~1,800 for a page of 50 Warn events in the benchmark data).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_events_org_severity", "events", ["org_id", "severity_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_org_severity", "events")
