"""The store ports. Every implementation (memory, SQLite, later PostgreSQL) passes the same contract
suite in tests/contracts/.

The event store is the source of truth and the log: each stored event gets a `position` that only grows,
in commit order, without gaps, so every consumer can read "after position P" and keep a durable cursor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from cellstream.errors import Conflict
from cellstream.events.model import Event, StoredEvent
from cellstream.events.query import EventQuery


@dataclass(frozen=True)
class AppendResult:
    stored: list[StoredEvent]  # the newly stored events, in position order, ids assigned
    duplicates: int = 0  # events skipped because an identical one (same organisation and id) was stored


class LogEntry(NamedTuple):
    """One entry of a log (events or usage records) as stored: its position, organisation, JSON, time."""

    position: int
    org_id: int
    body: bytes
    stored_ms: int


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

    async def bodies_after(self, position: int, limit: int, *, org_id: int) -> list[LogEntry]:
        """`read_after` of one organisation without decoding the events: for readers that only pass the
        stored JSON on (a data stream without filters)."""
        ...

    async def last_position(self) -> int:
        """The highest position ever committed (0 for an empty store; deletions do not lower it)."""
        ...

    async def position_before(self, stored_ms: int) -> int:
        """The highest stored position stored before `stored_ms`: reading after it starts at the first event
        stored at or after that time (a stream's replay)."""
        ...

    async def count_after(self, position: int, *, org_id: int) -> int:
        """How many of the organisation's events lie after `position` (a stream's lag)."""
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
    """An organisation (a "workspace"). The fields after `created_ms` are emnify's organisation details
    (facts §H.5) and billing configuration (§A.2 row 32); an organisation created without them has the
    defaults below."""

    id: int
    name: str
    created_ms: int
    country_id: int | None = None  # cellstream.network.operators country id, e.g. 74 Germany
    verification_type_id: int | None = None
    verification: str | None = None  # e.g. a VAT id
    monthly_cost_limit: int | None = None
    currency_id: int = 1  # 1 EUR, 2 USD
    status_id: int = 0  # 0 Enabled, 1 Suspended, 2 Deleted
    type_id: int = 4  # 4 Enterprise
    charging_model_id: int = 0
    payment_term_id: int = 0
    vatin: str | None = None


# What `AccountStore.update_organisation` may change: every field but `id` and `created_ms`.
ORGANISATION_CHANGES = frozenset({
    "name", "country_id", "verification_type_id", "verification", "monthly_cost_limit", "currency_id",
    "status_id", "type_id", "charging_model_id", "payment_term_id", "vatin"})


USER_PENDING, USER_ACTIVE, USER_SUSPENDED, USER_DELETED = 0, 1, 2, 3  # emnify's user statuses


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
class MfaKey:
    """A user's multi-factor authentication key (facts §D): type 0 Time-Based One-Time Password; status
    0 Activation Pending, 1 Active."""

    id: int
    user_id: int
    type_id: int
    status_id: int
    secret: str  # base32; the TOTP verifier needs it in the clear
    created_ms: int
    activated_ms: int | None = None


class StaleOrganisation(Conflict):
    """`update_organisation` was given an `expected` organisation that is no longer what is stored
    (someone changed it meanwhile): read it again, decide again."""


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

    async def update_organisation(self, org_id: int, changes: Mapping[str, Any], *,
                                  events: Sequence[Event],
                                  expected: Organisation | None = None) -> AppendResult:
        """Set the fields named in `changes` (of ORGANISATION_CHANGES; anything else is a ValueError) and
        append `events` in the same transaction: both or neither. NotFound if the organisation does not
        exist; StaleOrganisation if `expected` is given and differs from the stored organisation."""
        ...

    async def create_user(self, org_id: int, username: str, name: str, password_hash: str,
                          roles: tuple[int, ...], *, now_ms: int, status: int = 1,
                          activation_digest: str | None = None) -> User:
        """Raises Conflict if the username exists (any case) on a user not deleted, NotFound if the
        organisation does not exist. `activation_digest` (with status 0 Activation Pending) is what
        `activate_user` must be shown to activate the user."""
        ...

    async def get_user(self, user_id: int) -> User | None: ...

    async def find_user(self, username: str) -> User | None:
        """Case-insensitive look-up by username (an e-mail address); deleted users are not found."""
        ...

    async def list_users(self, org_id: int) -> list[User]:
        """The users whose organisation is `org_id`, deleted ones included, in id order."""
        ...

    async def find_activation(self, digest: str) -> User | None:
        """The user waiting for activation with `digest`."""
        ...

    async def activate_user(self, user_id: int, digest: str, password_hash: str, *,
                            events: Sequence[Event]) -> AppendResult:
        """Status 1 Active with the password, the activation used up, and `events` appended, in one
        transaction. NotFound unless the user is still waiting for activation with `digest`."""
        ...

    async def delete_user(self, user_id: int, *, events: Sequence[Event]) -> AppendResult:
        """Status 3 Deleted and `events` appended, in one transaction. The username becomes free again;
        the user's pending activation, MFA keys and workspace memberships go. NotFound if there is no such
        user or it is deleted already."""
        ...

    async def create_mfa_key(self, user_id: int, type_id: int, secret: str, *, now_ms: int) -> MfaKey:
        """A new key, status 0 Activation Pending. NotFound for a missing or deleted user; Conflict if
        the user has a key already."""
        ...

    async def list_mfa_keys(self, user_id: int) -> list[MfaKey]:
        """The user's MFA keys in id order."""
        ...

    async def delete_mfa_key(self, user_id: int, key_id: int, *, events: Sequence[Event]) -> AppendResult:
        """Remove the key and append `events` in one transaction; NotFound if the user has no such key."""
        ...

    async def set_membership(self, user_id: int, org_id: int, roles: tuple[int, ...]) -> None:
        """Make the user a member of another organisation (workspace) with `roles`, or change the roles.
        NotFound for a missing or deleted user or a missing organisation."""
        ...

    async def get_membership(self, user_id: int, org_id: int) -> tuple[int, ...] | None:
        """The user's roles in workspace `org_id` by membership (not its own organisation), or None."""
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
