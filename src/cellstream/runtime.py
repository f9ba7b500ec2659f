"""The composition root: the only module that picks concrete adapters (which store backend)."""

from __future__ import annotations

import secrets
from pathlib import Path

from cellstream.clock import Clock, SystemClock
from cellstream.domain.auth import AuthService
from cellstream.errors import InvalidInput
from cellstream.ingest.notifier import Notifier
from cellstream.ingest.service import Ingestor
from cellstream.services import Services
from cellstream.settings import Settings
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore
from cellstream.store.protocols import AccountStore, EventStore


def signing_key(settings: Settings) -> str:
    """The JWT signing key: from settings, else generated once into the data directory (mode 0600)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = Path(settings.data_dir) / "jwt.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


async def open_stores(settings: Settings, clock: Clock) -> tuple[EventStore, AccountStore]:
    url = settings.resolved_database_url()
    if url == "memory://":
        return MemoryEventStore(clock), MemoryAccountStore()
    if url.startswith("sqlite:"):
        from cellstream.store.sql.sqlite import open_sqlite_stores

        return await open_sqlite_stores(url, settings, clock)
    raise InvalidInput.of("database_url", f"{url!r}: use sqlite:///path/to/file.db or memory://")


async def open_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    events, accounts = await open_stores(settings, clock)
    notifier = Notifier()
    ingestor = Ingestor(events, notifier, clock)
    auth = AuthService(accounts, ingestor, clock, settings, signing_key(settings))
    services = Services(settings, clock, events, accounts, notifier, ingestor, auth)
    services.closers.append(events.close)
    return services
