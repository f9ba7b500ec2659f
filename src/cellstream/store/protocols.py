"""The store ports. Every implementation (memory, SQLite, later PostgreSQL) passes the same contract
suite in tests/contracts/.

The event store is the source of truth and the log: each stored event gets a `position` that only grows,
in commit order, without gaps, so every consumer can read "after position P" and keep a durable cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cellstream.events.model import Event, StoredEvent
from cellstream.events.query import EventQuery


@dataclass(frozen=True)
class AppendResult:
    stored: list[StoredEvent]  # the newly stored events, in position order, ids assigned
    duplicates: int = 0  # events skipped because an identical one (same organisation and id) was stored


@dataclass(frozen=True)
class EventPage:
    bodies: list[bytes]  # canonical JSON of each event, in query order
    last_key: tuple[Any, ...] | None  # sort-key values of the last row (for a keyset cursor)
    more: bool = False  # rows follow this page
    total: int | None = None  # how many rows the query selects, when asked for (with_total)


class EventStore(Protocol):
    async def append(self, events: Sequence[Event]) -> AppendResult:
        """Store a batch atomically: all or nothing.

        Events without an id get a generated one: unique, increasing in position order, below 2^53.
        An event whose (organisation, id) is already stored is skipped and counted as a duplicate when its
        canonical JSON is identical; when it differs the whole batch fails with Conflict naming the index
        and id. The same (organisation, id) twice in one batch is treated the same way.
        """
        ...

    async def page(self, query: EventQuery, *, limit: int, offset: int = 0,
                   after: tuple[Any, ...] | None = None, with_total: bool = False) -> EventPage:
        """The events the query selects, in its sort order, skipping `offset` rows or, with `after`,
        starting strictly after the row whose sort-key values are `after` (keyset paging).
        `with_total` also counts every row the query selects, from the same snapshot as the page (a list
        request needs both, and asking once saves a round trip)."""
        ...

    async def count(self, query: EventQuery) -> int:
        """How many events the query selects."""
        ...

    async def read_after(self, position: int, limit: int, *,
                         org_id: int | None = None) -> list[StoredEvent]:
        """Events with position > `position`, ascending, at most `limit`, optionally of one organisation."""
        ...

    async def last_position(self) -> int:
        """The highest position ever committed (0 for an empty store; deletions do not lower it)."""
        ...

    async def delete_stored_before(self, ts_ms: int) -> int:
        """Remove events stored before `ts_ms` (retention); returns how many.

        Age counts from when Cellstream stored an event, not from its own timestamp, so events imported
        from the past stay for the whole retention period. Stored times never decrease along positions,
        so this removes a prefix of the log."""
        ...

    async def health(self) -> dict[str, Any]:
        """A small report (backend, events, last_position); raises StoreError when unusable."""
        ...

    async def close(self) -> None:
        ...


# ---------- accounts: organisations, users, tokens ----------

TokenStatus = Literal[0, 1]  # 0 Activated, 1 Revoked (emnify's application token statuses)


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    created_ms: int


@dataclass(frozen=True)
class User:
    id: int
    org_id: int
    username: str
    name: str
    password_hash: str  # argon2 hash of the SHA-1 hex digest clients send
    roles: tuple[int, ...]  # 1 Administrator, 2 User, 3 Observer
    status: int  # 0 Activation Pending, 1 Active, 2 Suspended, 3 Deleted
    created_ms: int
    failed_logins: int = 0
    locked_until_ms: int = 0


@dataclass(frozen=True)
class ApplicationToken:
    id: int
    org_id: int
    description: str
    secret_hash: str  # argon2 hash of the token's secret part
    status: int  # 0 Activated, 1 Revoked
    created_ms: int
    expiry_ms: int | None = None
    ip: str | None = None  # CIDR the token may be used from
    creator_user_id: int | None = None


@dataclass(frozen=True)
class ServiceToken:
    id: int
    description: str
    secret_hash: str
    created_ms: int
    revoked: bool = False


class AccountStore(Protocol):
    async def create_organisation(self, name: str, *, org_id: int | None = None,
                                  now_ms: int) -> Organisation:
        """Raises Conflict if `org_id` is taken."""
        ...

    async def get_organisation(self, org_id: int) -> Organisation | None: ...

    async def create_user(self, org_id: int, username: str, name: str, password_hash: str,
                          roles: tuple[int, ...], *, now_ms: int) -> User:
        """Raises Conflict if the username exists (any case), NotFound if the organisation does not."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...

    async def find_user(self, username: str) -> User | None:
        """Case-insensitive look-up by username (an e-mail address)."""
        ...

    async def update_login_state(self, user_id: int, failed_logins: int, locked_until_ms: int) -> None: ...

    async def create_application_token(self, org_id: int, description: str, secret_hash: str, *,
                                       now_ms: int, expiry_ms: int | None = None, ip: str | None = None,
                                       creator_user_id: int | None = None) -> ApplicationToken: ...

    async def get_application_token(self, token_id: int) -> ApplicationToken | None: ...

    async def list_application_tokens(self, org_id: int) -> list[ApplicationToken]: ...

    async def update_application_token(self, org_id: int, token_id: int, *, description: str | None = None,
                                       status: int | None = None) -> ApplicationToken | None:
        """None when no such token exists in that organisation."""
        ...

    async def create_service_token(self, description: str, secret_hash: str, *,
                                   now_ms: int) -> ServiceToken: ...

    async def get_service_token(self, token_id: int) -> ServiceToken | None: ...
