"""The AccountStore changes that carry events, on every backend: the change and its events commit together
or not at all (a failing append leaves the account data as it was), and what each change does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cellstream.errors import Conflict, NotFound, StoreError
from cellstream.events.model import Event
from cellstream.store.memory import MemoryAccountStore
from cellstream.store.protocols import (
    USER_ACTIVE,
    USER_DELETED,
    USER_PENDING,
    AccountStore,
    EventStore,
    MfaKey,
    Organisation,
    StaleOrganisation,
)

from .factory import event

Stores = tuple[AccountStore, EventStore]


def clash(org: int = 1) -> Event:
    """An event whose id is taken (see `stored_clash`) with other content: its append fails."""
    return event(org, id=999, type=31, description="other content")


async def stored_clash(events: EventStore, org: int = 1) -> None:
    await events.append([event(org, id=999, type=31, description="first content")])


async def test_organisations_have_the_default_details(accounts_with_events: Stores) -> None:
    accounts, _ = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    assert org == Organisation(1, "Acme", 1)
    assert (org.country_id, org.verification_type_id, org.verification, org.monthly_cost_limit) == (
        None, None, None, None)
    assert (org.currency_id, org.status_id, org.type_id) == (1, 0, 4)
    assert (org.charging_model_id, org.payment_term_id, org.vatin) == (0, 0, None)
    assert await accounts.get_organisation(1) == org


async def test_an_organisation_change_commits_with_its_events(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    result = await accounts.update_organisation(
        org.id, {"name": "Acme Ltd", "country_id": 74, "verification": "DE1", "vatin": "DE2",
                 "charging_model_id": 3}, events=[event(org.id, type=31), event(org.id, type=32)],
        expected=org)
    assert [s.event.type_id for s in result.stored] == [31, 32]
    assert [s.position for s in await events.read_after(0, 10)] == [s.position for s in result.stored]
    stored = await accounts.get_organisation(org.id)
    assert stored == replace(org, name="Acme Ltd", country_id=74, verification="DE1", vatin="DE2",
                             charging_model_id=3)
    cleared = await accounts.update_organisation(org.id, {"verification": None}, events=[])
    assert cleared.stored == []
    assert await accounts.get_organisation(org.id) == replace(stored, verification=None)


async def test_an_organisation_change_whose_events_fail_changes_nothing(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    await stored_clash(events, org.id)
    with pytest.raises(Conflict):
        await accounts.update_organisation(org.id, {"name": "Changed", "vatin": "X"},
                                           events=[event(org.id, type=31), clash(org.id)])
    assert await accounts.get_organisation(org.id) == org
    assert await events.last_position() == 1


async def test_an_organisation_change_on_a_stale_read_is_refused(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    await accounts.update_organisation(org.id, {"name": "First"}, events=[])
    with pytest.raises(StaleOrganisation):
        await accounts.update_organisation(org.id, {"name": "Second"}, events=[event(org.id, type=31)],
                                           expected=org)
    after = await accounts.get_organisation(org.id)
    assert after is not None
    assert after.name == "First"
    assert await events.last_position() == 0


async def test_organisation_changes_need_the_organisation_and_known_fields(
        accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    with pytest.raises(NotFound):
        await accounts.update_organisation(5, {"name": "x"}, events=[event(5, type=31)])
    org = await accounts.create_organisation("Acme", now_ms=1)
    with pytest.raises(ValueError, match="created_ms"):
        await accounts.update_organisation(org.id, {"created_ms": 5}, events=[])
    assert await events.last_position() == 0


async def test_a_pending_user_is_activated_once_with_its_event(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    user = await accounts.create_user(org.id, "ada@example.com", "Ada", "", (2,), now_ms=5,
                                      status=USER_PENDING, activation_digest="d1")
    assert user.status == USER_PENDING
    assert await accounts.find_activation("d1") == user
    assert await accounts.find_activation("d2") is None
    with pytest.raises(NotFound):
        await accounts.activate_user(user.id, "d2", "hash", events=[event(org.id, type=41)])
    result = await accounts.activate_user(user.id, "d1", "hash", events=[event(org.id, type=41)])
    assert [s.event.type_id for s in result.stored] == [41]
    assert await accounts.get_user(user.id) == replace(user, status=USER_ACTIVE, password_hash="hash")
    assert await accounts.find_activation("d1") is None
    with pytest.raises(NotFound):
        await accounts.activate_user(user.id, "d1", "other", events=[event(org.id, type=41)])
    assert await events.last_position() == 1


async def test_an_activation_whose_event_fails_leaves_the_user_pending(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    user = await accounts.create_user(org.id, "ada@example.com", "Ada", "", (2,), now_ms=5,
                                      status=USER_PENDING, activation_digest="d1")
    await stored_clash(events, org.id)
    with pytest.raises(Conflict):
        await accounts.activate_user(user.id, "d1", "hash", events=[clash(org.id)])
    assert await accounts.get_user(user.id) == user
    assert await accounts.find_activation("d1") == user


async def test_a_deleted_user_keeps_its_row_but_frees_its_username(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    other = await accounts.create_organisation("Other", now_ms=1)
    ada = await accounts.create_user(org.id, "Ada@example.com", "Ada", "h", (1,), now_ms=5)
    bob = await accounts.create_user(org.id, "bob@example.com", "Bob", "h", (2,), now_ms=6)
    await accounts.create_mfa_key(ada.id, 0, "SECRET", now_ms=7)
    await accounts.set_membership(ada.id, other.id, (3,))
    result = await accounts.delete_user(ada.id, events=[event(org.id, type=46)])
    assert [s.event.type_id for s in result.stored] == [46]
    assert await accounts.get_user(ada.id) == replace(ada, status=USER_DELETED)
    assert await accounts.find_user("ada@example.com") is None
    assert await accounts.list_mfa_keys(ada.id) == []
    assert await accounts.get_membership(ada.id, other.id) is None
    assert [u.id for u in await accounts.list_users(org.id)] == [ada.id, bob.id]
    with pytest.raises(NotFound):
        await accounts.delete_user(ada.id, events=[event(org.id, type=46)])
    with pytest.raises(NotFound):
        await accounts.delete_user(99, events=[event(org.id, type=46)])
    again = await accounts.create_user(org.id, "ADA@example.com", "Ada again", "h", (1,), now_ms=8)
    assert again.id == 3
    assert await accounts.find_user("ada@example.com") == again
    assert await events.last_position() == 1


async def test_a_deletion_whose_event_fails_keeps_the_user(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    ada = await accounts.create_user(org.id, "ada@example.com", "Ada", "h", (1,), now_ms=5)
    key = await accounts.create_mfa_key(ada.id, 0, "SECRET", now_ms=7)
    await stored_clash(events, org.id)
    with pytest.raises(Conflict):
        await accounts.delete_user(ada.id, events=[event(org.id, type=46), clash(org.id)])
    assert await accounts.get_user(ada.id) == ada
    assert await accounts.find_user("ada@example.com") == ada
    assert await accounts.list_mfa_keys(ada.id) == [key]


async def test_mfa_keys(accounts_with_events: Stores) -> None:
    accounts, events = accounts_with_events
    org = await accounts.create_organisation("Acme", now_ms=1)
    ada = await accounts.create_user(org.id, "ada@example.com", "Ada", "h", (1,), now_ms=5)
    bob = await accounts.create_user(org.id, "bob@example.com", "Bob", "h", (1,), now_ms=5)
    key = await accounts.create_mfa_key(ada.id, 0, "SECRET", now_ms=7)
    assert key == MfaKey(1, ada.id, 0, 0, "SECRET", 7)
    with pytest.raises(Conflict):
        await accounts.create_mfa_key(ada.id, 0, "OTHER", now_ms=8)
    with pytest.raises(NotFound):
        await accounts.create_mfa_key(99, 0, "OTHER", now_ms=8)
    assert await accounts.list_mfa_keys(ada.id) == [key]
    assert await accounts.list_mfa_keys(bob.id) == []
    with pytest.raises(NotFound):
        await accounts.delete_mfa_key(bob.id, key.id, events=[event(org.id, type=14)])
    await stored_clash(events, org.id)
    with pytest.raises(Conflict):
        await accounts.delete_mfa_key(ada.id, key.id, events=[clash(org.id)])
    assert await accounts.list_mfa_keys(ada.id) == [key]
    result = await accounts.delete_mfa_key(ada.id, key.id, events=[event(org.id, type=14)])
    assert [s.event.type_id for s in result.stored] == [14]
    assert await accounts.list_mfa_keys(ada.id) == []


async def test_workspace_memberships(accounts_with_events: Stores) -> None:
    accounts, _ = accounts_with_events
    home = await accounts.create_organisation("Home", now_ms=1)
    other = await accounts.create_organisation("Other", now_ms=1)
    ada = await accounts.create_user(home.id, "ada@example.com", "Ada", "h", (1,), now_ms=5)
    assert await accounts.get_membership(ada.id, other.id) is None
    await accounts.set_membership(ada.id, other.id, (3,))
    assert await accounts.get_membership(ada.id, other.id) == (3,)
    await accounts.set_membership(ada.id, other.id, (1, 3))
    assert await accounts.get_membership(ada.id, other.id) == (1, 3)
    with pytest.raises(NotFound):
        await accounts.set_membership(ada.id, 77, (1,))
    with pytest.raises(NotFound):
        await accounts.set_membership(99, other.id, (1,))


async def test_without_an_event_store_a_change_with_events_fails_and_changes_nothing() -> None:
    accounts = MemoryAccountStore()
    org = await accounts.create_organisation("Acme", now_ms=1)
    with pytest.raises(StoreError):
        await accounts.update_organisation(org.id, {"name": "x"}, events=[event(org.id, type=31)])
    assert await accounts.get_organisation(org.id) == org
    await accounts.update_organisation(org.id, {"name": "x"}, events=[])  # nothing to record: fine
    assert await accounts.get_organisation(org.id) == replace(org, name="x")
