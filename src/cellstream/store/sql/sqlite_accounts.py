"""SqliteAccountStore: organisations, users and tokens in the same SQLite file as the events.

Answers exactly as MemoryAccountStore (the contract suite checks): ids assigned by the database (the next
after the highest, as SQLite's rowid does), Conflict for a taken organisation id or username (compared
after Python's str.lower(), kept in `username_key` so the UNIQUE constraint enforces it), NotFound for a
missing organisation. Roles are stored as comma-separated ids.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cellstream.errors import Conflict, NotFound
from cellstream.store.protocols import ApplicationToken, Organisation, ServiceToken, User
from cellstream.store.sql.sqlite_db import SqliteDatabase, transaction

USER_COLUMNS = "id, org_id, username, name, password_hash, roles, status, created_ms, failed_logins, " \
    "locked_until_ms"
TOKEN_COLUMNS = "id, org_id, description, secret_hash, status, created_ms, expiry_ms, ip, creator_user_id"
SERVICE_COLUMNS = "id, description, secret_hash, created_ms, revoked"


def _user(row: tuple[Any, ...]) -> User:
    ident, org_id, username, name, password_hash, roles, status, created, failed, locked = row
    return User(ident, org_id, username, name, password_hash,
                tuple(int(r) for r in roles.split(",") if r), status, created, failed, locked)


def _token(row: tuple[Any, ...]) -> ApplicationToken:
    return ApplicationToken(*row)


def _service(row: tuple[Any, ...]) -> ServiceToken:
    ident, description, secret_hash, created, revoked = row
    return ServiceToken(ident, description, secret_hash, created, bool(revoked))


def _require_org(conn: sqlite3.Connection, org_id: int) -> None:
    if conn.execute("SELECT 1 FROM organisations WHERE id = ?", (org_id,)).fetchone() is None:
        raise NotFound(f"Organisation with Id '{org_id}' not found.")


def _one(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
    return row


class SqliteAccountStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

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
        row = await self._db.read(lambda conn: _one(
            conn, "SELECT id, name, created_ms FROM organisations WHERE id = ?", (org_id,)))
        return None if row is None else Organisation(*row)

    async def create_user(self, org_id: int, username: str, name: str, password_hash: str,
                          roles: tuple[int, ...], *, now_ms: int) -> User:
        def job(conn: sqlite3.Connection) -> User:
            with transaction(conn):
                _require_org(conn, org_id)
                if _one(conn, "SELECT 1 FROM users WHERE username_key = ?", (username.lower(),)):
                    raise Conflict(f"user {username!r} exists")
                cur = conn.execute(
                    "INSERT INTO users (org_id, username, username_key, name, password_hash, roles, status, "
                    "created_ms, failed_logins, locked_until_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?, 0, 0)",
                    (org_id, username, username.lower(), name, password_hash, ",".join(map(str, roles)),
                     now_ms))
                return User(int(cur.lastrowid or 0), org_id, username, name, password_hash, tuple(roles), 1,
                            now_ms)

        return await self._db.write(job)

    async def get_user(self, user_id: int) -> User | None:
        row = await self._db.read(lambda conn: _one(
            conn, f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)))
        return None if row is None else _user(row)

    async def find_user(self, username: str) -> User | None:
        row = await self._db.read(lambda conn: _one(
            conn, f"SELECT {USER_COLUMNS} FROM users WHERE username_key = ?", (username.lower(),)))
        return None if row is None else _user(row)

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
