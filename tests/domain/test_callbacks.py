"""The API callback and secret service on both resource-store backends: records as stored, organisation
scoping, who may change them, input checks naming the field, and that a secret never shows in a repr."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cellstream.clock import ManualClock
from cellstream.domain.callbacks import MAX_PURPOSE, MAX_SECRET, ApiCallback, ApiSecret, Callbacks
from cellstream.domain.principal import ADMINISTRATOR, OBSERVER, USER, Principal
from cellstream.errors import Forbidden, NotFound, Unprocessable
from cellstream.store.memory import MemoryEventStore
from cellstream.store.memory_resources import MemoryResourceStore
from cellstream.store.sql.sqlite import migrate, open_sqlite_stores
from cellstream.store.sql.sqlite_resources import SqliteResourceStore
from tests.contracts.factory import BASE_MS, settings_for

ADMIN = Principal(1, 10, None, (ADMINISTRATOR,))
APP_TOKEN = Principal(1, None, 5)
OBSERVER_1 = Principal(1, 11, None, (OBSERVER,))
USER_1 = Principal(1, 12, None, (USER,))
OTHER_ADMIN = Principal(2, 20, None, (ADMINISTRATOR,))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("callbacks-template") / "c.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["memory", "sqlite"])
async def callbacks(request: pytest.FixtureRequest, tmp_path: Path,
                    migrated: Path) -> AsyncIterator[Callbacks]:
    clock = ManualClock()
    if request.param == "memory":
        yield Callbacks(MemoryResourceStore(MemoryEventStore(clock), clock))
        return
    shutil.copyfile(migrated, tmp_path / "c.db")
    url = f"sqlite:///{tmp_path / 'c.db'}"
    events, _ = await open_sqlite_stores(url, settings_for(url), clock)
    try:
        yield Callbacks(SqliteResourceStore(events, clock))
    finally:
        await events.close()


async def test_callbacks_are_created_listed_read_and_deleted(callbacks: Callbacks) -> None:
    first = await callbacks.create_callback(ADMIN, " https://example.com/sms ", "Testing SMS Delivery Report")
    second = await callbacks.create_callback(APP_TOKEN, "http://example.com:8080/")
    assert first == ApiCallback(id=1, org_id=1, url="https://example.com/sms",
                                purpose="Testing SMS Delivery Report", created_ms=BASE_MS)
    assert (second.id, second.purpose) == (2, None)
    assert await callbacks.list_callbacks(OBSERVER_1) == [first, second]
    assert await callbacks.get_callback(USER_1, 2) == second
    await callbacks.delete_callback(ADMIN, 1)
    assert await callbacks.list_callbacks(ADMIN) == [second]
    with pytest.raises(NotFound):
        await callbacks.get_callback(ADMIN, 1)
    with pytest.raises(NotFound):
        await callbacks.delete_callback(ADMIN, 1)


async def test_secrets_are_kept_for_signing_and_hidden_from_repr(callbacks: Callbacks) -> None:
    created = await callbacks.create_secret(ADMIN, "P9MM^Y$n83jgx5z", "Testing Callback Secret")
    assert created == ApiSecret(id=1, org_id=1, purpose="Testing Callback Secret", secret="P9MM^Y$n83jgx5z")
    assert (await callbacks.get_secret(OBSERVER_1, 1)).secret == "P9MM^Y$n83jgx5z"
    assert [s.id for s in await callbacks.list_secrets(USER_1)] == [1]
    assert "P9MM" not in repr(created)
    assert "P9MM" not in str(await callbacks.list_secrets(ADMIN))
    await callbacks.delete_secret(APP_TOKEN, 1)
    assert await callbacks.list_secrets(ADMIN) == []


async def test_another_organisations_records_do_not_exist(callbacks: Callbacks) -> None:
    callback = await callbacks.create_callback(ADMIN, "https://example.com/")
    secret = await callbacks.create_secret(ADMIN, "s")
    assert await callbacks.list_callbacks(OTHER_ADMIN) == []
    assert await callbacks.list_secrets(OTHER_ADMIN) == []
    for attempt in (callbacks.get_callback(OTHER_ADMIN, callback.id),
                    callbacks.delete_callback(OTHER_ADMIN, callback.id),
                    callbacks.get_secret(OTHER_ADMIN, secret.id),
                    callbacks.delete_secret(OTHER_ADMIN, secret.id)):
        with pytest.raises(NotFound):
            await attempt
    assert await callbacks.get_callback(ADMIN, callback.id) == callback  # untouched by the attempts
    assert await callbacks.get_secret(ADMIN, secret.id) == secret


async def test_only_administrators_and_application_tokens_change_them(callbacks: Callbacks) -> None:
    callback = await callbacks.create_callback(ADMIN, "https://example.com/")
    secret = await callbacks.create_secret(ADMIN, "s")
    for member in (OBSERVER_1, USER_1):
        for attempt in (callbacks.create_callback(member, "https://example.com/"),
                        callbacks.create_secret(member, "s"),
                        callbacks.delete_callback(member, callback.id),
                        callbacks.delete_secret(member, secret.id)):
            with pytest.raises(Forbidden):
                await attempt
    assert len(await callbacks.list_callbacks(ADMIN)) == 1
    assert len(await callbacks.list_secrets(ADMIN)) == 1


@pytest.mark.parametrize(("url", "purpose", "field"), [
    ("ftp://example.com/", None, "url"), ("example.com/hook", None, "url"), ("https://", None, "url"),
    ("", None, "url"), (None, None, "url"), (42, None, "url"), ("https://exa mple.com/", None, "url"),
    ("https://example.com:99999/", None, "url"), ("https://example.com/" + "a" * 2100, None, "url"),
    ("https://example.com/", "p" * (MAX_PURPOSE + 1), "purpose"), ("https://example.com/", 7, "purpose"),
])
async def test_bad_callbacks_name_the_field_and_store_nothing(callbacks: Callbacks, url: object,
                                                              purpose: object, field: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        await callbacks.create_callback(ADMIN, url, purpose)
    assert [p.field for p in raised.value.problems] == [field]
    assert await callbacks.list_callbacks(ADMIN) == []


@pytest.mark.parametrize(("secret", "purpose", "field"), [
    ("", None, "secret"), (None, None, "secret"), (123, None, "secret"),
    ("x" * (MAX_SECRET + 1), None, "secret"), ("s", "p" * (MAX_PURPOSE + 1), "purpose"),
])
async def test_bad_secrets_name_the_field_and_store_nothing(callbacks: Callbacks, secret: object,
                                                            purpose: object, field: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        await callbacks.create_secret(ADMIN, secret, purpose)
    assert [p.field for p in raised.value.problems] == [field]
    assert await callbacks.list_secrets(ADMIN) == []


async def test_limits_are_inclusive(callbacks: Callbacks) -> None:
    secret = await callbacks.create_secret(ADMIN, "x" * MAX_SECRET, "p" * MAX_PURPOSE)
    assert len(secret.secret) == MAX_SECRET
    callback = await callbacks.create_callback(ADMIN, "HTTPS://Example.COM", "")
    assert (callback.url, callback.purpose) == ("HTTPS://Example.COM", "")
