"""Opening the embedded SQLite backend: migrate the file, then start its connection threads.

    events, accounts = await open_sqlite_stores("sqlite:///var/cellstream.db", settings, clock)

Both stores share one database; `events.close()` closes it (the account store's close does nothing). The
account store appends the events of its changes through the event store, in the change's transaction.
"""

from __future__ import annotations

import asyncio

from cellstream.clock import Clock
from cellstream.settings import Settings
from cellstream.store.sql.migrate import migrate, sqlite_path
from cellstream.store.sql.sqlite_accounts import SqliteAccountStore
from cellstream.store.sql.sqlite_db import SqliteDatabase
from cellstream.store.sql.sqlite_events import SqliteEventStore

READERS = 3

__all__ = ["SqliteAccountStore", "SqliteEventStore", "migrate", "open_sqlite_stores"]


async def open_sqlite_stores(url: str, settings: Settings, clock: Clock, *,
                             readers: int = READERS) -> tuple[SqliteEventStore, SqliteAccountStore]:
    """Migrate the database at `url` to the newest schema (creating it and its directories) and open it."""
    path = sqlite_path(url)
    await asyncio.to_thread(migrate, url)
    db = SqliteDatabase(path, cache_mb=settings.sqlite_cache_mb, readers=readers)
    await db.open()
    events = SqliteEventStore(db, clock, page_cache_bytes=settings.sqlite_page_cache_mb * 1024 * 1024)
    return events, SqliteAccountStore(db, events, clock)
