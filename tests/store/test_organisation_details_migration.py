"""Migration 0004 (organisation details, user activations, MFA keys, workspace memberships): a database
at 0003 with accounts in it upgrades to the schema of schema.py and keeps them, with the defaults."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cellstream.clock import ManualClock
from cellstream.settings import Settings
from cellstream.store.protocols import Organisation
from cellstream.store.sql.migrate import alembic_config, head_revision, migrate
from cellstream.store.sql.schema import metadata
from cellstream.store.sql.sqlite import open_sqlite_stores


async def test_accounts_made_before_0004_keep_working(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cellstream.db'}"
    migrate(url, "0003")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO organisations (id, name, created_ms) VALUES (7, 'Acme', 5)"))
            connection.execute(sa.text(
                "INSERT INTO users (id, org_id, username, username_key, name, password_hash, roles, status, "
                "created_ms, failed_logins, locked_until_ms) "
                "VALUES (3, 7, 'Ada@x.test', 'ada@x.test', 'Ada', 'h', '1', 1, 5, 0, 0)"))
        events, accounts = await open_sqlite_stores(url, Settings(sqlite_cache_mb=16), ManualClock())
        try:
            assert await accounts.get_organisation(7) == Organisation(7, "Acme", 5)
            assert [u.username for u in await accounts.list_users(7)] == ["Ada@x.test"]
            assert await accounts.list_mfa_keys(3) == []
            assert await accounts.get_membership(3, 7) is None
            await accounts.update_organisation(7, {"country_id": 74}, events=[])
            org = await accounts.get_organisation(7)
            assert org is not None
            assert (org.name, org.country_id, org.currency_id) == ("Acme", 74, 1)
        finally:
            await events.close()
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert differences == []
    assert version == head_revision()


def test_0004_downgrades_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cellstream.db'}"
    migrate(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert not tables & {"organisation_details", "user_activations", "mfa_keys", "workspace_members"}
    assert {"organisations", "users", "resources"} <= tables
