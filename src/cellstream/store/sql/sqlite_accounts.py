"""SqliteAccountStore: organisations, users and tokens in the same SQLite file as the events.

Answers exactly as MemoryAccountStore (the contract suite checks): ids assigned by the database (the next
after the highest, as SQLite's rowid does), Conflict for a taken organisation id or username (compared
after Python's str.lower(), kept in `username_key` so the UNIQUE constraint enforces it), NotFound for a
missing organisation. Roles are stored as comma-separated ids. A deleted user keeps its row (events name
it) but gives up its username: its `username_key` becomes `deleted:<id>:<username>`, which no e-mail
address can equal.

Changes that emit events run as one job on the writer thread: the change and
`SqliteEventStore.append_on_writer` inside one transaction, so they commit or roll back together.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from cellstream.clock import Clock, SystemClock
from cellstream.errors import Conflict, NotFound, StoreError
from cellstream.events.model import Event
from cellstream.store.protocols import (
    ORGANISATION_CHANGES,
    USER_ACTIVE,
    USER_DELETED,
    USER_PENDING,
    AppendResult,
    ApplicationToken,
    MfaKey,
    Organisation,
    ServiceToken,
    StaleOrganisation,
    User,
)
from cellstream.store.sql.sqlite_db import SqliteDatabase, transaction
from cellstream.store.sql.sqlite_events import SqliteEventStore

T = TypeVar("T")

USER_COLUMNS = "id, org_id, username, name, password_hash, roles, status, created_ms, failed_logins, " \
    "locked_until_ms"
TOKEN_COLUMNS = "id, org_id, description, secret_hash, status, created_ms, expiry_ms, ip, creator_user_id"
SERVICE_COLUMNS = "id, description, secret_hash, created_ms, revoked"
DETAIL_FIELDS = ("country_id", "verification_type_id", "verification", "monthly_cost_limit", "currency_id",
                 "status_id", "type_id", "charging_model_id", "payment_term_id", "vatin")
ORGANISATION = (f"SELECT o.id, o.name, o.created_ms, d.org_id, {', '.join('d.' + f for f in DETAIL_FIELDS)} "
                "FROM organisations o LEFT JOIN organisation_details d ON d.org_id = o.id WHERE o.id = ?")
SAVE_DETAILS = (f"INSERT OR REPLACE INTO organisation_details (org_id, {', '.join(DETAIL_FIELDS)}) "
                f"VALUES (?, {', '.join('?' for _ in DETAIL_FIELDS)})")
MFA_COLUMNS = "id, user_id, type_id, status_id, secret, created_ms, activated_ms"


def _user(row: tuple[Any, ...]) -> User:
    ident, org_id, username, name, password_hash, roles, status, created, failed, locked = row
    return User(ident, org_id, username, name, password_hash, _roles(roles), status, created, failed, locked)


def _token(row: tuple[Any, ...]) -> ApplicationToken:
    return ApplicationToken(*row)


def _service(row: tuple[Any, ...]) -> ServiceToken:
    ident, description, secret_hash, created, revoked = row
    return ServiceToken(ident, description, secret_hash, created, bool(revoked))


def _organisation(row: tuple[Any, ...]) -> Organisation:
    ident, name, created, has_details, *details = row
    if has_details is None:
        return Organisation(ident, name, created)
    return Organisation(ident, name, created, **dict(zip(DETAIL_FIELDS, details, strict=True)))


def _read_organisation(conn: sqlite3.Connection, org_id: int) -> Organisation | None:
    row = _one(conn, ORGANISATION, (org_id,))
    return None if row is None else _organisation(row)


def _read_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    row = _one(conn, f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
    return None if row is None else _user(row)


def _live_user(conn: sqlite3.Connection, user_id: int) -> User:
    user = _read_user(conn, user_id)
    if user is None or user.status == USER_DELETED:
        raise NotFound(f"User with id '{user_id}' not found")
    return user


def _roles(text: str) -> tuple[int, ...]:
    return tuple(int(r) for r in text.split(",") if r)


def _require_org(conn: sqlite3.Connection, org_id: int) -> None:
    if conn.execute("SELECT 1 FROM organisations WHERE id = ?", (org_id,)).fetchone() is None:
        raise NotFound(f"Organisation with Id '{org_id}' not found.")


def _one(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
    return row


class SqliteAccountStore:
    def __init__(self, db: SqliteDatabase, events: SqliteEventStore | None = None,
                 clock: Clock | None = None) -> None:
        """`events`: the event store on the same database, which changes that emit events append to;
        without it such a change fails with StoreError (nothing changes)."""
        self._db = db
        self._events = events
        self._clock = clock or SystemClock()

    async def _with_events(self, change: Callable[[sqlite3.Connection], object],
                           events: Sequence[Event]) -> AppendResult:
        """Run `change` and append `events` in one transaction on the writer thread."""
        batch = list(events)
        if batch and self._events is None:
            raise StoreError("this account store has no event store to record the change's events in")
        event_store = self._events
        now_ms = self._clock.now_ms()

        def job(conn: sqlite3.Connection) -> AppendResult:
            with transaction(conn):
                change(conn)
                if event_store is None:
                    return AppendResult([], 0)
                return event_store.append_on_writer(conn, batch, now_ms)

        return await self._db.write(job)

    async def create_organisation(self, name: str, *, org_id: int | None = None,
                                  now_ms: int) -> Organisation:
        def job(conn: sqlite3.Connection) -> Organisation:
            with transaction(conn):
                if org_id is not None and _one(conn, "SELECT 1 FROM organisations WHERE id = ?", (org_id,)):
                    raise Conflict(f"organisation {org_id} exists")
                cur = conn.execute("INSERT INTO organisations (id, name, created_ms) VALUES (?, ?, ?)",
                                   (org_id, name, now_ms))
                return Organisation(org_id if org_id is not None else int(cur.lastrowid or 0), name, now_ms)

        return await self._db.write(job)

    async def get_organisation(self, org_id: int) -> Organisation | None:
        return await self._db.read(lambda conn: _read_organisation(conn, org_id))

    async def update_organisation(self, org_id: int, changes: Mapping[str, Any], *,
                                  events: Sequence[Event],
                                  expected: Organisation | None = None) -> AppendResult:
        unknown = set(changes) - ORGANISATION_CHANGES
        if unknown:
            raise ValueError(f"not organisation fields that can change: {sorted(unknown)}")
        fields = dict(changes)

        def change(conn: sqlite3.Connection) -> None:
            org = _read_organisation(conn, org_id)
            if org is None:
                raise NotFound(f"Organisation with Id '{org_id}' not found.")
            if expected is not None and org != expected:
                raise StaleOrganisation(f"organisation {org_id} was changed meanwhile")
            updated = dataclasses.replace(org, **fields)
            if updated.name != org.name:
                conn.execute("UPDATE organisations SET name = ? WHERE id = ?", (updated.name, org_id))
            conn.execute(SAVE_DETAILS, (org_id, *(getattr(updated, f) for f in DETAIL_FIELDS)))

        return await self._with_events(change, events)

    async def create_user(self, org_id: int, username: str, name: str, password_hash: str,
                          roles: tuple[int, ...], *, now_ms: int, status: int = USER_ACTIVE,
                          activation_digest: str | None = None) -> User:
        def job(conn: sqlite3.Connection) -> User:
            with transaction(conn):
                _require_org(conn, org_id)
                if _one(conn, "SELECT 1 FROM users WHERE username_key = ?", (username.lower(),)):
                    raise Conflict(f"user {username!r} exists")
                if activation_digest is not None and _one(
                        conn, "SELECT 1 FROM user_activations WHERE digest = ?", (activation_digest,)):
                    raise Conflict("activation key in use")
                cur = conn.execute(
                    "INSERT INTO users (org_id, username, username_key, name, password_hash, roles, status, "
                    "created_ms, failed_logins, locked_until_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                    (org_id, username, username.lower(), name, password_hash, ",".join(map(str, roles)),
                     status, now_ms))
                user_id = int(cur.lastrowid or 0)
                if activation_digest is not None:
                    conn.execute("INSERT INTO user_activations (user_id, digest) VALUES (?, ?)",
                                 (user_id, activation_digest))
                return User(user_id, org_id, username, name, password_hash, tuple(roles), status, now_ms)

        return await self._db.write(job)

    async def get_user(self, user_id: int) -> User | None:
        row = await self._db.read(lambda conn: _one(
            conn, f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)))
        return None if row is None else _user(row)

    async def find_user(self, username: str) -> User | None:
        row = await self._db.read(lambda conn: _one(
            conn, f"SELECT {USER_COLUMNS} FROM users WHERE username_key = ? AND status != ?",
            (username.lower(), USER_DELETED)))
        return None if row is None else _user(row)

    async def list_users(self, org_id: int) -> list[User]:
        sql = f"SELECT {USER_COLUMNS} FROM users WHERE org_id = ? ORDER BY id"
        rows = await self._db.read(lambda conn: conn.execute(sql, (org_id,)).fetchall())
        return [_user(row) for row in rows]

    async def find_activation(self, digest: str) -> User | None:
        sql = (f"SELECT {USER_COLUMNS} FROM users WHERE id = "
               "(SELECT user_id FROM user_activations WHERE digest = ?)")
        row = await self._db.read(lambda conn: _one(conn, sql, (digest,)))
        return None if row is None else _user(row)

    async def activate_user(self, user_id: int, digest: str, password_hash: str, *,
                            events: Sequence[Event]) -> AppendResult:
        def change(conn: sqlite3.Connection) -> None:
            user = _read_user(conn, user_id)
            waiting = _one(conn, "SELECT 1 FROM user_activations WHERE user_id = ? AND digest = ?",
                           (user_id, digest))
            if user is None or user.status != USER_PENDING or waiting is None:
                raise NotFound("the activation key is not valid")
            conn.execute("UPDATE users SET status = ?, password_hash = ? WHERE id = ?",
                         (USER_ACTIVE, password_hash, user_id))
            conn.execute("DELETE FROM user_activations WHERE user_id = ?", (user_id,))

        return await self._with_events(change, events)

    async def delete_user(self, user_id: int, *, events: Sequence[Event]) -> AppendResult:
        def change(conn: sqlite3.Connection) -> None:
            user = _live_user(conn, user_id)
            conn.execute("UPDATE users SET status = ?, username_key = ? WHERE id = ?",
                         (USER_DELETED, f"deleted:{user_id}:{user.username.lower()}", user_id))
            for table in ("user_activations", "mfa_keys", "workspace_members"):
                conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))

        return await self._with_events(change, events)

    async def create_mfa_key(self, user_id: int, type_id: int, secret: str, *, now_ms: int) -> MfaKey:
        def job(conn: sqlite3.Connection) -> MfaKey:
            with transaction(conn):
                _live_user(conn, user_id)
                if _one(conn, "SELECT 1 FROM mfa_keys WHERE user_id = ?", (user_id,)):
                    raise Conflict("the user has an MFA key already")
                cur = conn.execute("INSERT INTO mfa_keys (user_id, type_id, status_id, secret, created_ms) "
                                   "VALUES (?, ?, 0, ?, ?)", (user_id, type_id, secret, now_ms))
                return MfaKey(int(cur.lastrowid or 0), user_id, type_id, 0, secret, now_ms)

        return await self._db.write(job)

    async def list_mfa_keys(self, user_id: int) -> list[MfaKey]:
        sql = f"SELECT {MFA_COLUMNS} FROM mfa_keys WHERE user_id = ? ORDER BY id"
        rows = await self._db.read(lambda conn: conn.execute(sql, (user_id,)).fetchall())
        return [MfaKey(*row) for row in rows]

    async def delete_mfa_key(self, user_id: int, key_id: int, *, events: Sequence[Event]) -> AppendResult:
        def change(conn: sqlite3.Connection) -> None:
            if not conn.execute("DELETE FROM mfa_keys WHERE id = ? AND user_id = ?",
                                (key_id, user_id)).rowcount:
                raise NotFound(f"MFA Key with id '{key_id}' not found")

        return await self._with_events(change, events)

    async def set_membership(self, user_id: int, org_id: int, roles: tuple[int, ...]) -> None:
        def job(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                _live_user(conn, user_id)
                _require_org(conn, org_id)
                conn.execute("INSERT OR REPLACE INTO workspace_members (user_id, org_id, roles) "
                             "VALUES (?, ?, ?)", (user_id, org_id, ",".join(map(str, roles))))

        await self._db.write(job)

    async def get_membership(self, user_id: int, org_id: int) -> tuple[int, ...] | None:
        row = await self._db.read(lambda conn: _one(
            conn, "SELECT roles FROM workspace_members WHERE user_id = ? AND org_id = ?", (user_id, org_id)))
        return None if row is None else _roles(row[0])

    async def update_login_state(self, user_id: int, failed_logins: int, locked_until_ms: int) -> None:
        def job(conn: sqlite3.Connection) -> int:
            return conn.execute("UPDATE users SET failed_logins = ?, locked_until_ms = ? WHERE id = ?",
                                (failed_logins, locked_until_ms, user_id)).rowcount

        if not await self._db.write(job):
            raise NotFound(f"User with Id '{user_id}' not found.")

    async def create_application_token(self, org_id: int, description: str, secret_hash: str, *,
                                       now_ms: int, expiry_ms: int | None = None, ip: str | None = None,
                                       creator_user_id: int | None = None) -> ApplicationToken:
        values = (org_id, description, secret_hash, 0, now_ms, expiry_ms, ip, creator_user_id)

        def job(conn: sqlite3.Connection) -> ApplicationToken:
            with transaction(conn):
                _require_org(conn, org_id)
                cur = conn.execute(
                    "INSERT INTO application_tokens (org_id, description, secret_hash, status, created_ms, "
                    "expiry_ms, ip, creator_user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
                return ApplicationToken(int(cur.lastrowid or 0), *values)

        return await self._db.write(job)

    async def get_application_token(self, token_id: int) -> ApplicationToken | None:
        row = await self._db.read(lambda conn: _one(
            conn, f"SELECT {TOKEN_COLUMNS} FROM application_tokens WHERE id = ?", (token_id,)))
        return None if row is None else _token(row)

    async def list_application_tokens(self, org_id: int) -> list[ApplicationToken]:
        sql = f"SELECT {TOKEN_COLUMNS} FROM application_tokens WHERE org_id = ? ORDER BY id"
        rows = await self._db.read(lambda conn: conn.execute(sql, (org_id,)).fetchall())
        return [_token(row) for row in rows]

    async def update_application_token(self, org_id: int, token_id: int, *, description: str | None = None,
                                       status: int | None = None) -> ApplicationToken | None:
        def job(conn: sqlite3.Connection) -> ApplicationToken | None:
            with transaction(conn):
                conn.execute(
                    "UPDATE application_tokens SET description = coalesce(?, description), "
                    "status = coalesce(?, status) WHERE id = ? AND org_id = ?",
                    (description, status, token_id, org_id))
                sql = f"SELECT {TOKEN_COLUMNS} FROM application_tokens WHERE id = ? AND org_id = ?"
                row = _one(conn, sql, (token_id, org_id))
                return None if row is None else _token(row)

        return await self._db.write(job)

    async def create_service_token(self, description: str, secret_hash: str, *,
                                   now_ms: int) -> ServiceToken:
        def job(conn: sqlite3.Connection) -> ServiceToken:
            cur = conn.execute("INSERT INTO service_tokens (description, secret_hash, created_ms, revoked) "
                               "VALUES (?, ?, ?, 0)", (description, secret_hash, now_ms))
            return ServiceToken(int(cur.lastrowid or 0), description, secret_hash, now_ms)

        return await self._db.write(job)

    async def get_service_token(self, token_id: int) -> ServiceToken | None:
        row = await self._db.read(lambda conn: _one(
            conn, f"SELECT {SERVICE_COLUMNS} FROM service_tokens WHERE id = ?", (token_id,)))
        return None if row is None else _service(row)

    async def close(self) -> None:
        """Nothing to do: the event store owns the shared database and closes it."""
