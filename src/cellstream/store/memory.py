"""In-memory stores: the reference implementation of the ports, for tests and embedding.

Every operation is a plain scan; it answers exactly as the SQL stores do (the contract suite checks),
which makes it the executable definition of the store semantics.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from cellstream.clock import Clock, SystemClock
from cellstream.errors import Conflict, NotFound, StoreError
from cellstream.events.codec import encode_event
from cellstream.events.columns import EventColumns, columns_of
from cellstream.events.model import Event, StoredEvent
from cellstream.events.query import EventQuery, compare_keys, sort_values, sorted_rows
from cellstream.ids import EventIdGenerator
from cellstream.store.protocols import (
    ORGANISATION_CHANGES,
    USER_DELETED,
    USER_PENDING,
    AppendResult,
    ApplicationToken,
    EventPage,
    LogEntry,
    MfaKey,
    Organisation,
    ServiceToken,
    StaleOrganisation,
    User,
)


class MemoryEventStore:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._ids = EventIdGenerator(self._clock)
        self._last_stored_ms = 0
        self._positions: list[int] = []
        self._rows: dict[int, tuple[StoredEvent, EventColumns]] = {}
        self._by_key: dict[tuple[int, int], int] = {}
        self._last_position = 0
        self._lock = asyncio.Lock()

    async def append(self, events: Sequence[Event]) -> AppendResult:
        async with self._lock:
            fresh: list[tuple[int, Event, bytes]] = []
            batch_keys: dict[tuple[int, int], bytes] = {}
            duplicates = 0
            for index, event in enumerate(events):
                if event.id is None:
                    continue
                key = (event.org_id, event.id)
                body = encode_event(event)
                known = batch_keys.get(key)
                if known is None and key in self._by_key:
                    known = self._rows[self._by_key[key]][0].body
                if known is not None:
                    if known != body:
                        raise Conflict(f"event {index}: id {event.id} is already stored in organisation "
                                       f"{event.org_id} with different content")
                    duplicates += 1
                    continue
                batch_keys[key] = body
                fresh.append((index, event, body))
            missing = [i for i, e in enumerate(events) if e.id is None]
            generated = self._generate_ids(events, missing, batch_keys)
            for index in missing:
                event = events[index].with_id(generated[index])
                fresh.append((index, event, encode_event(event)))
            fresh.sort(key=lambda item: item[0])
            stored = []
            self._last_stored_ms = stored_ms = max(self._clock.now_ms(), self._last_stored_ms)
            for _, event, body in fresh:
                self._last_position += 1
                item = StoredEvent(self._last_position, event, body, stored_ms)
                stored.append(item)
                self._positions.append(item.position)
                self._rows[item.position] = (item, columns_of(event))
                self._by_key[(event.org_id, event.id or 0)] = item.position
            return AppendResult(stored, duplicates)

    def _generate_ids(self, events: Sequence[Event], missing: list[int],
                      batch_keys: dict[tuple[int, int], bytes]) -> dict[int, int]:
        """Ids for the events without one. Never one already taken in that organisation: a producer may
        have brought an id the generator would hand out; then the generator skips past it."""
        while missing:
            generated = dict(zip(missing, self._ids.next_ids(len(missing)), strict=True))
            keys = [(events[index].org_id, new) for index, new in generated.items()]
            taken = [key[1] for key in keys if key in self._by_key or key in batch_keys]
            if not taken:
                return generated
            self._ids.last = max(self._ids.last, *taken)
        return {}

    def _select(self, query: EventQuery) -> list[tuple[StoredEvent, EventColumns]]:
        return [row for row in self._rows.values() if query.matches(row[1])]

    async def page(self, query: EventQuery, *, limit: int, offset: int = 0,
                   after: tuple[Any, ...] | None = None, with_total: bool = False) -> EventPage:
        selected = self._select(query)
        bodies = {cols: item.body for item, cols in selected}
        ordered = sorted_rows(list(bodies), query.sort)
        if after is not None:
            ordered = [r for r in ordered if compare_keys(query.sort, sort_values(r, query.sort), after) > 0]
        chosen = ordered[offset:offset + limit]
        last = sort_values(chosen[-1], query.sort) if chosen else None
        more = len(ordered) > offset + limit
        return EventPage([bodies[c] for c in chosen], last, more, len(selected) if with_total else None)

    async def count(self, query: EventQuery) -> int:
        return len(self._select(query))

    async def read_after(self, position: int, limit: int, *, org_id: int | None = None) -> list[StoredEvent]:
        start = bisect.bisect_right(self._positions, position)
        out: list[StoredEvent] = []
        for pos in self._positions[start:]:
            item = self._rows[pos][0]
            if org_id is None or item.event.org_id == org_id:
                out.append(item)
                if len(out) >= limit:
                    break
        return out

    async def last_position(self) -> int:
        return self._last_position

    async def bodies_after(self, position: int, limit: int, *, org_id: int) -> list[LogEntry]:
        return [LogEntry(s.position, org_id, s.body, s.stored_ms)
                for s in await self.read_after(position, limit, org_id=org_id)]

    async def position_before(self, stored_ms: int) -> int:
        index = bisect.bisect_left(self._positions, stored_ms, key=lambda p: self._rows[p][0].stored_ms)
        if index < len(self._positions):
            return self._positions[index] - 1
        return self._positions[-1] if self._positions else self._last_position

    async def count_after(self, position: int, *, org_id: int) -> int:
        start = bisect.bisect_right(self._positions, position)
        return sum(1 for pos in self._positions[start:] if self._rows[pos][0].event.org_id == org_id)

    async def delete_stored_before(self, ts_ms: int) -> int:
        async with self._lock:
            doomed = [p for p, (item, _) in self._rows.items() if item.stored_ms < ts_ms]
            for pos in doomed:
                _, cols = self._rows.pop(pos)
                del self._by_key[(cols.org_id, cols.id)]
            gone = set(doomed)
            self._positions = [p for p in self._positions if p not in gone]
            return len(doomed)

    async def health(self) -> dict[str, Any]:
        return {"backend": "memory", "events": len(self._rows), "last_position": self._last_position}

    async def close(self) -> None:
        return None


def _mutating(method: Any) -> Any:
    @functools.wraps(method)
    async def wrapper(self: MemoryAccountStore, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return method(self, *args, **kwargs)
    return wrapper


class MemoryAccountStore:
    """Accounts in memory. Changes that emit events append them to `events` (the MemoryEventStore the
    platform uses) while holding the account lock, and are applied only once the append succeeded: a
    change is never kept without its events, nor events without their change. Without `events` such a
    change fails with StoreError (nothing changes)."""

    def __init__(self, events: MemoryEventStore | None = None) -> None:
        self._events = events
        self._orgs: dict[int, Organisation] = {}
        self._users: dict[int, User] = {}
        self._activations: dict[int, str] = {}  # user id → activation digest
        self._mfa_keys: dict[int, MfaKey] = {}
        self._memberships: dict[tuple[int, int], tuple[int, ...]] = {}  # (user id, org id) → roles
        self._app_tokens: dict[int, ApplicationToken] = {}
        self._service_tokens: dict[int, ServiceToken] = {}
        self._lock = asyncio.Lock()

    async def _append(self, events: Sequence[Event]) -> AppendResult:
        """Called under the lock, before the change is applied."""
        if not events:
            return AppendResult([], 0)
        if self._events is None:
            raise StoreError("this account store has no event store to record the change's events in")
        return await self._events.append(events)

    @_mutating
    def create_organisation(self, name: str, *, org_id: int | None = None, now_ms: int) -> Organisation:
        if org_id is None:
            org_id = max(self._orgs, default=0) + 1
        if org_id in self._orgs:
            raise Conflict(f"organisation {org_id} exists")
        org = Organisation(org_id, name, now_ms)
        self._orgs[org_id] = org
        return org

    async def get_organisation(self, org_id: int) -> Organisation | None:
        return self._orgs.get(org_id)

    async def update_organisation(self, org_id: int, changes: Mapping[str, Any], *,
                                  events: Sequence[Event],
                                  expected: Organisation | None = None) -> AppendResult:
        unknown = set(changes) - ORGANISATION_CHANGES
        if unknown:
            raise ValueError(f"not organisation fields that can change: {sorted(unknown)}")
        async with self._lock:
            org = self._orgs.get(org_id)
            if org is None:
                raise NotFound(f"Organisation with Id '{org_id}' not found.")
            if expected is not None and org != expected:
                raise StaleOrganisation(f"organisation {org_id} was changed meanwhile")
            updated = replace(org, **changes)
            result = await self._append(events)
            self._orgs[org_id] = updated
            return result

    def _taken(self, username: str) -> bool:
        key = username.lower()
        return any(u.username.lower() == key and u.status != USER_DELETED for u in self._users.values())

    @_mutating
    def create_user(self, org_id: int, username: str, name: str, password_hash: str,
                    roles: tuple[int, ...], *, now_ms: int, status: int = 1,
                    activation_digest: str | None = None) -> User:
        if org_id not in self._orgs:
            raise NotFound(f"Organisation with Id '{org_id}' not found.")
        if self._taken(username):
            raise Conflict(f"user {username!r} exists")
        if activation_digest is not None and activation_digest in self._activations.values():
            raise Conflict("activation key in use")
        user = User(max(self._users, default=0) + 1, org_id, username, name, password_hash, tuple(roles),
                    status, now_ms)
        self._users[user.id] = user
        if activation_digest is not None:
            self._activations[user.id] = activation_digest
        return user

    async def get_user(self, user_id: int) -> User | None:
        return self._users.get(user_id)

    async def find_user(self, username: str) -> User | None:
        key = username.lower()
        return next((u for u in self._users.values()
                     if u.username.lower() == key and u.status != USER_DELETED), None)

    async def list_users(self, org_id: int) -> list[User]:
        return sorted((u for u in self._users.values() if u.org_id == org_id), key=lambda u: u.id)

    async def find_activation(self, digest: str) -> User | None:
        user_id = next((i for i, d in self._activations.items() if d == digest), None)
        return None if user_id is None else self._users.get(user_id)

    async def activate_user(self, user_id: int, digest: str, password_hash: str, *,
                            events: Sequence[Event]) -> AppendResult:
        async with self._lock:
            user = self._users.get(user_id)
            if user is None or user.status != USER_PENDING or self._activations.get(user_id) != digest:
                raise NotFound("the activation key is not valid")
            result = await self._append(events)
            self._users[user_id] = replace(user, status=1, password_hash=password_hash)
            del self._activations[user_id]
            return result

    async def delete_user(self, user_id: int, *, events: Sequence[Event]) -> AppendResult:
        async with self._lock:
            user = self._users.get(user_id)
            if user is None or user.status == USER_DELETED:
                raise NotFound(f"User with id '{user_id}' not found")
            result = await self._append(events)
            self._users[user_id] = replace(user, status=USER_DELETED)
            self._activations.pop(user_id, None)
            for key in [k for k, m in self._mfa_keys.items() if m.user_id == user_id]:
                del self._mfa_keys[key]
            for membership in [k for k in self._memberships if k[0] == user_id]:
                del self._memberships[membership]
            return result

    def _live_user(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None or user.status == USER_DELETED:
            raise NotFound(f"User with id '{user_id}' not found")
        return user

    @_mutating
    def create_mfa_key(self, user_id: int, type_id: int, secret: str, *, now_ms: int) -> MfaKey:
        self._live_user(user_id)
        if any(k.user_id == user_id for k in self._mfa_keys.values()):
            raise Conflict("the user has an MFA key already")
        key = MfaKey(max(self._mfa_keys, default=0) + 1, user_id, type_id, 0, secret, now_ms)
        self._mfa_keys[key.id] = key
        return key

    async def list_mfa_keys(self, user_id: int) -> list[MfaKey]:
        return sorted((k for k in self._mfa_keys.values() if k.user_id == user_id), key=lambda k: k.id)

    async def delete_mfa_key(self, user_id: int, key_id: int, *, events: Sequence[Event]) -> AppendResult:
        async with self._lock:
            key = self._mfa_keys.get(key_id)
            if key is None or key.user_id != user_id:
                raise NotFound(f"MFA Key with id '{key_id}' not found")
            result = await self._append(events)
            del self._mfa_keys[key_id]
            return result

    @_mutating
    def set_membership(self, user_id: int, org_id: int, roles: tuple[int, ...]) -> None:
        self._live_user(user_id)
        if org_id not in self._orgs:
            raise NotFound(f"Organisation with Id '{org_id}' not found.")
        self._memberships[(user_id, org_id)] = tuple(roles)

    async def get_membership(self, user_id: int, org_id: int) -> tuple[int, ...] | None:
        return self._memberships.get((user_id, org_id))

    @_mutating
    def update_login_state(self, user_id: int, failed_logins: int, locked_until_ms: int) -> None:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(f"User with Id '{user_id}' not found.")
        self._users[user_id] = replace(user, failed_logins=failed_logins, locked_until_ms=locked_until_ms)

    @_mutating
    def create_application_token(self, org_id: int, description: str, secret_hash: str, *, now_ms: int,
                                 expiry_ms: int | None = None, ip: str | None = None,
                                 creator_user_id: int | None = None) -> ApplicationToken:
        if org_id not in self._orgs:
            raise NotFound(f"Organisation with Id '{org_id}' not found.")
        token = ApplicationToken(max(self._app_tokens, default=0) + 1, org_id, description, secret_hash, 0,
                                 now_ms, expiry_ms, ip, creator_user_id)
        self._app_tokens[token.id] = token
        return token

    async def get_application_token(self, token_id: int) -> ApplicationToken | None:
        return self._app_tokens.get(token_id)

    async def list_application_tokens(self, org_id: int) -> list[ApplicationToken]:
        return [t for t in self._app_tokens.values() if t.org_id == org_id]

    @_mutating
    def update_application_token(self, org_id: int, token_id: int, *, description: str | None = None,
                                 status: int | None = None) -> ApplicationToken | None:
        token = self._app_tokens.get(token_id)
        if token is None or token.org_id != org_id:
            return None
        token = replace(token, description=token.description if description is None else description,
                        status=token.status if status is None else status)
        self._app_tokens[token_id] = token
        return token

    @_mutating
    def create_service_token(self, description: str, secret_hash: str, *, now_ms: int) -> ServiceToken:
        token = ServiceToken(max(self._service_tokens, default=0) + 1, description, secret_hash, now_ms)
        self._service_tokens[token.id] = token
        return token

    async def get_service_token(self, token_id: int) -> ServiceToken | None:
        return self._service_tokens.get(token_id)
