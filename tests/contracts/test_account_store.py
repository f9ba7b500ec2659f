"""The AccountStore contract, run against every implementation (see conftest.py)."""

from __future__ import annotations

import pytest

from cellstream.errors import Conflict, NotFound
from cellstream.store.protocols import AccountStore, ApplicationToken, Organisation, ServiceToken, User


async def test_organisations_get_ids_or_keep_the_given_one(account_store: AccountStore) -> None:
    first = await account_store.create_organisation("Acme", now_ms=1)
    chosen = await account_store.create_organisation("Chosen", org_id=500, now_ms=2)
    after = await account_store.create_organisation("After", now_ms=3)
    assert first == Organisation(1, "Acme", 1)
    assert chosen == Organisation(500, "Chosen", 2)
    assert after.id == 501
    assert await account_store.get_organisation(500) == chosen
    assert await account_store.get_organisation(2) is None


async def test_a_taken_organisation_id_is_a_conflict(account_store: AccountStore) -> None:
    await account_store.create_organisation("Acme", org_id=7, now_ms=1)
    with pytest.raises(Conflict):
        await account_store.create_organisation("Other", org_id=7, now_ms=2)
    assert (await account_store.get_organisation(7)) == Organisation(7, "Acme", 1)


async def test_users_are_found_by_username_in_any_case(account_store: AccountStore) -> None:
    org = await account_store.create_organisation("Acme", now_ms=1)
    ada = await account_store.create_user(org.id, "Ada@Example.com", "Ada", "hash", (1, 2), now_ms=5)
    bob = await account_store.create_user(org.id, "bob@example.com", "Bob", "hash2", (), now_ms=6)
    assert ada == User(1, org.id, "Ada@Example.com", "Ada", "hash", (1, 2), 1, 5)
    assert bob.id == 2
    assert bob.roles == ()
    assert await account_store.get_user(1) == ada
    assert await account_store.get_user(2) == bob
    assert await account_store.get_user(3) is None
    assert await account_store.find_user("ada@example.COM") == ada
    assert await account_store.find_user("nobody@example.com") is None


async def test_a_username_taken_in_any_case_is_a_conflict(account_store: AccountStore) -> None:
    org = await account_store.create_organisation("Acme", now_ms=1)
    other = await account_store.create_organisation("Other", now_ms=1)
    await account_store.create_user(org.id, "ada@example.com", "Ada", "h", (1,), now_ms=1)
    with pytest.raises(Conflict):
        await account_store.create_user(other.id, "ADA@example.com", "Ada 2", "h", (1,), now_ms=2)
    found = await account_store.find_user("ada@EXAMPLE.com")
    assert found is not None
    assert found.name == "Ada"


async def test_a_user_needs_an_existing_organisation(account_store: AccountStore) -> None:
    with pytest.raises(NotFound):
        await account_store.create_user(99, "ada@example.com", "Ada", "h", (1,), now_ms=1)
    assert await account_store.find_user("ada@example.com") is None


async def test_login_state_is_updated(account_store: AccountStore) -> None:
    org = await account_store.create_organisation("Acme", now_ms=1)
    user = await account_store.create_user(org.id, "ada@example.com", "Ada", "h", (1,), now_ms=1)
    await account_store.update_login_state(user.id, 3, 123_456)
    stored = await account_store.get_user(user.id)
    assert stored is not None
    assert (stored.failed_logins, stored.locked_until_ms) == (3, 123_456)
    with pytest.raises(NotFound):
        await account_store.update_login_state(99, 1, 0)


async def test_application_tokens(account_store: AccountStore) -> None:
    org = await account_store.create_organisation("Acme", now_ms=1)
    other = await account_store.create_organisation("Other", now_ms=1)
    first = await account_store.create_application_token(org.id, "ci", "secret-hash", now_ms=10)
    second = await account_store.create_application_token(
        org.id, "ops", "h2", now_ms=11, expiry_ms=99, ip="10.0.0.0/8", creator_user_id=4)
    theirs = await account_store.create_application_token(other.id, "theirs", "h3", now_ms=12)
    assert first == ApplicationToken(1, org.id, "ci", "secret-hash", 0, 10)
    assert second == ApplicationToken(2, org.id, "ops", "h2", 0, 11, 99, "10.0.0.0/8", 4)
    assert await account_store.get_application_token(2) == second
    assert await account_store.get_application_token(9) is None
    assert await account_store.list_application_tokens(org.id) == [first, second]
    assert await account_store.list_application_tokens(other.id) == [theirs]
    assert await account_store.list_application_tokens(99) == []


async def test_updating_an_application_token(account_store: AccountStore) -> None:
    org = await account_store.create_organisation("Acme", now_ms=1)
    other = await account_store.create_organisation("Other", now_ms=1)
    token = await account_store.create_application_token(org.id, "ci", "h", now_ms=10)
    revoked = await account_store.update_application_token(org.id, token.id, status=1)
    assert revoked is not None
    assert (revoked.status, revoked.description) == (1, "ci")
    renamed = await account_store.update_application_token(org.id, token.id, description="deploys")
    assert renamed is not None
    assert (renamed.status, renamed.description) == (1, "deploys")
    assert await account_store.get_application_token(token.id) == renamed
    assert await account_store.update_application_token(other.id, token.id, status=0) is None
    assert await account_store.update_application_token(org.id, 99, status=0) is None
    assert await account_store.get_application_token(token.id) == renamed


async def test_an_application_token_needs_an_existing_organisation(account_store: AccountStore) -> None:
    with pytest.raises(NotFound):
        await account_store.create_application_token(99, "ci", "h", now_ms=1)


async def test_service_tokens(account_store: AccountStore) -> None:
    first = await account_store.create_service_token("simulator", "h1", now_ms=5)
    second = await account_store.create_service_token("ingest", "h2", now_ms=6)
    assert first == ServiceToken(1, "simulator", "h1", 5)
    assert second.id == 2
    assert not second.revoked
    assert await account_store.get_service_token(1) == first
    assert await account_store.get_service_token(3) is None
