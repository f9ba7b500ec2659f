"""The user domain service and the workspace/support parts of AuthService, on both account-store backends:
what each change stores, the events 41, 46, 14, 13 and 67, and who may log in afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher

from cellstream.clock import ManualClock
from cellstream.domain.auth import AuthService
from cellstream.domain.credentials import sha1_hex
from cellstream.domain.principal import Principal
from cellstream.domain.users import Users, activation_digest
from cellstream.errors import AuthenticationFailed, Conflict, Forbidden, NotFound, Unprocessable
from cellstream.events.codec import decode_json
from cellstream.events.model import StoredEvent
from cellstream.ingest.notifier import Notifier
from cellstream.ingest.service import Ingestor
from cellstream.settings import Settings
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore
from cellstream.store.protocols import USER_ACTIVE, USER_DELETED, USER_PENDING, AccountStore, EventStore
from cellstream.store.sql.sqlite import open_sqlite_stores

KEY = "users-test-key-" + "u" * 40
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class World:
    accounts: AccountStore
    events: EventStore
    auth: AuthService
    users: Users
    woken: list[int]

    async def stored(self) -> list[dict[str, Any]]:
        return [decode_json(s.body) for s in await self.events.read_after(0, 100)]

    async def login(self, username: str, password: str = "pw") -> dict[str, str]:
        return await self.auth.authenticate({"username": username, "password": sha1_hex(password)},
                                            ["192.0.2.1"])


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock()
    settings = Settings(database_url="memory://", data_dir=tmp_path, jwt_secret=KEY, sqlite_cache_mb=16)
    accounts: AccountStore
    events: EventStore
    if request.param == "memory":
        memory = MemoryEventStore(clock)
        accounts, events = MemoryAccountStore(memory), memory
    else:
        events, accounts = await open_sqlite_stores(f"sqlite:///{tmp_path / 'c.db'}", settings, clock)
    notifier = Notifier()
    woken: list[int] = []

    async def subscriber(batch: Sequence[StoredEvent]) -> None:
        woken.extend(s.event.type_id for s in batch)

    notifier.subscribe(subscriber)
    auth = AuthService(accounts, Ingestor(events, notifier, clock), clock, settings, KEY, hasher=FAST)
    await auth.create_organisation("Acme", 1)
    await auth.create_organisation("Other", 2)
    yield World(accounts, events, auth, Users(accounts, auth, notifier, clock), woken)
    await events.close()


async def test_create_then_activate(world: World) -> None:
    admin = Principal(1, None, 7, ())
    created = await world.users.create(admin, {"username": "ada@example.com", "name": "Ada",
                                               "roles": [{"id": 3}, {"id": 3}]})
    user = created.user
    assert (user.status, user.roles, user.password_hash) == (USER_PENDING, (3,), "")
    assert await world.accounts.find_activation(activation_digest(created.activation_key)) == user
    with pytest.raises(AuthenticationFailed):
        await world.login("ada@example.com")
    with pytest.raises(Conflict):
        await world.users.create(admin, {"username": "ADA@example.com", "name": "Ada 2"})
    await world.users.activate({"activationKey": created.activation_key, "password": sha1_hex("pw")})
    assert (await world.login("ada@example.com"))["auth_token"]
    stored = await world.accounts.get_user(user.id)
    assert stored is not None
    assert stored.status == USER_ACTIVE
    with pytest.raises(Unprocessable):
        await world.users.activate({"activationKey": created.activation_key, "password": sha1_hex("x")})
    [event] = await world.stored()
    assert event["event_type"]["id"] == 41
    assert event["description"] == "User 'ada@example.com' verified successfully"
    assert event["user"] == {"id": user.id, "name": "Ada", "username": "ada@example.com"}
    assert event["organisation"] == {"id": 1, "name": "Acme"}
    assert world.woken == [41]


async def test_delete_ends_logins_and_records_who_was_deleted(world: World) -> None:
    admin = await world.auth.create_user(1, "admin@example.com", "pw", "Admin")
    bob = await world.auth.create_user(1, "bob@example.com", "pw", "Bob", (2,))
    token = (await world.login("bob@example.com"))["auth_token"]
    assert (await world.auth.principal(token)).user_id == bob.id
    caller = Principal(1, admin.id, None, (1,))
    with pytest.raises(Forbidden):
        await world.users.delete(Principal(1, bob.id, None, (2,)), admin.id)
    with pytest.raises(Forbidden):
        await world.users.delete(caller, admin.id)
    await world.users.delete(caller, bob.id)
    with pytest.raises(AuthenticationFailed):
        await world.auth.principal(token)
    with pytest.raises(AuthenticationFailed):
        await world.login("bob@example.com")
    with pytest.raises(NotFound):
        await world.users.delete(caller, bob.id)
    stored = await world.accounts.get_user(bob.id)
    assert stored is not None
    assert stored.status == USER_DELETED
    [event] = await world.stored()
    assert event["event_type"] == {"id": 46, "description": "User deleted"}
    assert event["event_severity"] == {"id": 1, "description": "Warn"}
    assert event["user"] == {"id": admin.id, "name": "Admin", "username": "admin@example.com"}
    assert event["detail"] == {"user": {"id": bob.id, "username": "bob@example.com"}}
    assert world.woken == [46]


async def test_mfa_key_deletion_is_recorded(world: World) -> None:
    ada = await world.auth.create_user(1, "ada@example.com", "pw", "Ada", (2,))
    own = Principal(1, ada.id, None, (2,))
    created = await world.users.create_mfa_key(own, {"type": {"id": 0}, "password": sha1_hex("pw")})
    with pytest.raises(NotFound):
        await world.users.delete_mfa_key(Principal(2, None, 3, ()), ada.id, created.key.id)
    await world.users.delete_mfa_key(own, "my", created.key.id)
    assert await world.accounts.list_mfa_keys(ada.id) == []
    [event] = await world.stored()
    assert event["event_type"]["id"] == 14
    assert event["description"] == (f"MFA key with Id '{created.key.id}' of Type 'Time-Based One-Time "
                                    "Password' deleted for user 'ada@example.com'")
    assert "detail" not in event


async def test_support_tokens_and_workspaces(world: World) -> None:
    admin = await world.auth.create_user(1, "admin@example.com", "pw", "Admin")
    ada = await world.auth.create_user(1, "ada@example.com", "pw", "Ada", (1, 2))
    caller = Principal(1, admin.id, None, (1,))
    support = await world.auth.support_token(caller, ada.id, {"role": 3})
    assert jwt.decode(support, options={"verify_signature": False})["sup"] == admin.id
    assert await world.auth.principal(support) == Principal(1, ada.id, None, (3,))
    with pytest.raises(NotFound):
        await world.auth.switch_workspace(caller, {"target_organisation": {"id": 2}})
    await world.users.assign_workspace(admin.id, 2, (3,))
    switched = (await world.auth.switch_workspace(caller, {"target_organisation": {"id": 2}}))["auth_token"]
    assert await world.auth.principal(switched) == Principal(2, admin.id, None, (3,))
    support_event, switch_event = await world.stored()
    assert support_event["event_type"] == {"id": 13, "description": "Support Access"}
    assert support_event["organisation"] == {"id": 1, "name": "Acme"}
    assert support_event["user"]["id"] == ada.id
    assert switch_event["event_type"] == {"id": 67, "description": "User switched workspaces"}
    assert switch_event["organisation"] == {"id": 2, "name": "Other"}
    assert switch_event["description"] == f"User with id: '{admin.id}', switched to workspace: 2"
    assert world.woken == [13, 67]
