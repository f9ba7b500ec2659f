"""Alembic environment. Cellstream runs it programmatically (cellstream.store.sql.migrate), passing an open
connection in `config.attributes["connection"]`; the `alembic` command uses `sqlalchemy.url` instead."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from cellstream.store.sql.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
run_online()
