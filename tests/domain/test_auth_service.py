"""AuthService without HTTP: what is stored, token formats, JWT claims and checks, the principal cache."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher

from cellstream.clock import ManualClock
from cellstream.domain.auth import AuthService
from cellstream.domain.credentials import APPLICATION, SERVICE, parse_token, sha1_hex
from cellstream.domain.principal import Principal
from cellstream.domain.ttl_cache import TtlCache
from cellstream.errors import AuthenticationFailed, Conflict, Unprocessable
from cellstream.ingest.notifier import Notifier
from cellstream.ingest.service import Ingestor
from cellstream.settings import Settings
from cellstream.store.memory import MemoryAccountStore, MemoryEventStore

KEY = "domain-test-key-" + "d" * 40
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class CountingAccounts(MemoryAccountStore):
    """Counts the look-ups a bearer check makes."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def get_application_token(self, token_id: int) -> Any:
        self.lookups += 1
        return await super().get_application_token(token_id)

    async def get_user(self, user_id: int) -> Any:
        self.lookups += 1
        return await super().get_user(user_id)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def auth(tmp_path: Path, clock: ManualClock) -> AsyncIterator[AuthService]:
    accounts = CountingAccounts()
    events = MemoryEventStore(clock)
    settings = Settings(database_url="memory://", data_dir=tmp_path, jwt_secret=KEY)
    yield AuthService(accounts, Ingestor(events, Notifier(), clock), clock, settings, KEY, hasher=FAST)
    await events.close()


async def test_organisations_are_ensured_once(auth: AuthService) -> None:
    first = await auth.ensure_organisation(5)
    assert first.name == "Organisation 5"
    assert await auth.ensure_organisation(5, "Another name") == first
    assert (await auth.create_organisation("Named")).id == 6
    with pytest.raises(Conflict):
        await auth.create_organisation("Again", 5)


async def test_users_keep_argon2_of_the_sha1_digest(auth: AuthService) -> None:
    await auth.ensure_organisation(1)
    user = await auth.create_user(1, " ann@acme.test ", "s3cret", "Ann")
    assert user.username == "ann@acme.test"
    assert user.roles == (1,)
    assert user.status == 1
    assert user.password_hash.startswith("$argon2id$")
    assert "s3cret" not in user.password_hash
    FAST.verify(user.password_hash, sha1_hex("s3cret"))
    assert await auth.verify_plain_password(user, "s3cret")
    assert not await auth.verify_plain_password(user, "S3cret")


@pytest.mark.parametrize(
    ("username", "roles", "field"),
    [("  ", (1,), "username"), ("a@b.c", (), "roles"), ("a@b.c", (1, 4), "roles")],
)
async def test_user_fields_are_checked(
    auth: AuthService, username: str, roles: tuple[int, ...], field: str
) -> None:
    await auth.ensure_organisation(1)
    with pytest.raises(Unprocessable) as caught:
        await auth.create_user(1, username, "pw", roles=roles)
    assert caught.value.problems[0].field == field


async def test_token_strings_are_opaque_and_typed(auth: AuthService) -> None:
    await auth.ensure_organisation(1)
    app_token, app_text = await auth.create_application_token(1, "x")
    service, service_text = await auth.create_service_token("producer")
    for text in (app_text, service_text):
        assert re.fullmatch(r"[A-Za-z0-9_-]{50,60}", text)
    assert parse_token(APPLICATION, app_text) is not None
    assert parse_token(SERVICE, app_text) is None
    assert parse_token(SERVICE, service_text) is not None
    assert app_text not in app_token.secret_hash
    assert service_text not in service.secret_hash
    assert (await auth.verify_service_token(service_text)).id == service.id
    with pytest.raises(AuthenticationFailed):
        await auth.verify_service_token(app_text)


async def test_auth_token_claims(auth: AuthService, clock: ManualClock) -> None:
    await auth.ensure_organisation(3)
    user = await auth.create_user(3, "u@x.test", "pw", roles=(3,))
    tokens = await auth.authenticate({"username": "u@x.test", "password": sha1_hex("pw")}, ["127.0.0.1"])
    claims = jwt.decode(
        tokens["auth_token"], KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert {k: claims[k] for k in ("typ", "org", "uid", "roles", "sub")} == {
        "typ": "auth",
        "org": 3,
        "uid": user.id,
        "roles": [3],
        "sub": f"user:{user.id}",
    }
    assert claims["exp"] - claims["iat"] == 240 * 60
    assert claims["iat"] == clock.now_ms() // 1000
    refresh = jwt.decode(
        tokens["refresh_token"], KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert refresh["typ"] == "refresh"
    assert refresh["exp"] - refresh["iat"] == 30 * 86_400
    assert await auth.principal(tokens["auth_token"]) == Principal(3, user.id, None, (3,))


@pytest.mark.parametrize("forge", ["other key", "alg none", "no type", "both ids"])
async def test_forged_tokens_are_refused(auth: AuthService, clock: ManualClock, forge: str) -> None:
    now = clock.now_ms() // 1000
    claims: dict[str, Any] = {"typ": "auth", "org": 1, "tid": 1, "roles": [], "iat": now, "exp": now + 60}
    key, algorithm = KEY, "HS256"
    if forge == "other key":
        key = "another-key-" + "z" * 40
    elif forge == "no type":
        del claims["typ"]
    elif forge == "both ids":
        claims["uid"] = 1
    text = jwt.encode(
        claims, None if forge == "alg none" else key, algorithm="none" if forge == "alg none" else algorithm
    )
    with pytest.raises(AuthenticationFailed):
        await auth.principal(text)


async def test_verified_principals_are_cached_for_a_few_seconds(
    auth: AuthService, clock: ManualClock
) -> None:
    accounts = auth.accounts
    assert isinstance(accounts, CountingAccounts)
    await auth.ensure_organisation(1)
    _, text = await auth.create_application_token(1)
    bearer = (await auth.authenticate({"application_token": text}, ["127.0.0.1"]))["auth_token"]
    accounts.lookups = 0
    for _ in range(100):
        assert (await auth.principal(bearer)).app_token_id == 1
    assert accounts.lookups == 1
    clock.advance(5000)
    await auth.principal(bearer)
    assert accounts.lookups == 2


async def test_an_expiring_application_token_bounds_its_auth_tokens(
    auth: AuthService, clock: ManualClock
) -> None:
    await auth.ensure_organisation(1)
    _, text = await auth.create_application_token(1, expiry_ms=clock.now_ms() + 2000)
    bearer = (await auth.authenticate({"application_token": text}, ["127.0.0.1"]))["auth_token"]
    await auth.principal(bearer)
    clock.advance(2000)  # inside the cache's 5 s, past the token's expiry
    with pytest.raises(AuthenticationFailed):
        await auth.principal(bearer)


def test_ttl_cache_is_bounded(clock: ManualClock) -> None:
    cache: TtlCache[int] = TtlCache(clock, 1000, max_entries=3)
    for i in range(3):
        cache.put(str(i), i)
    assert cache.get("2") == 2
    cache.put("3", 3)  # full: emptied first
    assert [cache.get(k) for k in "0123"] == [None, None, None, 3]
    cache.put("4", 4, not_after_ms=clock.now_ms() + 10)
    clock.advance(10)
    assert cache.get("4") is None
